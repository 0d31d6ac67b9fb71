import { DateTime } from 'luxon';
import { Gat947Error } from './errors.js';
import type { ZfyInfo } from './zfy-info.js';

/** A wall-clock time as the recorder keeps it: local time, no zone (the SyncDevTime payload). */
export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface SdStatus {
  totalBytes: number;
  freeBytes: number;
}

/**
 * One open conversation with a recorder, whatever carries it (USB Bulk-Only
 * Transport or a TCP socket). Each call either resolves with the recorder's answer or
 * rejects with a Gat947Error; none waits without limit. `close()` never throws and
 * gives the device back to the operating system (re-attaching its kernel driver).
 */
export interface Gat947Link {
  getIdCode(): Promise<string>;
  getZfyInfo(): Promise<ZfyInfo>;
  readBattery(): Promise<number>;
  getSdStatus(): Promise<SdStatus>;
  getTime(): Promise<LocalDateTime>;
  syncDevTime(t: LocalDateTime): Promise<void>;
  setMsdc(): Promise<void>;
  close(): Promise<void>;
}

/** iRet values of the reference (every call sets one). */
export const IRET = {
  CONNECT_SUCCESS: 1,
  CONNECT_FAILED: 2,
  CHECK_PWD_SUCCESS: 3,
  CHECK_PWD_FAILED: 4,
  SET_SYSTEMTIME_SUCCESS: 5,
  SET_SYSTEMTIME_FAILED: 6,
  MSDC_SUCCESS: 7,
  MSDC_FAILED: 8,
} as const;

/** Turn a call's iRet into success or a typed error. */
export function checkIRet(call: string, iRet: number): void {
  switch (iRet) {
    case IRET.CONNECT_SUCCESS:
    case IRET.CHECK_PWD_SUCCESS:
    case IRET.SET_SYSTEMTIME_SUCCESS:
    case IRET.MSDC_SUCCESS:
      return;
    case IRET.CHECK_PWD_FAILED:
      throw new Gat947Error('GAT947_PASSWORD_WRONG', `the recorder refused the device password (${call})`);
    case IRET.CONNECT_FAILED:
      throw new Gat947Error('GAT947_CALL_FAILED', `${call}: the recorder reports CONNECT_FAILED`, { details: { iRet } });
    case IRET.SET_SYSTEMTIME_FAILED:
      throw new Gat947Error('GAT947_CALL_FAILED', `${call}: the recorder could not set its clock`, { details: { iRet } });
    case IRET.MSDC_FAILED:
      throw new Gat947Error('GAT947_CALL_FAILED', `${call}: the recorder could not switch to mass storage`, { details: { iRet } });
    default:
      throw new Gat947Error('GAT947_CALL_FAILED', `${call}: unknown return status ${iRet}`, { details: { iRet } });
  }
}

/** The station's time as wall-clock time in `zone` (SyncDevTime sends host local time). */
export function localTime(at: Date, zone: string): LocalDateTime {
  const d = DateTime.fromJSDate(at, { zone });
  return { year: d.year, month: d.month, day: d.day, hour: d.hour, minute: d.minute, second: d.second };
}

/** The instant a recorder's wall-clock reading in `zone` stands for; null when it is no valid time. */
export function instantOf(t: LocalDateTime, zone: string): Date | null {
  const d = DateTime.fromObject(t, { zone });
  return d.isValid ? d.toJSDate() : null;
}

/** The 7-byte SyncDevTime / get-time layout: u16 year (little-endian), month, day, hour, minute, second. */
export function encodeLocalTime(t: LocalDateTime): Buffer {
  const b = Buffer.alloc(7);
  b.writeUInt16LE(t.year, 0);
  b.writeUInt8(t.month, 2);
  b.writeUInt8(t.day, 3);
  b.writeUInt8(t.hour, 4);
  b.writeUInt8(t.minute, 5);
  b.writeUInt8(t.second, 6);
  return b;
}

export function decodeLocalTime(b: Buffer): LocalDateTime {
  if (b.length !== 7) throw new Gat947Error('GAT947_BAD_REPLY', `a device time is 7 bytes, got ${b.length}`);
  return { year: b.readUInt16LE(0), month: b[2]!, day: b[3]!, hour: b[4]!, minute: b[5]!, second: b[6]! };
}

/** "2026-12-02 14:03:05": the text form the TCP transport uses. */
export function formatLocalTime(t: LocalDateTime): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(t.year, 4)}-${p(t.month)}-${p(t.day)} ${p(t.hour)}:${p(t.minute)}:${p(t.second)}`;
}

export function parseLocalTime(s: string): LocalDateTime {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(s.trim());
  if (!m) throw new Gat947Error('GAT947_BAD_REPLY', `not a device time: ${JSON.stringify(s.slice(0, 40))}`);
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  return { year: y, month: mo, day: d, hour: h, minute: mi, second: se };
}
