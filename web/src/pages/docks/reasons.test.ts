/** Every reason sentence the pre-duty check writes is read back into the console's language. */
import { describe, expect, it } from 'vitest';
import { assessHealth } from '../../../../src/devices/health-check.js';
import { readReason } from './reasons.js';

const t = { minBatteryPercent: 30, shiftHours: 8, recordingGbPerHour: 2, maxClockDriftSeconds: 30 };
const GB = 1e9;

describe('pre-duty reasons', () => {
  it('reads each sentence the check writes, with its figures', () => {
    const low = assessHealth({ batteryPercent: 12, storageFreeBytes: 3 * GB, storageTotalBytes: 32 * GB, clockDriftMs: -420_000, deviceClock: null, clockDriftMethod: 'device-clock' } as never, t as never);
    const read = low.reasons.map((r) => readReason(r.message));
    expect(read.map((r) => r.key)).toEqual(['batteryLow', 'storageLow', 'clockBehind']);
    expect(read[0]!.params).toEqual({ battery: '12', min: '30' });
    expect(read[2]!.params).toEqual({ s: 420, max: '30' });

    const ahead = assessHealth({ batteryPercent: 80, storageFreeBytes: 30 * GB, storageTotalBytes: 32 * GB, clockDriftMs: 120_000, deviceClock: null, clockDriftMethod: 'newest-file-estimate' } as never, t as never);
    expect(ahead.reasons.map((r) => readReason(r.message).key)).toEqual(['clockAheadEstimated']);

    const unknown = assessHealth({ batteryPercent: null, storageFreeBytes: null, storageTotalBytes: null, clockDriftMs: null, deviceClock: null, clockDriftMethod: null } as never, t as never);
    expect(unknown.reasons.map((r) => readReason(r.message).key)).toEqual(['batteryUnknown', 'storageUnknown', 'clockUnknown']);

    const none = assessHealth(null, t as never, { identified: false, recorderStatus: 'in-repair', healthError: 'RECORDER_STATUS_INVALID: bad' });
    expect(none.reasons.map((r) => readReason(r.message).key)).toEqual(['unidentified', 'notInService', 'healthUnreadable']);
  });

  it('shows a sentence it does not know as sent', () => {
    expect(readReason('something new')).toEqual({ key: null, params: {}, text: 'something new' });
  });
});
