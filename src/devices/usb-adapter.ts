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

export interface UsbWatcherOptions {
  log: Logger;
  onAttach: (d: UsbDeviceRef) => void;
  onDetach: (d: UsbDeviceRef) => void;
  /** The folder of USB device nodes (Linux); its absence means no USB bus here. */
  busDir?: string;
}

type UsbModule = typeof import('usb');
type UsbDevice = InstanceType<UsbModule['usb']['Device']>;

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
  private usb: UsbModule['usb'] | null = null;
  private readonly attach = (d: UsbDevice): void => this.safe(() => this.opts.onAttach(ref(d)));
  private readonly detach = (d: UsbDevice): void => this.safe(() => this.opts.onDetach(ref(d)));

  constructor(private readonly opts: UsbWatcherOptions) {}

  /** Start listening; resolves with the devices present now, or null when USB is not available. */
  async start(): Promise<UsbDeviceRef[] | null> {
    const busDir = this.opts.busDir ?? '/dev/bus/usb';
    if (process.platform === 'linux') {
      try {
        await access(busDir, constants.R_OK | constants.X_OK);
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no USB bus (${busDir} is missing)` : `no permission to read ${busDir}`;
        this.opts.log.warn({ busDir, code: (e as NodeJS.ErrnoException).code }, `${why}: USB detection is off; recorders are found by their mounts`);
        return null;
      }
    }
    try {
      const mod = await import('usb');
      if (mod.usb.INIT_ERROR) throw new Error(`libusb failed to initialise (error ${mod.usb.INIT_ERROR})`);
      const present = mod.usb.getDeviceList().map(ref);
      mod.usb.on('attach', this.attach);
      mod.usb.on('detach', this.detach);
      // Hotplug must not keep a stopping process alive.
      mod.usb.unrefHotplugEvents();
      this.usb = mod.usb;
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
export async function findUsbDevice(busNumber: number, deviceAddress: number): Promise<UsbDevicePort | null> {
  const mod = await import('usb');
  if (mod.usb.INIT_ERROR) return null;
  const found = mod.usb.getDeviceList().find((d) => d.busNumber === busNumber && d.deviceAddress === deviceAddress);
  if (!found) return null;
  // node-usb's Device satisfies the port; the assignment checks it at compile time.
  const port: UsbDevicePort = found;
  return port;
}
