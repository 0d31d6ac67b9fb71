/**
 * The pre-duty reasons in the console's language (issue 15): from each reason's code and
 * figures; from its English sentence only for a dock recorded before codes were kept.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { assessHealth, HEALTH_REASON_CODES, type HealthReason, type HealthThresholds } from '../../../../src/devices/health-check.js';
import type { ReasonDetail } from '../../api/types.js';
import { readReason, reasonOf } from './reasons.js';

const t: HealthThresholds = { minBatteryPercent: 30, shiftHours: 8, recordingGbPerHour: 2, maxClockDriftSeconds: 30, unknownIsNotReady: true };
const GB = 1e9;
const fmt = { bytes: (n: number) => `${(n / GB).toFixed(1)} GB` };
const locale = async (f: string) => (JSON.parse(await readFile(new URL(`../../locales/${f}`, import.meta.url), 'utf8')) as { docks: { reason: Record<string, string> } }).docks.reason;

/** Every reason the check can give, each code at least once and the clock both ways. */
function everyReason(): HealthReason[] {
  return [
    ...assessHealth({ batteryPercent: 12, storageFreeBytes: 3 * GB, storageTotalBytes: 32 * GB, clockDriftMs: -420_000, deviceClock: null }, t).reasons,
    ...assessHealth({ batteryPercent: 80, storageFreeBytes: 30 * GB, storageTotalBytes: 32 * GB, clockDriftMs: 120_000, deviceClock: null, clockDriftMethod: 'newest-file-estimate' }, t).reasons,
    ...assessHealth({ batteryPercent: 80, storageFreeBytes: 30 * GB, storageTotalBytes: 32 * GB, clockDriftMs: 10_000, deviceClock: null, clockDriftMethod: 'newest-file-estimate' }, t).reasons,
    ...assessHealth({ batteryPercent: null, storageFreeBytes: null, storageTotalBytes: null, clockDriftMs: null, deviceClock: null }, t).reasons,
    ...assessHealth(null, t, { identified: false, recorderStatus: 'in-repair', healthError: 'RECORDER_STATUS_INVALID: bad', notAsked: 'not asked over USB', notMounted: 'not switched to mass storage' }).reasons,
  ];
}

describe('pre-duty reasons', () => {
  it('says each reason from its code and figures, whatever its sentence says', () => {
    const read = everyReason().map((r) => reasonOf({ ...r, message: 'a sentence worded otherwise' }, fmt));
    expect(read.map((r) => [r.key, r.params])).toEqual([
      ['batteryLow', { battery: 12, min: 30 }],
      ['storageLow', { free: '3.0 GB', need: '16.0 GB', hours: 8, rate: 2 }],
      ['clockBehind', { s: 420, max: 30 }],
      ['clockAheadEstimated', { s: 120, max: 30 }],
      ['clockNotRead', {}],
      ['batteryUnknown', {}],
      ['storageUnknown', {}],
      ['clockUnknown', {}],
      ['unidentified', {}],
      ['notMounted', { detail: 'not switched to mass storage' }],
      ['notAsked', { detail: 'not asked over USB' }],
      ['notInService', { status: 'in-repair' }],
      ['healthUnreadable', { detail: 'RECORDER_STATUS_INVALID: bad' }],
    ]);
    // The sentence stays with it (the item's title), as the daemon logged it.
    expect(read.every((r) => r.text === 'a sentence worded otherwise')).toBe(true);
    const behindEstimated = assessHealth({ batteryPercent: 80, storageFreeBytes: 30 * GB, storageTotalBytes: 32 * GB, clockDriftMs: -120_000, deviceClock: null, clockDriftMethod: 'newest-file-estimate' }, t);
    expect(behindEstimated.reasons.map((r) => reasonOf(r, fmt).key)).toEqual(['clockBehindEstimated']);
  });

  it('has words in both languages for every code the check gives', async () => {
    const [zh, en] = await Promise.all([locale('zh-CN.json'), locale('en.json')]);
    const reasons = everyReason();
    expect(new Set(reasons.map((r) => r.code))).toEqual(new Set(HEALTH_REASON_CODES));
    for (const r of reasons) {
      const { key } = reasonOf(r, fmt);
      expect(key, r.code).not.toBeNull();
      expect(zh[key!], r.code).toBeDefined();
      expect(en[key!], r.code).toBeDefined();
    }
  });

  it('reads a reason without a code from its sentence: every sentence the check writes, with its figures', () => {
    const sentencesOnly = (r: HealthReason): ReasonDetail => ({ code: null, message: r.message, params: {} });
    const low = assessHealth({ batteryPercent: 12, storageFreeBytes: 3 * GB, storageTotalBytes: 32 * GB, clockDriftMs: -420_000, deviceClock: null, clockDriftMethod: 'device-clock' }, t);
    const read = low.reasons.map((r) => reasonOf(sentencesOnly(r), fmt));
    expect(read.map((r) => r.key)).toEqual(['batteryLow', 'storageLow', 'clockBehind']);
    expect(read[0]!.params).toEqual({ battery: '12', min: '30' });
    expect(read[1]!.params).toEqual({ free: '3.0 GB', need: '16.0 GB', hours: '8', rate: '2' });
    expect(read[2]!.params).toEqual({ s: 420, max: '30' });

    const ahead = assessHealth({ batteryPercent: 80, storageFreeBytes: 30 * GB, storageTotalBytes: 32 * GB, clockDriftMs: 120_000, deviceClock: null, clockDriftMethod: 'newest-file-estimate' }, t);
    expect(ahead.reasons.map((r) => readReason(r.message).key)).toEqual(['clockAheadEstimated']);

    const unknown = assessHealth({ batteryPercent: null, storageFreeBytes: null, storageTotalBytes: null, clockDriftMs: null, deviceClock: null, clockDriftMethod: null } as never, t);
    expect(unknown.reasons.map((r) => readReason(r.message).key)).toEqual(['batteryUnknown', 'storageUnknown', 'clockUnknown']);

    const none = assessHealth(null, t, { identified: false, recorderStatus: 'in-repair', healthError: 'RECORDER_STATUS_INVALID: bad' });
    expect(none.reasons.map((r) => readReason(r.message).key)).toEqual(['unidentified', 'notInService', 'healthUnreadable']);
  });

  it('falls back to the sentence when the figures are not what the code promises, and shows a sentence it cannot read as sent', () => {
    expect(reasonOf({ code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %', params: {} }, fmt)).toEqual({ key: 'batteryLow', params: { battery: '12', min: '30' }, text: 'battery 12 % is below 30 %' });
    expect(reasonOf({ code: 'CLOCK_DRIFT', message: 'something new', params: { driftSeconds: '5' } }, fmt)).toEqual({ key: null, params: {}, text: 'something new' });
    expect(reasonOf({ code: null, message: 'something new', params: {} }, fmt)).toEqual({ key: null, params: {}, text: 'something new' });
    expect(readReason('something new')).toEqual({ key: null, params: {}, text: 'something new' });
  });
});
