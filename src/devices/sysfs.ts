import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The USB device behind a mount, as sysfs describes it. */
export interface UsbDeviceInfo {
  vendorId: number;
  productId: number;
  /** The device's iSerial string, when it has one (many recorders report their serial here). */
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
  /** Bus number and device address: what a USB detach event names. */
  busNumber: number | null;
  deviceAddress: number | null;
  /** Kernel name of the USB device, e.g. "1-2.4" (bus 1, port 2, hub port 4). */
  kernelName: string;
}

async function attr(dir: string, name: string): Promise<string | null> {
  try {
    const v = (await readFile(join(dir, name), 'utf8')).trim();
    return v === '' ? null : v;
  } catch {
    return null;
  }
}

/**
 * Find the USB device that holds block device major:minor, by resolving
 * /sys/dev/block/<major>:<minor> and walking up to the first folder with idVendor and
 * idProduct. Null when the block device is not on USB (an internal disk, a loop or
 * virtual device) or when sysfs is not there.
 *
 *   /sys/dev/block/8:17 -> /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/
 *                          target6:0:0/6:0:0:0/block/sdb/sdb1
 *   the USB device is /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2
 */
export async function usbDeviceForBlock(major: number, minor: number, sysRoot = '/sys'): Promise<UsbDeviceInfo | null> {
  let dir: string;
  try {
    dir = await realpath(join(sysRoot, 'dev', 'block', `${major}:${minor}`));
  } catch {
    return null;
  }
  const top = join(sysRoot, 'devices');
  // The realpath of sysRoot itself, so a sysRoot given through a symlink still bounds the walk.
  const realTop = await realpath(top).catch(() => top);
  while (dir.startsWith(realTop + '/') && dir !== realTop) {
    const vendor = await attr(dir, 'idVendor');
    const product = await attr(dir, 'idProduct');
    if (vendor && product && /^[0-9a-f]{4}$/i.test(vendor) && /^[0-9a-f]{4}$/i.test(product)) {
      const busnum = await attr(dir, 'busnum');
      const devnum = await attr(dir, 'devnum');
      return {
        vendorId: parseInt(vendor, 16),
        productId: parseInt(product, 16),
        serial: await attr(dir, 'serial'),
        manufacturer: await attr(dir, 'manufacturer'),
        product: await attr(dir, 'product'),
        busNumber: busnum !== null && /^\d+$/.test(busnum) ? Number(busnum) : null,
        deviceAddress: devnum !== null && /^\d+$/.test(devnum) ? Number(devnum) : null,
        kernelName: basename(dir),
      };
    }
    dir = dirname(dir);
  }
  return null;
}
