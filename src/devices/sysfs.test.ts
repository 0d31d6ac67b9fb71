import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { usbDeviceForBlock } from './sysfs.js';

/** A slice of a real sysfs: a USB recorder whose storage is sdb1 (8:17), and a virtual disk (7:0). */
async function fakeSysfs(root: string, attrs: Record<string, string>): Promise<void> {
  const usbDev = join(root, 'devices/pci0000:00/0000:00:14.0/usb1/1-2');
  const part = join(usbDev, '1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1');
  await mkdir(part, { recursive: true });
  for (const [k, v] of Object.entries(attrs)) await writeFile(join(usbDev, k), v + '\n');
  // The interface folder has class attributes but no idVendor: the walk must pass it.
  await writeFile(join(usbDev, '1-2:1.0', 'bInterfaceClass'), '08\n');
  await writeFile(join(part, 'dev'), '8:17\n');
  // The root hub has ids too; the walk must stop at the first (nearest) device.
  await writeFile(join(root, 'devices/pci0000:00/0000:00:14.0/usb1/idVendor'), '1d6b\n');
  await writeFile(join(root, 'devices/pci0000:00/0000:00:14.0/usb1/idProduct'), '0002\n');
  const loop = join(root, 'devices/virtual/block/loop0');
  await mkdir(loop, { recursive: true });
  await mkdir(join(root, 'dev/block'), { recursive: true });
  await symlink(relative(join(root, 'dev/block'), part), join(root, 'dev/block/8:17'));
  await symlink(relative(join(root, 'dev/block'), loop), join(root, 'dev/block/7:0'));
}

describe('usbDeviceForBlock', () => {
  it('walks from the partition up to its USB device and reads its ids, serial and address', async () => {
    const sys = await tempDir();
    await fakeSysfs(sys, { idVendor: '2a7c', idProduct: '0b01', serial: 'ZFY0042', manufacturer: 'Vendor', product: 'DSJ-X1', busnum: '1', devnum: '7' });
    expect(await usbDeviceForBlock(8, 17, sys)).toEqual({
      vendorId: 0x2a7c,
      productId: 0x0b01,
      serial: 'ZFY0042',
      manufacturer: 'Vendor',
      product: 'DSJ-X1',
      busNumber: 1,
      deviceAddress: 7,
      kernelName: '1-2',
    });
  });

  it('gives null serial and names when the device has none', async () => {
    const sys = await tempDir();
    await fakeSysfs(sys, { idVendor: '2a7c', idProduct: '0b01' });
    expect(await usbDeviceForBlock(8, 17, sys)).toMatchObject({ serial: null, manufacturer: null, busNumber: null, deviceAddress: null });
  });

  it('gives null for a block device that is not on USB, or unknown to sysfs', async () => {
    const sys = await tempDir();
    await fakeSysfs(sys, { idVendor: '2a7c', idProduct: '0b01' });
    expect(await usbDeviceForBlock(7, 0, sys)).toBeNull();
    expect(await usbDeviceForBlock(8, 99, sys)).toBeNull();
    expect(await usbDeviceForBlock(8, 17, join(sys, 'nowhere'))).toBeNull();
  });
});
