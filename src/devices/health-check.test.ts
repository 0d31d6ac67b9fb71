import { describe, expect, it } from 'vitest';
import type { RecorderHealth } from './driver.js';
import { assessHealth, HEALTH_REASON_CODES, HEALTH_STATE_ZH, type HealthThresholds } from './health-check.js';

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
      { code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %', params: { batteryPercent: 12, minBatteryPercent: 30 } },
      {
        code: 'STORAGE_LOW',
        message: "free space 3.0 GB is less than a shift's worth (16.0 GB: 8 h at 2 GB/h)",
        params: { freeBytes: 3e9, requiredBytes: 16e9, shiftHours: 8, recordingGbPerHour: 2 },
      },
      {
        code: 'CLOCK_DRIFT',
        message: 'device clock -420 s (behind the station) is beyond ±30 s',
        params: { driftMs: -420_000, driftSeconds: -420, maxClockDriftSeconds: 30, estimated: false },
      },
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
    expect(r.reasons).toEqual([
      {
        code: 'CLOCK_DRIFT',
        message: 'device clock at least +420 s (ahead of the station, estimated from the newest file) is beyond ±30 s',
        params: { driftMs: 420_000, driftSeconds: 420, maxClockDriftSeconds: 30, estimated: true },
      },
    ]);
    const small = assessHealth({ ...est, clockDriftMs: 10_000 }, t);
    expect(small.state).toBe('unchecked');
    expect(small.reasons).toEqual([
      { code: 'CLOCK_UNKNOWN', message: 'device clock not read; the newest file shows no drift beyond the limit', params: { estimated: true } },
    ]);
  });

  it('is not ready when health could not be read, or the recorder is unidentified or out of service', () => {
    expect(assessHealth(null, t, { healthError: 'RECORDER_STATUS_INVALID: bad' }).state).toBe('unchecked');
    expect(assessHealth(null, t, { healthError: 'RECORDER_STATUS_INVALID: bad' }).reasons).toEqual([
      { code: 'HEALTH_UNREADABLE', message: 'health could not be read: RECORDER_STATUS_INVALID: bad', params: { error: 'RECORDER_STATUS_INVALID: bad' } },
    ]);
    expect(codes(good, t, { identified: false })).toEqual(['RECORDER_UNIDENTIFIED']);
    expect(codes(good, t, { recorderStatus: 'reported-damaged' })).toEqual(['RECORDER_NOT_IN_SERVICE']);
    expect(codes(good, t, { recorderStatus: 'in-service' })).toEqual([]);
  });

  it('gives each reason the figures its sentence is made of, typed by code, so nothing need parse the sentence (issue 15)', () => {
    const params = (h: RecorderHealth | null, extra = {}, th = t) => Object.fromEntries(assessHealth(h, th, extra).reasons.map((r) => [r.code, r.params]));
    // Figures as read and as configured, not as the sentence rounds them.
    expect(params({ ...good, batteryPercent: 29.5, storageFreeBytes: 15_999_999_999, clockDriftMs: 30_499 }, {}, { ...t, shiftHours: 7.5, recordingGbPerHour: 2.2 })).toEqual({
      BATTERY_LOW: { batteryPercent: 29.5, minBatteryPercent: 30 },
      STORAGE_LOW: { freeBytes: 15_999_999_999, requiredBytes: 16.5e9, shiftHours: 7.5, recordingGbPerHour: 2.2 },
      CLOCK_DRIFT: { driftMs: 30_499, driftSeconds: 30, maxClockDriftSeconds: 30, estimated: false },
    });
    expect(assessHealth({ ...good, clockDriftMs: 30_499 }, t).reasons[0]!.message).toBe('device clock +30 s (ahead of the station) is beyond ±30 s');
    // Unknowns say nothing but whether the clock was estimated.
    expect(params({ batteryPercent: null, deviceClock: null, clockDriftMs: null, storageTotalBytes: null, storageFreeBytes: null })).toEqual({
      BATTERY_UNKNOWN: {},
      STORAGE_UNKNOWN: {},
      CLOCK_UNKNOWN: { estimated: false },
    });
    // Unread health: the error when there is one, null when there is none.
    expect(params(null)).toEqual({ HEALTH_UNREADABLE: { error: null } });
    expect(assessHealth(null, t).reasons[0]!.message).toBe('health could not be read');
    expect(params(good, { identified: false, recorderStatus: 'retired', notAsked: 'not asked over USB', notMounted: 'not switched to mass storage' })).toEqual({
      RECORDER_UNIDENTIFIED: {},
      STORAGE_NOT_MOUNTED: { detail: 'not switched to mass storage' },
      DEVICE_NOT_ASKED: { detail: 'not asked over USB' },
      RECORDER_NOT_IN_SERVICE: { status: 'retired' },
    });
    // Every code the check can give is listed, in the order it gives them.
    const all = assessHealth(null, t, { identified: false, recorderStatus: 'retired', notAsked: 'x', notMounted: 'y' }).reasons.map((r) => r.code);
    const read = codes({ ...good, batteryPercent: null, storageFreeBytes: null, clockDriftMs: null });
    expect(HEALTH_REASON_CODES.filter((c) => all.includes(c) || read.includes(c) || ['BATTERY_LOW', 'STORAGE_LOW', 'CLOCK_DRIFT'].includes(c))).toEqual(HEALTH_REASON_CODES);
    expect(new Set(HEALTH_REASON_CODES).size).toBe(11);
  });
});
