import { gbkField } from '../../../src/devices/gat947/zfy-info.js';
import { encodeZfyInfo } from '../../../src/devices/gat947/zfy-info.js';
import type { UsbDevicePort, UsbEndpointPort, UsbError, UsbInterfacePort } from '../../../src/devices/gat947/usb-port.js';
import { gbk, SimRecorderState } from './state.js';

/**
 * A simulated GA/T 947.4 recorder at the node-usb boundary: an object with node-usb's
 * Device / Interface / Endpoint shape that speaks USB mass-storage Bulk-Only Transport
 * and the vendor commands of the reference (cdb[0] 0xFB write / 0xFD read, cdb[1]
 * 0x82 / 0x81, cdb[5] command, cdb[7] length), with faults to inject. Test-only.
 */

export type UsbFault =
  /** The endpoint stalls (CBW out, data, or the CSW read). */
  | 'stall'
  /** The data phase moves half the bytes, the CSW says success. */
  | 'short'
  /** The CSW carries another command's tag. */
  | 'wrong-tag'
  /** The CSW is not one (bad signature). */
  | 'bad-csw'
  /** CSW status 1 (failed) or 2 (phase error). */
  | 'csw-failed'
  | 'phase-error'
  /** libusb reports a timeout after the endpoint's timeout. */
  | 'timeout'
  /** The callback never comes (a wedged stack): only the driver's own guard ends it. */
  | 'hang'
  /** The recorder is pulled: this and every later transfer fail with NO_DEVICE. */
  | 'gone';

export interface InjectedFault {
  fault: UsbFault;
  /** Which phase of a command (default: the first transfer after injection). */
  phase?: 'cbw' | 'data' | 'csw';
  /** Only a command with this cdb[5] (default: any). */
  command?: number;
}

export const SIM_COMMANDS = {
  getIdCode: 2,
  getDevInfo: 3,
  syncDevTime: 5,
  setMsdc: 6,
  readBattery: 8,
  getSdStatus: 0x0c,
  getTime: 0x20,
  getReturnStatus: 0x0e,
} as const;

const LIBUSB_TRANSFER_TIMED_OUT = 2;
const LIBUSB_TRANSFER_STALL = 4;
const LIBUSB_TRANSFER_NO_DEVICE = 5;
const LIBUSB_ERROR_NO_DEVICE = -4;
const LIBUSB_ERROR_ACCESS = -3;

function usbError(errno: number, name: string): UsbError {
  return Object.assign(new Error(name), { errno });
}

interface Pending {
  tag: number;
  command: number;
  expected: number;
  dirIn: boolean;
  reply: Buffer | null;
  status: number;
  residue: number;
  stallData: boolean;
}

export interface SimUsbOptions {
  busNumber?: number;
  deviceAddress?: number;
  vendorId?: number;
  productId?: number;
  passwordBytes?: number;
  /** Opening fails with LIBUSB_ERROR_ACCESS (no udev rule). */
  accessDenied?: boolean;
  /** The kernel's usb-storage driver is bound when the device is opened. */
  kernelDriverActive?: boolean;
  /** Its port path from the root hub (sysfs names it "<bus>-<ports joined by .>"); default [2]. */
  portNumbers?: number[];
}

export class SimUsbRecorder implements UsbDevicePort {
  deviceDescriptor: { idVendor: number; idProduct: number };
  busNumber: number;
  deviceAddress: number;
  portNumbers: number[];
  interfaces: UsbInterfacePort[] | undefined;
  readonly iface: SimInterface;
  readonly faults: InjectedFault[] = [];
  /** What happened, for assertions: opens, closes, resets, clears, detaches and attaches. */
  readonly events: string[] = [];
  gone = false;
  isOpen = false;
  private stage: 'cbw' | 'data' | 'csw' = 'cbw';
  private pending: Pending | null = null;
  private lastRet = 0;
  private authorised = new Set<number>();
  readonly passwordBytes: number;

  constructor(
    readonly state: SimRecorderState,
    private readonly o: SimUsbOptions = {},
  ) {
    this.deviceDescriptor = { idVendor: o.vendorId ?? 0x1234, idProduct: o.productId ?? 0x5678 };
    this.busNumber = o.busNumber ?? 1;
    this.deviceAddress = o.deviceAddress ?? 7;
    this.portNumbers = o.portNumbers ?? [2];
    this.passwordBytes = o.passwordBytes ?? 16;
    this.iface = new SimInterface(this, o.kernelDriverActive ?? true);
  }

  /** node-usb's descriptor of the active configuration, as the kernel has it (no open needed). */
  get configDescriptor(): { interfaces: Array<Array<{ bInterfaceClass: number }>> } {
    return { interfaces: [[{ bInterfaceClass: this.iface.descriptor.bInterfaceClass }]] };
  }

  inject(f: InjectedFault): void {
    this.faults.push(f);
  }

  /** The recorder is pulled now. */
  unplug(): void {
    this.gone = true;
  }

  open(): void {
    if (this.gone) throw usbError(LIBUSB_ERROR_NO_DEVICE, 'LIBUSB_ERROR_NO_DEVICE');
    if (this.o.accessDenied) throw usbError(LIBUSB_ERROR_ACCESS, 'LIBUSB_ERROR_ACCESS');
    this.isOpen = true;
    this.interfaces = [this.iface];
    this.events.push('open');
  }

  close(): void {
    this.isOpen = false;
    this.interfaces = undefined;
    this.events.push('close');
  }

  controlTransfer(bmRequestType: number, bRequest: number, _wValue: number, _wIndex: number, _d: number | Buffer, cb?: (e: UsbError | undefined, b: Buffer | number | undefined) => void): this {
    queueMicrotask(() => {
      if (this.gone) return cb?.(usbError(LIBUSB_ERROR_NO_DEVICE, 'LIBUSB_ERROR_NO_DEVICE'), undefined);
      if (bmRequestType === 0x21 && bRequest === 0xff) {
        this.events.push('reset');
        this.stage = 'cbw';
        this.pending = null;
      }
      cb?.(undefined, 0);
    });
    return this;
  }

  private takeFault(phase: 'cbw' | 'data' | 'csw', command: number | null): UsbFault | null {
    const i = this.faults.findIndex((f) => (f.phase === undefined || f.phase === phase) && (f.command === undefined || f.command === command));
    if (i === -1) return null;
    const [f] = this.faults.splice(i, 1);
    return f!.fault;
  }

  /** A transfer's fate under an injected fault: an error to report, 'hang', or null to go on. */
  private faultFor(phase: 'cbw' | 'data' | 'csw', command: number | null): UsbError | 'hang' | UsbFault | null {
    if (this.gone) return usbError(LIBUSB_TRANSFER_NO_DEVICE, 'LIBUSB_TRANSFER_NO_DEVICE');
    const f = this.takeFault(phase, command);
    if (f === null) return null;
    if (f === 'gone') {
      this.gone = true;
      return usbError(LIBUSB_TRANSFER_NO_DEVICE, 'LIBUSB_TRANSFER_NO_DEVICE');
    }
    if (f === 'hang') return 'hang';
    if (f === 'stall') return usbError(LIBUSB_TRANSFER_STALL, 'LIBUSB_TRANSFER_STALL');
    if (f === 'timeout') return usbError(LIBUSB_TRANSFER_TIMED_OUT, 'LIBUSB_TRANSFER_TIMED_OUT');
    return f;
  }

  /** Host → device on the bulk OUT endpoint. */
  out(buf: Buffer, timeout: number, cb: (e: UsbError | undefined, actual: number) => void): void {
    const phase = this.stage === 'data' ? 'data' : 'cbw';
    const f = this.faultFor(phase, phase === 'cbw' ? (buf.length === 31 ? buf[15 + 5]! : null) : (this.pending?.command ?? null));
    if (f === 'hang') return;
    if (f === 'timeout' || (f instanceof Error && f.errno === LIBUSB_TRANSFER_TIMED_OUT)) {
      setTimeout(() => cb(usbError(LIBUSB_TRANSFER_TIMED_OUT, 'LIBUSB_TRANSFER_TIMED_OUT'), 0), timeout).unref();
      return;
    }
    if (f instanceof Error) {
      if (f.errno === LIBUSB_TRANSFER_STALL && phase === 'data' && this.pending) {
        // A refused data phase: the command failed, its CSW follows.
        this.pending.status = 1;
        this.pending.residue = this.pending.expected;
        this.stage = 'csw';
      }
      return void queueMicrotask(() => cb(f, 0));
    }
    queueMicrotask(() => {
      if (this.stage === 'cbw') {
        this.acceptCbw(buf);
        cb(undefined, buf.length);
      } else if (this.stage === 'data' && this.pending && !this.pending.dirIn) {
        const n = f === 'short' ? Math.floor(buf.length / 2) : buf.length;
        this.acceptOut(buf.subarray(0, n));
        cb(undefined, n);
      } else {
        cb(usbError(LIBUSB_TRANSFER_STALL, 'LIBUSB_TRANSFER_STALL'), 0);
      }
    });
  }

  /** Device → host on the bulk IN endpoint. */
  in(length: number, timeout: number, cb: (e: UsbError | undefined, data?: Buffer) => void): void {
    const phase = this.stage === 'csw' ? 'csw' : 'data';
    const f = this.faultFor(phase, this.pending?.command ?? null);
    if (f === 'hang') return;
    if (f instanceof Error && f.errno === LIBUSB_TRANSFER_TIMED_OUT) {
      setTimeout(() => cb(f), timeout).unref();
      return;
    }
    if (f instanceof Error) {
      if (f.errno === LIBUSB_TRANSFER_STALL && phase === 'data' && this.pending) {
        // A stalled data phase: the command failed, its CSW follows.
        this.pending.status = 1;
        this.pending.residue = this.pending.expected;
        this.stage = 'csw';
      }
      return void queueMicrotask(() => cb(f));
    }
    queueMicrotask(() => {
      const p = this.pending;
      if (!p) return cb(usbError(LIBUSB_TRANSFER_STALL, 'LIBUSB_TRANSFER_STALL'));
      if (this.stage === 'data' && p.dirIn) {
        if (p.stallData) {
          this.stage = 'csw';
          return cb(usbError(LIBUSB_TRANSFER_STALL, 'LIBUSB_TRANSFER_STALL'));
        }
        let data = (p.reply ?? Buffer.alloc(0)).subarray(0, Math.min(length, p.expected));
        if (f === 'short') data = data.subarray(0, Math.floor(data.length / 2));
        p.residue = p.expected - data.length;
        this.stage = 'csw';
        return cb(undefined, Buffer.from(data));
      }
      if (this.stage === 'csw') {
        const csw = Buffer.alloc(13);
        csw.writeUInt32LE(f === 'bad-csw' ? 0xdeadbeef : 0x53425355, 0);
        csw.writeUInt32LE(f === 'wrong-tag' ? (p.tag + 1) >>> 0 : p.tag, 4);
        csw.writeUInt32LE(p.residue, 8);
        csw[12] = f === 'csw-failed' ? 1 : f === 'phase-error' ? 2 : p.status;
        this.stage = 'cbw';
        this.pending = null;
        return cb(undefined, csw);
      }
      cb(usbError(LIBUSB_TRANSFER_STALL, 'LIBUSB_TRANSFER_STALL'));
    });
  }

  private acceptCbw(cbw: Buffer): void {
    const ok = cbw.length === 31 && cbw.readUInt32LE(0) === 0x43425355;
    const tag = ok ? cbw.readUInt32LE(4) : 0;
    const expected = ok ? cbw.readUInt32LE(8) : 0;
    const dirIn = ok && (cbw[12]! & 0x80) !== 0;
    const cdb = ok ? cbw.subarray(15, 15 + cbw[14]!) : Buffer.alloc(16);
    const p: Pending = { tag, command: cdb[5] ?? 0, expected, dirIn, reply: null, status: 0, residue: 0, stallData: false };
    this.pending = p;
    if (!ok) {
      p.status = 2;
      this.stage = 'csw';
      return;
    }
    if (cdb[0] === 0xfd && cdb[1] === 0x81 && dirIn) {
      const reply = this.answer(p.command);
      if (reply === null) {
        p.stallData = true;
        p.status = 1;
        p.residue = expected;
      } else p.reply = reply;
      this.stage = expected > 0 ? 'data' : 'csw';
    } else if (cdb[0] === 0xfb && cdb[1] === 0x82 && !dirIn) {
      this.stage = expected > 0 ? 'data' : 'csw';
    } else {
      // Not a command this recorder knows: it fails, with no data.
      p.status = 1;
      p.residue = expected;
      p.stallData = dirIn;
      this.stage = expected > 0 && dirIn ? 'data' : 'csw';
    }
  }

  private acceptOut(payload: Buffer): void {
    const p = this.pending!;
    p.residue = p.expected - payload.length;
    this.stage = 'csw';
    const pwd = gbkField(payload.subarray(0, this.passwordBytes)) ?? '';
    const args = payload.subarray(this.passwordBytes);
    if (!this.state.checkPassword(pwd)) {
      this.lastRet = 4;
      this.authorised.delete(p.command);
      return;
    }
    switch (p.command) {
      case SIM_COMMANDS.syncDevTime: {
        const ok =
          args.length === 7 &&
          this.state.setClock({ year: args.readUInt16LE(0), month: args[2]!, day: args[3]!, hour: args[4]!, minute: args[5]!, second: args[6]! });
        this.lastRet = ok ? 5 : 6;
        return;
      }
      case SIM_COMMANDS.setMsdc:
        this.lastRet = 7;
        this.state.switchToMassStorage();
        return;
      default:
        this.lastRet = 3;
        this.authorised.add(p.command);
    }
  }

  /** The answer to a read command; null: refused (stall). */
  private answer(command: number): Buffer | null {
    const s = this.state;
    if (command === SIM_COMMANDS.getReturnStatus) return Buffer.from([this.lastRet]);
    if (command === SIM_COMMANDS.getIdCode) return gbk(s.idCode, 32);
    // Calls behind the password answer only after it was accepted for them.
    if (s.password !== null && !this.authorised.has(command)) return null;
    this.authorised.delete(command);
    switch (command) {
      case SIM_COMMANDS.getDevInfo:
        return encodeZfyInfo(s.info, s.layout);
      case SIM_COMMANDS.readBattery:
        return Buffer.from([s.battery]);
      case SIM_COMMANDS.getSdStatus: {
        if (!s.sd) return null;
        const b = Buffer.alloc(16);
        b.writeBigUInt64LE(BigInt(s.sd.totalBytes), 0);
        b.writeBigUInt64LE(BigInt(s.sd.freeBytes), 8);
        return b;
      }
      case SIM_COMMANDS.getTime: {
        if (!s.canReadTime) return null;
        const d = s.deviceLocal();
        const b = Buffer.alloc(7);
        b.writeUInt16LE(d.year, 0);
        b[2] = d.month;
        b[3] = d.day;
        b[4] = d.hour;
        b[5] = d.minute;
        b[6] = d.second;
        return b;
      }
      default:
        return null;
    }
  }
}

class SimEndpoint implements UsbEndpointPort {
  timeout = 0;
  transferType = 2;
  constructor(
    protected readonly dev: SimUsbRecorder,
    readonly address: number,
    readonly direction: 'in' | 'out',
  ) {}

  clearHalt(cb: (e: UsbError | undefined) => void): void {
    queueMicrotask(() => {
      if (this.dev.gone) return cb(usbError(LIBUSB_ERROR_NO_DEVICE, 'LIBUSB_ERROR_NO_DEVICE'));
      this.dev.events.push(`clear-halt-${this.direction}`);
      cb(undefined);
    });
  }
}

class SimInEndpoint extends SimEndpoint {
  transfer(length: number, cb: (e: UsbError | undefined, data?: Buffer) => void): this {
    if (!this.dev.iface.claimed) throw usbError(-5, 'LIBUSB_ERROR_NOT_FOUND');
    this.dev.in(length, this.timeout, cb);
    return this;
  }
}

class SimOutEndpoint extends SimEndpoint {
  transfer(buf: Buffer, cb?: (e: UsbError | undefined, actual: number) => void): this {
    if (!this.dev.iface.claimed) throw usbError(-5, 'LIBUSB_ERROR_NOT_FOUND');
    this.dev.out(buf, this.timeout, cb ?? (() => undefined));
    return this;
  }
}

export class SimInterface implements UsbInterfacePort {
  interfaceNumber = 0;
  descriptor = { bInterfaceClass: 0x08, bInterfaceSubClass: 0x06, bInterfaceProtocol: 0x50 };
  endpoints: UsbEndpointPort[];
  claimed = false;

  constructor(
    private readonly dev: SimUsbRecorder,
    public kernelDriverActive: boolean,
  ) {
    this.endpoints = [new SimInEndpoint(dev, 0x81, 'in'), new SimOutEndpoint(dev, 0x02, 'out')];
  }

  claim(): void {
    if (this.kernelDriverActive) throw usbError(-6, 'LIBUSB_ERROR_BUSY');
    this.claimed = true;
    this.dev.events.push('claim');
  }

  release(cb?: (e?: UsbError) => void): void {
    this.claimed = false;
    this.dev.events.push('release');
    queueMicrotask(() => cb?.(this.dev.gone ? usbError(LIBUSB_ERROR_NO_DEVICE, 'LIBUSB_ERROR_NO_DEVICE') : undefined));
  }

  isKernelDriverActive(): boolean {
    return this.kernelDriverActive;
  }

  detachKernelDriver(): void {
    this.kernelDriverActive = false;
    this.dev.events.push('detach-kernel');
  }

  attachKernelDriver(): void {
    if (this.dev.gone) throw usbError(LIBUSB_ERROR_NO_DEVICE, 'LIBUSB_ERROR_NO_DEVICE');
    this.kernelDriverActive = true;
    this.dev.events.push('attach-kernel');
  }
}

export { SimRecorderState };
