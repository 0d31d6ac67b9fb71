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
