import { errorMessage } from '../../core/index.js';
import { Gat947Error } from './errors.js';
import { LIBUSB, type UsbDevicePort, type UsbError, type UsbInEndpointPort, type UsbOutEndpointPort } from './usb-port.js';

/** 'USBC' and 'USBS', little-endian (USB Mass Storage Class, Bulk-Only Transport 1.0). */
export const CBW_SIGNATURE = 0x43425355;
export const CSW_SIGNATURE = 0x53425355;
export const CBW_BYTES = 31;
export const CSW_BYTES = 13;
/** Bulk-Only Mass Storage Reset (class request to the interface). */
const BOMS_RESET = 0xff;

export interface BotCommand {
  /** The command block, 1 to 16 bytes. */
  cdb: Buffer;
  /** Data from the host (OUT), or how many bytes to read (IN); neither: no data phase. */
  out?: Buffer;
  inLength?: number;
  /** The device may send fewer bytes than `inLength` (a variable-length answer). */
  allowShort?: boolean;
}

export function encodeCbw(tag: number, lun: number, cmd: BotCommand): Buffer {
  if (cmd.cdb.length < 1 || cmd.cdb.length > 16) throw new RangeError('a CDB is 1 to 16 bytes');
  const b = Buffer.alloc(CBW_BYTES);
  b.writeUInt32LE(CBW_SIGNATURE, 0);
  b.writeUInt32LE(tag >>> 0, 4);
  b.writeUInt32LE(cmd.out ? cmd.out.length : (cmd.inLength ?? 0), 8);
  b.writeUInt8(cmd.inLength !== undefined ? 0x80 : 0x00, 12);
  b.writeUInt8(lun, 13);
  b.writeUInt8(cmd.cdb.length, 14);
  cmd.cdb.copy(b, 15);
  return b;
}

export interface Csw {
  tag: number;
  residue: number;
  status: number;
}

export function decodeCsw(b: Buffer): Csw | null {
  if (b.length !== CSW_BYTES || b.readUInt32LE(0) !== CSW_SIGNATURE) return null;
  return { tag: b.readUInt32LE(4), residue: b.readUInt32LE(8), status: b[12]! };
}

function isStall(e: UsbError): boolean {
  return e.errno === LIBUSB.TRANSFER_STALL || e.errno === LIBUSB.ERROR_PIPE;
}

/** A libusb failure as a typed error. */
export function usbFault(e: UsbError, what: string, phase?: 'command' | 'data' | 'status'): Gat947Error {
  const opts = { cause: e, ...(phase ? { details: { phase } } : {}) };
  switch (e.errno) {
    case LIBUSB.TRANSFER_STALL:
    case LIBUSB.ERROR_PIPE:
      return new Gat947Error('GAT947_STALL', `${what}: the endpoint stalled`, opts);
    case LIBUSB.TRANSFER_TIMED_OUT:
    case LIBUSB.ERROR_TIMEOUT:
      return new Gat947Error('GAT947_TIMEOUT', `${what}: no answer in time`, opts);
    case LIBUSB.TRANSFER_NO_DEVICE:
    case LIBUSB.ERROR_NO_DEVICE:
    case LIBUSB.ERROR_NOT_FOUND:
      return new Gat947Error('GAT947_DEVICE_GONE', `${what}: the recorder is gone`, opts);
    case LIBUSB.ERROR_ACCESS:
      return new Gat947Error('GAT947_ACCESS_DENIED', `${what}: access to the USB device was refused (udev rules installed?)`, { cause: e });
    case LIBUSB.ERROR_BUSY:
      return new Gat947Error('GAT947_BUSY', `${what}: the USB interface is held by another driver`, { cause: e });
    default:
      return new Gat947Error('GAT947_CONNECT_FAILED', `${what}: USB error ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * USB mass-storage Bulk-Only Transport: a Command Block Wrapper out, the data phase,
 * the Command Status Wrapper in, each checked. Every fault ends the command with a
 * Gat947Error; none waits longer than a few transfer timeouts (libusb's own, and a
 * guard of ours in case a callback never comes). After a stall the halt is cleared;
 * after a phase error, a bad CSW or a timeout the device gets a reset recovery; if
 * that fails too, or the device is gone, the transport refuses further commands.
 *
 * One command at a time: callers wait for each to settle before the next.
 */
export class BotTransport {
  private tag = 0;
  private broken: Gat947Error | null = null;
  private busy = false;

  constructor(
    private readonly dev: UsbDevicePort,
    private readonly interfaceNumber: number,
    private readonly inEp: UsbInEndpointPort,
    private readonly outEp: UsbOutEndpointPort,
    private readonly opts: { lun: number; timeoutMs: number },
  ) {
    inEp.timeout = opts.timeoutMs;
    outEp.timeout = opts.timeoutMs;
  }

  /** Why the transport refuses commands, if it does. */
  get fault(): Gat947Error | null {
    return this.broken;
  }

  async command(cmd: BotCommand, what: string): Promise<Buffer> {
    if (this.broken) throw new Gat947Error('GAT947_LINK_CLOSED', `${what}: the USB link is unusable after ${this.broken.code}`, { cause: this.broken });
    if (this.busy) throw new Gat947Error('GAT947_LINK_CLOSED', `${what}: another command is still running`);
    this.busy = true;
    try {
      return await this.run(cmd, what);
    } catch (e) {
      const err = e instanceof Gat947Error ? e : new Gat947Error('GAT947_CONNECT_FAILED', `${what}: ${errorMessage(e)}`, { cause: e });
      if (err.code === 'GAT947_DEVICE_GONE') this.broken = err;
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private async run(cmd: BotCommand, what: string): Promise<Buffer> {
    this.tag = (this.tag + 1) >>> 0 || 1;
    const tag = this.tag;
    const expected = cmd.out ? cmd.out.length : (cmd.inLength ?? 0);

    // 1. Command.
    const cbw = encodeCbw(tag, this.opts.lun, cmd);
    try {
      const n = await this.write(cbw);
      if (n !== CBW_BYTES) {
        await this.resetRecovery();
        throw new Gat947Error('GAT947_SHORT_TRANSFER', `${what}: the command wrapper went out short (${n} of ${CBW_BYTES} bytes)`);
      }
    } catch (e) {
      throw await this.onTransferError(e, `${what} (command)`, true, 'command');
    }

    // 2. Data.
    let data: Buffer = Buffer.alloc(0);
    let dataStalled = false;
    let sent = 0;
    if (expected > 0) {
      try {
        if (cmd.out) sent = await this.write(cmd.out);
        else data = await this.read(expected);
      } catch (e) {
        if (e instanceof Error && isStall(e as UsbError)) {
          // The device refuses the data: clear the halt and still take its status (BOT 6.7.2, 6.7.3).
          dataStalled = true;
          await this.clearHalt(cmd.out ? this.outEp : this.inEp).catch(() => this.resetRecovery());
        } else {
          throw await this.onTransferError(e, `${what} (data)`, false, 'data');
        }
      }
    }

    // 3. Status.
    let raw: Buffer;
    try {
      raw = await this.readStatus();
    } catch (e) {
      throw await this.onTransferError(e, `${what} (status)`, true, 'status');
    }
    const csw = decodeCsw(raw);
    if (!csw) {
      await this.resetRecovery();
      throw new Gat947Error('GAT947_CSW_INVALID', `${what}: the status wrapper is not one (${raw.length} bytes)`);
    }
    if (csw.tag !== tag) {
      await this.resetRecovery();
      throw new Gat947Error('GAT947_CSW_TAG', `${what}: the status answers command ${csw.tag}, not ${tag}`);
    }
    if (csw.status === 2) {
      await this.resetRecovery();
      throw new Gat947Error('GAT947_PHASE_ERROR', `${what}: the recorder reports a phase error`);
    }
    if (csw.residue > expected) {
      await this.resetRecovery();
      throw new Gat947Error('GAT947_CSW_INVALID', `${what}: the status claims ${csw.residue} bytes left of ${expected}`);
    }
    // A refused data phase is the fault to report, whatever status follows it.
    if (dataStalled) throw new Gat947Error('GAT947_STALL', `${what}: the recorder stalled the data`, { details: { phase: 'data' } });
    if (csw.status === 1) throw new Gat947Error('GAT947_COMMAND_FAILED', `${what}: the recorder reports the command failed`);
    if (csw.status !== 0) {
      await this.resetRecovery();
      throw new Gat947Error('GAT947_CSW_INVALID', `${what}: unknown command status ${csw.status}`);
    }
    if (cmd.out && sent < expected) throw new Gat947Error('GAT947_SHORT_TRANSFER', `${what}: ${sent} of ${expected} bytes went out`);
    if (!cmd.out && data.length < expected && !cmd.allowShort) {
      throw new Gat947Error('GAT947_SHORT_TRANSFER', `${what}: ${data.length} of ${expected} bytes came back`);
    }
    return data;
  }

  /** The CSW; a stall on it is cleared and the read tried once more (BOT 5.3.3). */
  private async readStatus(): Promise<Buffer> {
    try {
      return await this.read(CSW_BYTES);
    } catch (e) {
      if (!(e instanceof Error) || !isStall(e as UsbError)) throw e;
      await this.clearHalt(this.inEp);
      return await this.read(CSW_BYTES);
    }
  }

  /** `phase`: where the command was when it failed (a caller may need to know the data went out). */
  private async onTransferError(e: unknown, what: string, reset: boolean, phase: 'command' | 'data' | 'status'): Promise<Gat947Error> {
    if (e instanceof Gat947Error) {
      if (e.code === 'GAT947_TIMEOUT') await this.resetRecovery();
      return e;
    }
    const err = usbFault(e as UsbError, what, phase);
    if (err.code !== 'GAT947_DEVICE_GONE' && (reset || err.code === 'GAT947_TIMEOUT')) await this.resetRecovery();
    return err;
  }

  /**
   * Reset recovery (BOT 5.3.4): Bulk-Only Mass Storage Reset, then clear both halts.
   * If it fails, the device is in an unknown state: the transport refuses further commands.
   */
  private async resetRecovery(): Promise<void> {
    try {
      await this.guard<void>('reset', (done) =>
        this.dev.controlTransfer(0x21, BOMS_RESET, 0, this.interfaceNumber, Buffer.alloc(0), (err) => done(err)),
      );
      await this.clearHalt(this.inEp);
      await this.clearHalt(this.outEp);
    } catch (e) {
      const err = e instanceof Gat947Error ? e : usbFault(e as UsbError, 'reset recovery');
      this.broken ??= err;
    }
  }

  private clearHalt(ep: UsbInEndpointPort | UsbOutEndpointPort): Promise<void> {
    return this.guard<void>('clear halt', (done) => ep.clearHalt((err) => done(err)));
  }

  private write(buf: Buffer): Promise<number> {
    return this.guard<number>('write', (done) => this.outEp.transfer(buf, (err, actual) => done(err, actual)));
  }

  private read(length: number): Promise<Buffer> {
    return this.guard<Buffer>('read', (done) => this.inEp.transfer(length, (err, data) => done(err, data ?? Buffer.alloc(0))));
  }

  /**
   * One callback-style USB operation as a promise that settles within the timeout
   * (plus a margin for libusb's own), whatever the device or the library does.
   */
  private guard<T>(what: string, start: (done: (err: UsbError | undefined, value?: T) => void) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new Gat947Error('GAT947_TIMEOUT', `USB ${what}: no answer within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs + 250);
      const done = (err: UsbError | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as T);
      };
      try {
        start(done);
      } catch (e) {
        done(e as UsbError);
      }
    });
  }
}
