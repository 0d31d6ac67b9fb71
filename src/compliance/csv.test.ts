import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { fileNumber } from './rules.js';
import { localText, parseLocalTime, plusHours, startOfLocalDay } from './time.js';

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, CRLF, a BOM, and a newline inside quotes; skips blank lines', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",z\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['two\nlines', 'z'] },
    ]);
  });

  it('reports an unclosed quote and a quote inside an unquoted field', () => {
    expect(parseCsv('a,"b\n')[0]).toMatchObject({ line: 1, error: 'a quoted field is not closed' });
    expect(parseCsv('a,b"c"\n')[0]).toMatchObject({ line: 1, error: 'a quote inside an unquoted field' });
  });
});

describe('times in the configured zone', () => {
  it('reads local times, zoned times, and refuses impossible dates', () => {
    expect(parseLocalTime('2026-12-01 00:30', 'Asia/Shanghai')).toBe('2026-11-30T16:30:00.000Z');
    expect(parseLocalTime('2026-12-01T00:30:00Z', 'Asia/Shanghai')).toBe('2026-12-01T00:30:00.000Z');
    expect(() => parseLocalTime('2026-02-30 08:00', 'Asia/Shanghai')).toThrow(/not a valid date-time/);
    expect(() => parseLocalTime('08:00', 'Asia/Shanghai')).toThrow(/not a date-time/);
    expect(startOfLocalDay('2026-12-01', 'Asia/Shanghai')).toBe('2026-11-30T16:00:00.000Z');
    expect(localText('2026-11-30T16:00:00.000Z', 'Asia/Shanghai')).toBe('2026-12-01 00:00:00 +08:00');
  });

  it('adds hours in the zone (exact hours in a zone with daylight saving)', () => {
    expect(plusHours('2026-11-30T16:00:00.000Z', 24, 'Asia/Shanghai')).toBe('2026-12-01T16:00:00.000Z');
    expect(plusHours('2026-03-07T12:00:00.000Z', 24, 'America/New_York')).toBe('2026-03-08T12:00:00.000Z');
  });
});

describe('fileNumber', () => {
  it("reads the recorder's counter before the extension", () => {
    expect(fileNumber('ZFY001_20261120083000_0007.MP4')).toEqual({ n: 7, digits: 4, prefix: 'ZFY001_#' });
    expect(fileNumber('REC-0123.WAV')).toEqual({ n: 123, digits: 4, prefix: 'REC' });
    expect(fileNumber('clip.mp4')).toBeNull();
  });

  it('names the numbering by the name before the counter, without its date and time stamps (issue 13)', () => {
    // The same numbering whatever the time stamp, the day folder or the case of the name.
    expect(fileNumber('zfy001_20261121090000_0008.mp4')!.prefix).toBe(fileNumber('ZFY001_20261120083000_0007.MP4')!.prefix);
    // Another recorder name or another scheme is another numbering.
    expect(fileNumber('DSJ_20261120083000_0001.MP4')!.prefix).not.toBe(fileNumber('ZFY001_20261120083000_0007.MP4')!.prefix);
    expect(fileNumber('0001.MP4')).toEqual({ n: 1, digits: 4, prefix: '' });
  });
});
