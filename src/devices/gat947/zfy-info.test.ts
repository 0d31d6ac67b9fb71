import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { Gat947Error } from './errors.js';
import { encodeZfyInfo, parseZfyInfo } from './zfy-info.js';

/** A record laid out by hand from the reference's table, not by encodeZfyInfo. */
function handMade(layout: '94' | '89'): Buffer {
  const b = Buffer.alloc(layout === '94' ? 94 : 89);
  const put = (s: string, at: number) => iconv.encode(s, 'gbk').copy(b, at);
  const o = layout === '94' ? [0, 8, 15, 48, 61] : [0, 7, 13, 45, 57];
  put('A123456', o[0]!);
  put('012345', o[1]!);
  put('王小明', o[2]!);
  put('330102000000', o[3]!);
  put('上城区综合行政执法局', o[4]!);
  return b;
}

describe('ZFY_INFO (GA/T 947.4 device info, GBK)', () => {
  it.each(['94', '89'] as const)('reads the %s-byte layout, GBK decoded', (layout) => {
    const info = parseZfyInfo(handMade(layout));
    expect(info).toEqual({ serial: 'A123456', officerNo: '012345', officerName: '王小明', unitNo: '330102000000', unitName: '上城区综合行政执法局' });
    expect(parseZfyInfo(handMade(layout), layout)).toEqual(info);
  });

  it('uses the whole field in the 89-byte layout (no terminator) and stops at NUL in the 94-byte one', () => {
    const b = handMade('89');
    b.write('ABCDEFG', 0, 'latin1'); // 7 characters fill cSerial; userNo starts right after
    expect(parseZfyInfo(b).serial).toBe('ABCDEFG');
    expect(parseZfyInfo(b).officerNo).toBe('012345');
  });

  it('gives null for empty optional fields and round-trips through the encoder', () => {
    const info = { serial: 'ZFY0001', officerNo: '001', officerName: null, unitNo: null, unitName: '城管' };
    for (const l of ['94', '89'] as const) expect(parseZfyInfo(encodeZfyInfo(info, l))).toEqual(info);
  });

  it('refuses a record of another length, a forced layout that does not fit, and one without a serial', () => {
    expect(() => parseZfyInfo(Buffer.alloc(90))).toThrow(Gat947Error);
    expect(() => parseZfyInfo(handMade('94'), '89')).toThrow(/expected 89/);
    const e = (() => {
      try {
        parseZfyInfo(Buffer.alloc(94));
      } catch (err) {
        return err as Gat947Error;
      }
      return null;
    })();
    expect(e?.code).toBe('GAT947_BAD_REPLY');
  });
});
