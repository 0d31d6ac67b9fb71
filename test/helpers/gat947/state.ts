import iconv from 'iconv-lite';
import { DateTime } from 'luxon';
import type { ZfyInfo } from '../../../src/devices/gat947/zfy-info.js';

/**
 * What a simulated GA/T 947.4 recorder knows and does, shared by its USB and TCP
 * faces: who it belongs to, its password, battery, card, clock, and whether it has
 * switched to mass storage. Test-only; never shipped.
 */
export interface SimRecorderOptions {
  info?: Partial<ZfyInfo>;
  layout?: '94' | '89';
  idCode?: string;
  /** null: the model has no password. */
  password?: string | null;
  battery?: number;
  sd?: { totalBytes: number; freeBytes: number } | null;
  /** How far the recorder's clock is ahead of the host's (ms). */
  clockOffsetMs?: number;
  /** The zone its wall clock keeps (the station's). */
  zone?: string;
  /** The model answers the vendor get-time call. */
  canReadTime?: boolean;
  now?: () => Date;
  /** Called when SetMSDC switches it to mass storage. */
  onMsdc?: () => void;
}

export class SimRecorderState {
  info: ZfyInfo;
  layout: '94' | '89';
  idCode: string;
  password: string | null;
  battery: number;
  sd: { totalBytes: number; freeBytes: number } | null;
  clockOffsetMs: number;
  zone: string;
  canReadTime: boolean;
  msdc = false;
  /** Every clock set by SyncDevTime, as the wall-clock text received. */
  readonly syncs: string[] = [];
  /** Every password the recorder was sent (to prove what went over the wire). */
  readonly passwordsSeen: string[] = [];
  readonly now: () => Date;
  onMsdc: (() => void) | undefined;

  constructor(o: SimRecorderOptions = {}) {
    this.info = { serial: 'ZFY0001', officerNo: '012345', officerName: '张三', unitNo: '330100000000', unitName: '杭州市城市管理局', ...o.info };
    this.layout = o.layout ?? '94';
    this.idCode = o.idCode ?? 'SIM-947';
    this.password = o.password === undefined ? '000000' : o.password;
    this.battery = o.battery ?? 87;
    this.sd = o.sd === undefined ? { totalBytes: 64e9, freeBytes: 40e9 } : o.sd;
    this.clockOffsetMs = o.clockOffsetMs ?? 0;
    this.zone = o.zone ?? 'Asia/Shanghai';
    this.canReadTime = o.canReadTime ?? true;
    this.now = o.now ?? (() => new Date());
    this.onMsdc = o.onMsdc;
  }

  /** The recorder's clock as wall-clock time in its zone, to the second. */
  deviceLocal(): DateTime {
    return DateTime.fromMillis(this.now().getTime() + this.clockOffsetMs, { zone: this.zone }).startOf('second');
  }

  checkPassword(given: string): boolean {
    this.passwordsSeen.push(given);
    return this.password === null || given === this.password;
  }

  /** SyncDevTime: the host's local wall-clock time becomes the recorder's. */
  setClock(t: { year: number; month: number; day: number; hour: number; minute: number; second: number }): boolean {
    const d = DateTime.fromObject(t, { zone: this.zone });
    if (!d.isValid) return false;
    this.clockOffsetMs = d.toMillis() - this.now().getTime();
    this.syncs.push(d.toFormat('yyyy-MM-dd HH:mm:ss'));
    return true;
  }

  switchToMassStorage(): void {
    this.msdc = true;
    this.onMsdc?.();
  }
}

/** GBK bytes NUL padded to `n` (what a recorder writes into fixed fields). */
export function gbk(s: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  iconv.encode(s, 'gbk').copy(out, 0, 0, n);
  return out;
}
