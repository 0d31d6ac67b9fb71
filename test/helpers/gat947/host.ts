import { EventEmitter } from 'node:events';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { UsbBackend, UsbBackendDevice } from '../../../src/devices/usb-adapter.js';

/**
 * The machine as custody reads it, in a folder (test-only): a USB bus with hotplug
 * events (node-usb's `usb` shape), sysfs, and a mount table. A recorder is plugged
 * into a port, re-enumerates, and has its storage "mounted" by writing the lines the
 * kernel would; files are real under `media`.
 */
export class SimUsbBus implements UsbBackend {
  private readonly events = new EventEmitter();
  private readonly devices: UsbBackendDevice[] = [];

  getDeviceList(): UsbBackendDevice[] {
    return [...this.devices];
  }

  on(event: 'attach' | 'detach', listener: (d: UsbBackendDevice) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'attach' | 'detach', listener: (d: UsbBackendDevice) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** On the bus before anyone listens (present at start). */
  present(d: UsbBackendDevice): void {
    this.devices.push(d);
  }

  plug(d: UsbBackendDevice): void {
    this.devices.push(d);
    this.events.emit('attach', d);
  }

  unplug(d: UsbBackendDevice): void {
    const i = this.devices.indexOf(d);
    if (i >= 0) this.devices.splice(i, 1);
    this.events.emit('detach', d);
  }
}

/** A plain USB mass-storage device (what a recorder becomes after SetMSDC): descriptors only. */
export function massStorageDevice(o: { vendorId: number; productId: number; busNumber: number; deviceAddress: number; portNumbers: number[] }): UsbBackendDevice {
  return {
    deviceDescriptor: { idVendor: o.vendorId, idProduct: o.productId },
    busNumber: o.busNumber,
    deviceAddress: o.deviceAddress,
    portNumbers: o.portNumbers,
    configDescriptor: { interfaces: [[{ bInterfaceClass: 8 }]] },
    interfaces: undefined,
    open() {
      throw Object.assign(new Error('LIBUSB_ERROR_ACCESS'), { errno: -3 });
    },
    close() {},
    controlTransfer() {
      return undefined;
    },
  };
}

const ROOT_LINE = '28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n';

export class SimHostFiles {
  readonly sys: string;
  readonly mountinfo: string;
  private readonly mounts = new Map<string, string>();

  constructor(readonly dir: string) {
    this.sys = join(dir, 'sys');
    this.mountinfo = join(dir, 'mountinfo');
  }

  async init(): Promise<this> {
    await mkdir(join(this.sys, 'dev/block'), { recursive: true });
    await mkdir(join(this.sys, 'bus/usb/devices'), { recursive: true });
    await this.writeTable();
    return this;
  }

  private usbDir(port: string): string {
    return join(this.sys, 'devices/pci0000:00/0000:00:14.0/usb1', port);
  }

  /** The USB device at `port` in sysfs (/sys/bus/usb/devices/<port> links to it), with these attributes. */
  async usbDevice(port: string, attrs: Record<string, string>): Promise<void> {
    const dir = this.usbDir(port);
    await mkdir(dir, { recursive: true });
    for (const [k, v] of Object.entries(attrs)) await writeFile(join(dir, k), v + '\n');
    await symlink(relative(join(this.sys, 'bus/usb/devices'), dir), join(this.sys, 'bus/usb/devices', port)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }

  /** Block device 8:<minor> on the USB device at `port`, mounted at `mountPoint` (vfat). */
  async mount(port: string, minor: number, mountPoint: string): Promise<void> {
    const part = join(this.usbDir(port), `${port}:1.0/host6/target6:0:0/6:0:0:0/block/sd${minor}/sd${minor}1`);
    await mkdir(part, { recursive: true });
    await symlink(relative(join(this.sys, 'dev/block'), part), join(this.sys, `dev/block/8:${minor}`)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    this.mounts.set(mountPoint, `${500 + minor} 28 8:${minor} / ${mountPoint} rw,nosuid,nodev shared:${400 + minor} - vfat /dev/sd${minor}1 rw\n`);
    await this.writeTable();
  }

  async unmount(mountPoint: string): Promise<void> {
    this.mounts.delete(mountPoint);
    await this.writeTable();
    await rm(mountPoint, { recursive: true, force: true });
  }

  private async writeTable(): Promise<void> {
    await writeFile(this.mountinfo, ROOT_LINE + [...this.mounts.values()].join(''));
  }
}
