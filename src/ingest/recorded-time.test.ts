import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { recordedTime, timestampFromName } from './recorded-time.js';

const zone = 'Asia/Shanghai';

describe('timestampFromName', () => {
  it('reads recorder-style names as local time in the bureau zone', () => {
    expect(timestampFromName('ZFY001_20261120083000_0001.MP4', zone)?.toISOString()).toBe('2026-11-20T00:30:00.000Z');
    expect(timestampFromName('VID_20261120_083000.mp4', zone)?.toISOString()).toBe('2026-11-20T00:30:00.000Z');
    expect(timestampFromName('2026-11-20_08-30-00.wav', zone)?.toISOString()).toBe('2026-11-20T00:30:00.000Z');
    expect(timestampFromName('录像_20261120083000.mp4', zone)?.toISOString()).toBe('2026-11-20T00:30:00.000Z');
  });

  it('ignores names without a real date and time', () => {
    expect(timestampFromName('clip_0001.mp4', zone)).toBeNull();
    expect(timestampFromName('20261340083000.mp4', zone)).toBeNull();
    expect(timestampFromName('20261120256000.mp4', zone)).toBeNull();
    expect(timestampFromName('1234567890123456.mp4', zone)).toBeNull();
  });

  it('reads every time as luxon reads it in the zone, also in the hours the clocks change', () => {
    // The reading through an hour's remembered offset must give luxon's own answer, on
    // the days clocks change by an hour and by half an hour, and in a zone off the hour.
    const luxon = (y: number, mo: number, d: number, h: number, mi: number, z: string): string | null => {
      const dt = DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: mi, second: 13 }, { zone: z });
      if (!dt.isValid || dt.month !== mo || dt.day !== d || dt.hour !== h || dt.minute !== mi) return null;
      return dt.toJSDate().toISOString();
    };
    const days: Array<[string, number, number, number]> = [
      ['America/New_York', 2026, 3, 8],
      ['America/New_York', 2026, 11, 1],
      ['Australia/Lord_Howe', 2026, 4, 5],
      ['Australia/Lord_Howe', 2026, 10, 4],
      ['Europe/London', 2026, 3, 29],
      ['Asia/Kathmandu', 2026, 6, 1],
      [zone, 2026, 11, 20],
    ];
    const p2 = (n: number): string => String(n).padStart(2, '0');
    let refused = 0;
    for (const [z, y, mo, d] of days) {
      for (let h = 0; h < 24; h++) {
        for (let mi = 0; mi < 60; mi += 7) {
          const name = `ZFY001_${y}${p2(mo)}${p2(d)}${p2(h)}${p2(mi)}13_0001.MP4`;
          const want = luxon(y, mo, d, h, mi, z);
          if (want === null) refused++;
          // Twice: the second reading comes from the remembered hour.
          expect(timestampFromName(name, z)?.toISOString() ?? null, `${z} ${name}`).toBe(want);
          expect(timestampFromName(name, z)?.toISOString() ?? null, `${z} ${name}, again`).toBe(want);
        }
      }
    }
    // The hours skipped when the clocks go forward are no times at all.
    expect(refused).toBeGreaterThan(0);
  });
});

describe('recordedTime', () => {
  const base = { name: 'ZFY001_20261120083000_0001.MP4', mtimeMs: Date.UTC(2026, 10, 20, 1, 0, 0), zone };

  it('prefers container metadata, then the name, then mtime, and says which', () => {
    const meta = new Date('2026-11-20T00:29:58.000Z');
    expect(recordedTime({ ...base, creationTime: meta, durationMs: 60_000, clockDriftMs: null })).toMatchObject({
      source: 'metadata',
      start: meta,
      end: new Date('2026-11-20T00:30:58.000Z'),
      startCorrected: null,
    });
    expect(recordedTime({ ...base, creationTime: null, durationMs: null, clockDriftMs: null })).toMatchObject({
      source: 'filename',
      start: new Date('2026-11-20T00:30:00.000Z'),
      end: null,
    });
    const r = recordedTime({ ...base, name: 'clip.mp4', creationTime: null, durationMs: 10_000, clockDriftMs: null });
    expect(r.source).toBe('mtime');
    // mtime is when the recorder closed the file: the start is mtime minus the duration.
    expect(r.start.toISOString()).toBe('2026-11-20T00:59:50.000Z');
  });

  it('treats an unset recorder clock (1970) in metadata as no metadata', () => {
    expect(recordedTime({ ...base, creationTime: new Date(0), durationMs: null, clockDriftMs: null }).source).toBe('filename');
  });

  it('keeps the raw time and stores the drift-corrected one beside it', () => {
    const r = recordedTime({ ...base, creationTime: null, durationMs: 30_000, clockDriftMs: 300_000 });
    expect(r.start.toISOString()).toBe('2026-11-20T00:30:00.000Z');
    expect(r.startCorrected?.toISOString()).toBe('2026-11-20T00:25:00.000Z');
    expect(r.endCorrected?.toISOString()).toBe('2026-11-20T00:25:30.000Z');
  });
});
