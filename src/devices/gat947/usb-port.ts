/**
 * The part of node-usb's Device / Interface / Endpoint that the GA/T 947.4 driver
 * uses. Only `usb-adapter.ts` imports `usb`; it hands real devices over in this shape,
 * and the tests' simulated recorder implements the same shape.
 */

/** A libusb failure as node-usb reports it: `errno` is a LIBUSB_ERROR_* (< 0) or a LIBUSB_TRANSFER_* status (> 0). */
export interface UsbError extends Error {
  errno?: number;
}

export interface UsbEndpointPort {
  address: number;
  direction: 'in' | 'out';
  /** 2: bulk. */
  transferType: number;
  /** Milliseconds libusb waits for a transfer (0: forever, which this driver never uses). */
  timeout: number;
  clearHalt(callback: (error: UsbError | undefined) => void): void;
}

export interface UsbInEndpointPort extends UsbEndpointPort {
  transfer(length: number, callback: (error: UsbError | undefined, data?: Buffer) => void): unknown;
}

export interface UsbOutEndpointPort extends UsbEndpointPort {
  transfer(buffer: Buffer, callback?: (error: UsbError | undefined, actual: number) => void): unknown;
}

export interface UsbInterfacePort {
  interfaceNumber: number;
  descriptor: { bInterfaceClass: number; bInterfaceSubClass: number; bInterfaceProtocol: number };
  endpoints: UsbEndpointPort[];
  claim(): void;
  release(callback?: (error?: UsbError) => void): void;
  isKernelDriverActive(): boolean;
  detachKernelDriver(): void;
  attachKernelDriver(): void;
}

export interface UsbDevicePort {
  deviceDescriptor: { idVendor: number; idProduct: number };
  busNumber: number;
  deviceAddress: number;
  /** Set once the device is open. */
  interfaces: UsbInterfacePort[] | undefined;
  open(defaultConfig?: boolean): void;
  close(): void;
  controlTransfer(
    bmRequestType: number,
    bRequest: number,
    wValue: number,
    wIndex: number,
    dataOrLength: number | Buffer,
    callback?: (error: UsbError | undefined, buffer: Buffer | number | undefined) => void,
  ): unknown;
}

/** Finds a USB device by where it sits on the bus (what sysfs and hotplug events name). */
export type UsbDeviceFinder = (busNumber: number, deviceAddress: number) => Promise<UsbDevicePort | null>;

export const USB_CLASS_MASS_STORAGE = 0x08;
export const USB_TRANSFER_TYPE_BULK = 2;

/** libusb codes the driver tells apart (node-usb passes them as `errno`). */
export const LIBUSB = {
  ERROR_IO: -1,
  ERROR_ACCESS: -3,
  ERROR_NO_DEVICE: -4,
  ERROR_NOT_FOUND: -5,
  ERROR_BUSY: -6,
  ERROR_TIMEOUT: -7,
  ERROR_PIPE: -9,
  TRANSFER_ERROR: 1,
  TRANSFER_TIMED_OUT: 2,
  TRANSFER_CANCELLED: 3,
  TRANSFER_STALL: 4,
  TRANSFER_NO_DEVICE: 5,
  TRANSFER_OVERFLOW: 6,
} as const;

export function isInEndpoint(e: UsbEndpointPort): e is UsbInEndpointPort {
  return e.direction === 'in';
}

export function isOutEndpoint(e: UsbEndpointPort): e is UsbOutEndpointPort {
  return e.direction === 'out';
}
