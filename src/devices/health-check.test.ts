import { describe, expect, it } from 'vitest';
import type { RecorderHealth } from './driver.js';
import { assessHealth, HEALTH_STATE_ZH, type HealthThresholds } from './health-check.js';

const t: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };
const good: RecorderHealth = {
  batteryPercent: 80,
  deviceClock: new Date('2026-03-01T02:00:05Z'),
  clockDriftMs: 5000,
  storageTotalBytes: 64e9,
  storageFreeBytes: 40e9,
};
const codes = (h: RecorderHealth | null, th = t, extra = {}) => assessHealth(h, th, extra).reasons.map((r) => r.code);

describe('assessHealth (pre-duty check, Att.1 Art.4)', () => {
  it('is ready when battery, free space and clock are all within limits', () => {
    expect(assessHealth(good, t)).toEqual({ verdict: 'ready', state: 'ready', reasons: [], requiredFreeBytes: 16e9 });
  });

  it('gives every reason at once, each with a sentence', () => {
    const r = assessHealth({ ...good, batteryPercent: 12, storageFreeBytes: 3e9, clockDriftMs: -420_000 }, t);
    expect(r.verdict).toBe('not-ready');
    expect(r.state).toBe('not-ready');
    expect(r.reasons).toEqual([
      { code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %' },
      { code: 'STORAGE_LOW', message: "free space 3.0 GB is less than a shift's worth (16.0 GB: 8 h at 2 GB/h)" },
      { code: 'CLOCK_DRIFT', message: 'device clock -420 s (behind the station) is beyond ±30 s' },
    ]);
  });

  it('treats the limits themselves as acceptable', () => {
    expect(codes({ ...good, batteryPercent: 30, storageFreeBytes: 16e9, clockDriftMs: 30_000 })).toEqual([]);
    expect(codes({ ...good, clockDriftMs: -30_001 })).toEqual(['CLOCK_DRIFT']);
    expect(codes({ ...good, batteryPercent: 29.5 })).toEqual(['BATTERY_LOW']);
  });

  it('says unchecked (未检测) when values are unknown, lists them, never guesses them; unknownIsNotReady decides what it counts as (issue 16)', () => {
    const unknown: RecorderHealth = { batteryPercent: null, deviceClock: null, clockDriftMs: null, storageTotalBytes: 64e9, storageFreeBytes: null };
    expect(codes(unknown)).toEqual(['BATTERY_UNKNOWN', 'STORAGE_UNKNOWN', 'CLOCK_UNKNOWN']);
    expect(assessHealth(unknown, t)).toMatchObject({ state: 'unchecked', verdict: 'not-ready' });
    const lenient = assessHealth(unknown, { ...t, unknownIsNotReady: false });
    expect(lenient).toMatchObject({ state: 'unchecked', verdict: 'ready' });
    expect(lenient.reasons.map((r) => r.code)).toEqual(['BATTERY_UNKNOWN', 'STORAGE_UNKNOWN', 'CLOCK_UNKNOWN']);
    // Storage still checked: a limit that fails makes it not ready, unknowns or not.
    const low = assessHealth({ ...unknown, storageFreeBytes: 1e9 }, { ...t, unknownIsNotReady: false });
    expect(low).toMatchObject({ state: 'not-ready', verdict: 'not-ready' });
    expect(low.reasons.map((r) => r.code)).toEqual(['BATTERY_UNKNOWN', 'STORAGE_LOW', 'CLOCK_UNKNOWN']);
    expect(HEALTH_STATE_ZH).toEqual({ ready: '就绪', 'not-ready': '未就绪', unchecked: '未检测' });
  });

  it('an estimated drift beyond the limit is a reason that says it was estimated; within it, the clock stays unchecked', () => {
    const est: RecorderHealth = { ...good, deviceClock: null, clockDriftMs: 420_000, clockDriftMethod: 'newest-file-estimate' };
    const r = assessHealth(est, t);
    expect(r.state).toBe('not-ready');
    expect(r.reasons).toEqual([{ code: 'CLOCK_DRIFT', message: 'device clock at least +420 s (ahead of the station, estimated from the newest file) is beyond ±30 s' }]);
    const small = assessHealth({ ...est, clockDriftMs: 10_000 }, t);
    expect(small.state).toBe('unchecked');
    expect(small.reasons.map((x) => x.code)).toEqual(['CLOCK_UNKNOWN']);
  });

  it('is not ready when health could not be read, or the recorder is unidentified or out of service', () => {
    expect(assessHealth(null, t, { healthError: 'RECORDER_STATUS_INVALID: bad' }).state).toBe('unchecked');
    expect(assessHealth(null, t, { healthError: 'RECORDER_STATUS_INVALID: bad' }).reasons).toEqual([
      { code: 'HEALTH_UNREADABLE', message: 'health could not be read: RECORDER_STATUS_INVALID: bad' },
    ]);
    expect(codes(good, t, { identified: false })).toEqual(['RECORDER_UNIDENTIFIED']);
    expect(codes(good, t, { recorderStatus: 'reported-damaged' })).toEqual(['RECORDER_NOT_IN_SERVICE']);
    expect(codes(good, t, { recorderStatus: 'in-service' })).toEqual([]);
  });
});
