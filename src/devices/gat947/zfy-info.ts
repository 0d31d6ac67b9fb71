import iconv from 'iconv-lite';
import { Gat947Error } from './errors.js';

/** ZFY_INFO: who the recorder belongs to (GBK strings in the device). */
export interface ZfyInfo {
  /** 产品序号 */
  serial: string;
  /** 警号 */
  officerNo: string | null;
  officerName: string | null;
  unitNo: string | null;
  unitName: string | null;
}

interface Field {
  key: keyof ZfyInfo;
  offset: number;
  bytes: number;
}

/** The 1-byte packed struct with a terminator in each field (8/7/33/13/33). */
const LAYOUT_94: readonly Field[] = [
  { key: 'serial', offset: 0, bytes: 8 },
  { key: 'officerNo', offset: 8, bytes: 7 },
  { key: 'officerName', offset: 15, bytes: 33 },
  { key: 'unitNo', offset: 48, bytes: 13 },
  { key: 'unitName', offset: 61, bytes: 33 },
];

/** One vendor DLL's declaration without terminators (7/6/32/12/32 at 0/7/13/45/57). */
const LAYOUT_89: readonly Field[] = [
  { key: 'serial', offset: 0, bytes: 7 },
  { key: 'officerNo', offset: 7, bytes: 6 },
  { key: 'officerName', offset: 13, bytes: 32 },
  { key: 'unitNo', offset: 45, bytes: 12 },
  { key: 'unitName', offset: 57, bytes: 32 },
];

export const ZFY_INFO_BYTES = { '94': 94, '89': 89 } as const;
export type ZfyLayout = keyof typeof ZFY_INFO_BYTES;

/** A GBK string cut at its first NUL, trimmed; null when empty. */
export function gbkField(buf: Buffer): string | null {
  const nul = buf.indexOf(0);
  const s = iconv.decode(nul === -1 ? buf : buf.subarray(0, nul), 'gbk').trim();
  return s === '' ? null : s;
}

/** GBK bytes of `s`, NUL padded (or cut) to `bytes`. */
export function gbkPadded(s: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  iconv.encode(s, 'gbk').copy(out, 0, 0, bytes);
  return out;
}

/**
 * Parse ZFY_INFO. `layout` 'auto' takes the layout from the length (94 or 89 bytes);
 * anything else is a bad reply. A record without a serial is refused: identity is
 * never invented.
 */
export function parseZfyInfo(buf: Buffer, layout: 'auto' | ZfyLayout = 'auto'): ZfyInfo {
  const which: ZfyLayout | null = layout !== 'auto' ? layout : buf.length === 94 ? '94' : buf.length === 89 ? '89' : null;
  if (which === null || buf.length !== ZFY_INFO_BYTES[which]) {
    throw new Gat947Error('GAT947_BAD_REPLY', `ZFY_INFO is ${buf.length} bytes; expected ${layout === 'auto' ? '94 or 89' : layout}`);
  }
  const fields = which === '94' ? LAYOUT_94 : LAYOUT_89;
  const out: Record<string, string | null> = {};
  for (const f of fields) out[f.key] = gbkField(buf.subarray(f.offset, f.offset + f.bytes));
  if (!out.serial) throw new Gat947Error('GAT947_BAD_REPLY', 'ZFY_INFO holds no serial');
  return out as unknown as ZfyInfo;
}

/** ZFY_INFO as a recorder stores it (for the simulator and WriteZFYInfo). */
export function encodeZfyInfo(info: ZfyInfo, layout: ZfyLayout): Buffer {
  const fields = layout === '94' ? LAYOUT_94 : LAYOUT_89;
  const out = Buffer.alloc(ZFY_INFO_BYTES[layout]);
  for (const f of fields) {
    // The 94-byte layout keeps a terminator in each field.
    const room = layout === '94' ? f.bytes - 1 : f.bytes;
    gbkPadded(info[f.key] ?? '', room).copy(out, f.offset);
  }
  return out;
}
