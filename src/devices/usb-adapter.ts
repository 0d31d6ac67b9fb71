import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { errorMessage, type Logger } from '../core/index.js';
import type { UsbDevicePort } from './gat947/usb-port.js';

/** A USB device as attach/detach events name it (no SDK types leave this file). */
export interface UsbDeviceRef {
  vendorId: number;
  productId: number;
  busNumber: number;
  deviceAddress: number;
  /** Port path from the root hub (sysfs names the device "<bus>-<ports joined by .>"). */
  portNumbers?: number[];
  /** bInterfaceClass of each interface of the active configuration, when libusb could read it. */
  interfaceClasses?: number[];
}

/** A device as the USB backend lists it: node-usb's Device, as far as custody uses it. */
export type UsbBackendDevice = UsbDevicePort & {
  portNumbers?: number[];
  configDescriptor?: { interfaces: Array<Array<{ bInterfaceClass: number }>> } | undefined;
};

/**
 * The USB bus as custody uses it: node-usb's `usb` object (the device list and hotplug
 * events). The daemon uses libusb through `usb`; a process that embeds the daemon
 * (`createDaemon`'s `host`, the end-to-end tests) may give another object of this shape.
 */
export interface UsbBackend {
  INIT_ERROR?: number | undefined;
  getDeviceList(): UsbBackendDevice[];
  on(event: 'attach' | 'detach', listener: (d: UsbBackendDevice) => void): unknown;
  off(event: 'attach' | 'detach', listener: (d: UsbBackendDevice) => void): unknown;
  unrefHotplugEvents?(): void;
}

export interface UsbWatcherOptions {
  log: Logger;
  onAttach: (d: UsbDeviceRef) => void;
  onDetach: (d: UsbDeviceRef) => void;
  /** The folder of USB device nodes (Linux); its absence means no USB bus here. */
  busDir?: string;
  /** The USB bus; default: libusb through `usb`, imported at start. */
  backend?: UsbBackend;
}

type UsbDevice = UsbBackendDevice;

/** node-usb's `usb`, imported on first use (a station without USB never loads libusb). */
async function libusb(): Promise<UsbBackend> {
  const mod = await import('usb');
  return mod.usb;
}

function ref(d: UsbDevice): UsbDeviceRef {
  let interfaceClasses: number[] | undefined;
  try {
    // Descriptors come from the kernel's copy: no need to open the device.
    interfaceClasses = d.configDescriptor?.interfaces.flatMap((alts) => alts.map((a) => a.bInterfaceClass));
  } catch {
    interfaceClasses = undefined;
  }
  return {
    vendorId: d.deviceDescriptor.idVendor,
    productId: d.deviceDescriptor.idProduct,
    busNumber: d.busNumber,
    deviceAddress: d.deviceAddress,
    portNumbers: d.portNumbers,
    ...(interfaceClasses ? { interfaceClasses } : {}),
  };
}

/**
 * USB attach/detach through libusb (the `usb` package). The only module that imports
 * `usb`, and it does so at start, not at import: a machine without a USB bus or
 * without permission (a container, CI) gets one warning and no USB events, and mount
 * discovery carries on without them.
 */
export class UsbWatcher {
  private usb: UsbBackend | null = null;
  private readonly attach = (d: UsbDevice): void => this.safe(() => this.opts.onAttach(ref(d)));
  private readonly detach = (d: UsbDevice): void => this.safe(() => this.opts.onDetach(ref(d)));

  constructor(private readonly opts: UsbWatcherOptions) {}

  /** Start listening; resolves with the devices present now, or null when USB is not available. */
  async start(): Promise<UsbDeviceRef[] | null> {
    const busDir = this.opts.busDir ?? '/dev/bus/usb';
    if (process.platform === 'linux' && !this.opts.backend) {
      try {
        await access(busDir, constants.R_OK | constants.X_OK);
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no USB bus (${busDir} is missing)` : `no permission to read ${busDir}`;
        this.opts.log.warn({ busDir, code: (e as NodeJS.ErrnoException).code }, `${why}: USB detection is off; recorders are found by their mounts`);
        return null;
      }
    }
    try {
      const usb = this.opts.backend ?? (await libusb());
      if (usb.INIT_ERROR) throw new Error(`libusb failed to initialise (error ${usb.INIT_ERROR})`);
      const present = usb.getDeviceList().map(ref);
      usb.on('attach', this.attach);
      usb.on('detach', this.detach);
      // Hotplug must not keep a stopping process alive.
      usb.unrefHotplugEvents?.();
      this.usb = usb;
      return present;
    } catch (e) {
      this.opts.log.warn({ err: e }, `USB is not available (${errorMessage(e)}): USB detection is off; recorders are found by their mounts`);
      return null;
    }
  }

  stop(): void {
    if (!this.usb) return;
    // Removing the last listener stops libusb's hotplug thread.
    this.usb.off('attach', this.attach);
    this.usb.off('detach', this.detach);
    this.usb = null;
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.log.error({ err: e }, 'USB event handler failed');
    }
  }
}

/**
 * The USB device at `busNumber`/`deviceAddress`, as the GA/T 947.4 driver's port sees
 * it (node-usb's Device has that shape), or null when it is not there. Imports `usb`
 * only when called: a station without USB never loads libusb.
 */
export async function findUsbDevice(busNumber: number, deviceAddress: number, backend?: UsbBackend): Promise<UsbDevicePort | null> {
  const usb = backend ?? (await libusb());
  if (usb.INIT_ERROR) return null;
  const found = usb.getDeviceList().find((d) => d.busNumber === busNumber && d.deviceAddress === deviceAddress);
  return found ?? null;
}
