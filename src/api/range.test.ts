import { describe, expect, it } from 'vitest';
import { parseRange } from './range.js';

describe('parseRange', () => {
  it('reads the three forms of a byte range', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ kind: 'range', start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ kind: 'range', start: 900, end: 999 });
    expect(parseRange('BYTES = 5-5', 1000)).toEqual({ kind: 'range', start: 5, end: 5 });
  });

  it('clips an end past the last byte and a suffix longer than the object', () => {
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ kind: 'range', start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'range', start: 0, end: 999 });
  });

  it('answers 416 when nothing is satisfiable', () => {
    expect(parseRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5000-6000', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-10', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('coalesces several ranges and skips unsatisfiable ones among them', () => {
    expect(parseRange('bytes=0-9, 100-199', 1000)).toEqual({ kind: 'range', start: 0, end: 199 });
    expect(parseRange('bytes=5000-, 10-20', 1000)).toEqual({ kind: 'range', start: 10, end: 20 });
  });

  it('ignores headers that are absent, in another unit or malformed', () => {
    for (const h of [undefined, 'items=0-5', 'bytes=', 'bytes=abc', 'bytes=5-1', 'bytes=-', 'bytes=1-2-3', 'bytes=0x10-', 'bytes=1234567890123456-']) {
      expect(parseRange(h, 1000), String(h)).toEqual({ kind: 'none' });
    }
    expect(parseRange('bytes=' + Array.from({ length: 40 }, (_, i) => `${i}-${i}`).join(','), 1000)).toEqual({ kind: 'none' });
  });
});
