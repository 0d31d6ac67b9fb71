import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { fileNumber } from './rules/index.js';
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

  // Issue 13: read by csv-parse; what a roster import reports must not change.
  it('gives each row the line it starts on, across blank lines, lines of spaces and quoted line breaks', () => {
    expect(parseCsv('a,b\n\n   \n"x\ny\nz",w\n\nq,"r"\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 4, fields: ['x\ny\nz', 'w'] },
      { line: 8, fields: ['q', 'r'] },
    ]);
  });

  it('reads LF and CRLF in one file, a BOM, commas, quotes and Chinese inside quotes, empty fields', () => {
    expect(parseCsv('\uFEFFofficer,name,unit\r\n0417,"Li, Wei",执法一科\n0418,"王""芳""",\r\n')).toEqual([
      { line: 1, fields: ['officer', 'name', 'unit'] },
      { line: 2, fields: ['0417', 'Li, Wei', '执法一科'] },
      { line: 3, fields: ['0418', '王"芳"', ''] },
    ]);
    // Spaces around a field and its quotes are not part of it; inside the quotes they are.
    expect(parseCsv('0417, "Li Wei" ,x\n" a ",b\n').map((r) => r.fields)).toEqual([['0417', 'Li Wei', 'x'], [' a ', 'b']]);
    // Rows of different lengths come back as they are (the import names the line).
    expect(parseCsv('a,b,c\nd\n').map((r) => r.fields)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('goes on after a bad row, so that every bad line is reported once, in order', () => {
    expect(parseCsv('h1,h2\nc,d"e"\nf,g\nx,"y"z\n')).toEqual([
      { line: 1, fields: ['h1', 'h2'] },
      { line: 2, fields: [], error: 'a quote inside an unquoted field' },
      { line: 3, fields: ['f', 'g'] },
      { line: 4, fields: [], error: 'text after the closing quote of a field' },
    ]);
    expect(parseCsv('h\nok\nk,"l\nm\n')).toEqual([
      { line: 1, fields: ['h'] },
      { line: 2, fields: ['ok'] },
      { line: 3, fields: [], error: 'a quoted field is not closed' },
    ]);
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

  it('adds elapsed hours (24 hours across a daylight-saving change are 24 hours, not a calendar day)', () => {
    expect(plusHours('2026-11-30T16:00:00.000Z', 24)).toBe('2026-12-01T16:00:00.000Z');
    // New York moves its clocks forward on 8 March 2026: a calendar day there is 23 hours.
    expect(plusHours('2026-03-07T12:00:00.000Z', 24)).toBe('2026-03-08T12:00:00.000Z');
    expect(plusHours('2026-12-01T08:00:00+08:00', 24)).toBe('2026-12-02T00:00:00.000Z');
    expect(plusHours('2026-12-01T08:00:00.000Z', 0.5)).toBe('2026-12-01T08:30:00.000Z');
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
