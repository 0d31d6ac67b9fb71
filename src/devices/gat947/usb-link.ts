import { errorMessage, type Logger } from '../../core/index.js';
import { BotTransport, usbFault } from './bot.js';
import { Gat947Error } from './errors.js';
import { checkIRet, decodeLocalTime, encodeLocalTime, type Gat947Link, type LocalDateTime, type SdStatus } from './link.js';
import type { Gat947Call, Gat947Params } from './params.js';
import {
  isInEndpoint,
  isOutEndpoint,
  USB_CLASS_MASS_STORAGE,
  USB_TRANSFER_TYPE_BULK,
  type UsbDevicePort,
  type UsbError,
  type UsbInterfacePort,
} from './usb-port.js';
import { gbkField, gbkPadded, parseZfyInfo, ZFY_INFO_BYTES, type ZfyInfo } from './zfy-info.js';

function pickInterface(dev: UsbDevicePort, wanted: number | undefined): UsbInterfacePort | null {
  const all = dev.interfaces ?? [];
  const usable = (i: UsbInterfacePort): boolean =>
    i.endpoints.some((e) => isInEndpoint(e) && e.transferType === USB_TRANSFER_TYPE_BULK) &&
    i.endpoints.some((e) => isOutEndpoint(e) && e.transferType === USB_TRANSFER_TYPE_BULK);
  if (wanted !== undefined) {
    const i = all.find((x) => x.interfaceNumber === wanted);
    return i && usable(i) ? i : null;
  }
  return all.find((i) => i.descriptor.bInterfaceClass === USB_CLASS_MASS_STORAGE && usable(i)) ?? null;
}

/**
 * The vendor calls over USB (one vendor's public DLL): 16-byte CDBs on the
 * mass-storage interface, cdb[0] the write or read opcode, cdb[1] its direction code,
 * cdb[5] the command number, cdb[7] the payload length. A call that takes the device
 * password writes it first (GBK, NUL padded to `passwordBytes`, followed by the call's
 * arguments) and reads the iRet byte with GET_RETURN_STATUS before anything else; a
 * call that returns data then reads it. Opening detaches the kernel's driver from the
 * interface (when asked) and `close()` re-attaches it.
 */
export class UsbLink implements Gat947Link {
  private closed = false;

  private constructor(
    private readonly dev: UsbDevicePort,
    private readonly iface: UsbInterfacePort,
    private readonly bot: BotTransport,
    private readonly detached: boolean,
    private readonly p: Gat947Params,
    private readonly password: string | null,
    private readonly log: Logger | null,
  ) {}

  static async open(dev: UsbDevicePort, p: Gat947Params, password: string | null, log: Logger | null = null): Promise<UsbLink> {
    try {
      dev.open();
    } catch (e) {
      throw usbFault(e as UsbError, 'opening the recorder');
    }
    const iface = pickInterface(dev, p.usb.interface);
    if (!iface) {
      safeClose(dev, log);
      throw new Gat947Error('GAT947_NO_INTERFACE', `the recorder has no ${p.usb.interface === undefined ? 'mass-storage ' : `number ${p.usb.interface} `}interface with bulk endpoints`);
    }
    let detached = false;
    try {
      if (p.usb.detachKernelDriver && iface.isKernelDriverActive()) {
        iface.detachKernelDriver();
        detached = true;
      }
      iface.claim();
    } catch (e) {
      if (detached) reattach(iface, log);
      safeClose(dev, log);
      throw usbFault(e as UsbError, 'claiming the recorder interface');
    }
    const inEp = iface.endpoints.find((e) => isInEndpoint(e) && e.transferType === USB_TRANSFER_TYPE_BULK);
    const outEp = iface.endpoints.find((e) => isOutEndpoint(e) && e.transferType === USB_TRANSFER_TYPE_BULK);
    if (!inEp || !outEp || !isInEndpoint(inEp) || !isOutEndpoint(outEp)) throw new Gat947Error('GAT947_NO_INTERFACE', 'no bulk endpoints');
    const bot = new BotTransport(dev, iface.interfaceNumber, inEp, outEp, { lun: p.usb.lun, timeoutMs: p.usb.timeoutMs });
    return new UsbLink(dev, iface, bot, detached, p, password, log);
  }

  private cmd(call: Gat947Call): number {
    const n = this.p.commands[call];
    if (n === null) throw new Gat947Error('GAT947_NOT_SUPPORTED', `this model's profile has no ${call} command`);
    return n;
  }

  private cdb(opcode: number, code: number, command: number, length: number): Buffer {
    const cdb = Buffer.alloc(16);
    cdb[0] = opcode;
    cdb[1] = code;
    cdb[5] = command;
    cdb[7] = length;
    return cdb;
  }

  private check(): void {
    if (this.closed) throw new Gat947Error('GAT947_LINK_CLOSED', 'the USB link is closed');
  }

  private read(call: Gat947Call, length: number, allowShort = false): Promise<Buffer> {
    this.check();
    const { readOpcode, readCode } = this.p.scsi;
    return this.bot.command({ cdb: this.cdb(readOpcode, readCode, this.cmd(call), length), inLength: length, allowShort }, call);
  }

  /**
   * The password (and arguments) out, then the call's iRet. `goneIsDone`: the
   * recorder vanishing after the payload went out means the call took effect (SetMSDC
   * re-enumerates the device before it can answer).
   */
  private async authorised(call: Gat947Call, args: Buffer = Buffer.alloc(0), goneIsDone = false): Promise<void> {
    this.check();
    const payload = Buffer.concat([gbkPadded(this.password ?? '', this.p.passwordBytes), args]);
    if (payload.length === 0) return;
    if (payload.length > 255) throw new Gat947Error('GAT947_BAD_REPLY', `${call}: a payload of ${payload.length} bytes does not fit cdb[7]`);
    const { writeOpcode, writeCode } = this.p.scsi;
    try {
      await this.bot.command({ cdb: this.cdb(writeOpcode, writeCode, this.cmd(call), payload.length), out: payload }, call);
    } catch (e) {
      if (goneIsDone && e instanceof Gat947Error && e.code === 'GAT947_DEVICE_GONE' && e.details?.phase === 'status') return;
      throw e;
    } finally {
      payload.fill(0);
    }
    let status: Buffer;
    try {
      status = await this.read('getReturnStatus', 1);
    } catch (e) {
      if (goneIsDone && e instanceof Gat947Error && (e.code === 'GAT947_DEVICE_GONE' || e.code === 'GAT947_LINK_CLOSED')) return;
      throw e;
    }
    checkIRet(call, status[0]!);
  }

  async getIdCode(): Promise<string> {
    const b = await this.read('getIdCode', this.p.idCodeBytes, true);
    const s = gbkField(b);
    if (!s) throw new Gat947Error('GAT947_BAD_REPLY', 'GetIDCode returned no code');
    return s;
  }

  async getZfyInfo(): Promise<ZfyInfo> {
    await this.authorised('getDevInfo');
    const layout = this.p.zfyInfoLayout;
    const b = await this.read('getDevInfo', layout === '89' ? ZFY_INFO_BYTES['89'] : ZFY_INFO_BYTES['94'], layout === 'auto');
    return parseZfyInfo(b, layout);
  }

  async readBattery(): Promise<number> {
    await this.authorised('readBattery');
    const b = await this.read('readBattery', 1);
    const v = b[0]!;
    if (v > 100) throw new Gat947Error('GAT947_BAD_REPLY', `battery ${v} % is not a charge`);
    return v;
  }

  async getSdStatus(): Promise<SdStatus> {
    await this.authorised('getSdStatus');
    const b = await this.read('getSdStatus', 16);
    const total = Number(b.readBigUInt64LE(0));
    const free = Number(b.readBigUInt64LE(8));
    if (free > total) throw new Gat947Error('GAT947_BAD_REPLY', `storage: ${free} bytes free of ${total}`);
    return { totalBytes: total, freeBytes: free };
  }

  async getTime(): Promise<LocalDateTime> {
    await this.authorised('getTime');
    return decodeLocalTime(await this.read('getTime', 7));
  }

  async syncDevTime(t: LocalDateTime): Promise<void> {
    await this.authorised('syncDevTime', encodeLocalTime(t));
  }

  async setMsdc(): Promise<void> {
    await this.authorised('setMsdc', Buffer.alloc(0), true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.p.usb.timeoutMs);
      try {
        this.iface.release((err) => {
          if (err && err.errno !== -4) this.log?.warn({ err }, 'recorder interface could not be released');
          clearTimeout(t);
          resolve();
        });
      } catch (e) {
        this.log?.warn({ err: e }, 'recorder interface could not be released');
        clearTimeout(t);
        resolve();
      }
    });
    if (this.detached) reattach(this.iface, this.log);
    safeClose(this.dev, this.log);
  }
}

function reattach(iface: UsbInterfacePort, log: Logger | null): void {
  try {
    iface.attachKernelDriver();
  } catch (e) {
    // Gone (re-enumerated after SetMSDC, or unplugged): the kernel binds the new device itself.
    if ((e as UsbError).errno !== -4) log?.warn({ err: e, why: errorMessage(e) }, 'kernel driver could not be re-attached to the recorder');
  }
}

function safeClose(dev: UsbDevicePort, log: Logger | null): void {
  try {
    dev.close();
  } catch (e) {
    if ((e as UsbError).errno !== -4) log?.warn({ err: e }, 'recorder USB handle could not be closed');
  }
}
