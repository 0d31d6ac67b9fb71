import { describe, expect, it } from 'vitest';
import { clockSyncDecision, driftMethodOf, sessionSkipReason, thresholdsFor } from './dock-steps.js';
import type { HealthThresholds } from './health-check.js';

const base: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 60, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };

describe('dock check: thresholds (issue 13)', () => {
  it('uses the station thresholds when the profile says nothing', () => {
    expect(thresholdsFor({}, base)).toBe(base);
  });

  it('lets the model profile say whether an unchecked recorder counts as not ready, the rest kept', () => {
    expect(thresholdsFor({ unknownIsNotReady: false }, base)).toEqual({ ...base, unknownIsNotReady: false });
    expect(base.unknownIsNotReady).toBe(true);
  });
});

describe('dock check: how the drift was found (issue 13)', () => {
  const statusFile = { status: { source: 'status-file' } };
  const usb = { status: { source: 'none' } };

  it('is null without a drift', () => {
    expect(driftMethodOf(null, statusFile)).toBeNull();
    expect(driftMethodOf({ clockDriftMs: null }, statusFile)).toBeNull();
  });

  it('is what the driver says when it says', () => {
    expect(driftMethodOf({ clockDriftMs: 5000, clockDriftMethod: 'newest-file-estimate' }, statusFile)).toBe('newest-file-estimate');
  });

  it('otherwise was read from the recorder: its status file, or its clock', () => {
    expect(driftMethodOf({ clockDriftMs: 0 }, statusFile)).toBe('status-file');
    expect(driftMethodOf({ clockDriftMs: -3000 }, usb)).toBe('device-clock');
  });
});

describe('dock session: when none runs (issue 13)', () => {
  const ok = { identified: true, identifyError: null, gone: false, accepting: true };

  it('runs for an identified recorder still docked, whatever its verdict', () => {
    expect(sessionSkipReason(ok)).toBeNull();
  });

  it('never for an unidentified recorder: identity is never invented', () => {
    expect(sessionSkipReason({ ...ok, identified: false, identifyError: 'no status file' })).toBe('unidentified: no status file');
    expect(sessionSkipReason({ ...ok, identified: false, gone: true })).toBe('unidentified: unknown');
  });

  it('not for a recorder removed during its check, nor while custody stops', () => {
    expect(sessionSkipReason({ ...ok, gone: true })).toBe('removed during the health check');
    expect(sessionSkipReason({ ...ok, accepting: false })).toBe('custody is stopping');
  });
});

describe('dock clock sync: only after every file is in (issue 13)', () => {
  const ok = { report: { status: 'complete' as const, failed: 0 }, syncClock: true, driverCanSync: true, gone: false, accepting: true };

  it('syncs after a complete session with nothing failed', () => {
    expect(clockSyncDecision(ok)).toBe('sync');
  });

  it('keeps the clock while files are still to be ingested with the measured drift', () => {
    expect(clockSyncDecision({ ...ok, report: { status: 'complete', failed: 1 } })).toBe('incomplete');
    expect(clockSyncDecision({ ...ok, report: { status: 'recorder-gone', failed: 0 } })).toBe('incomplete');
  });

  it('never without a session, when syncing is off, the driver cannot, the recorder went or custody stops', () => {
    expect(clockSyncDecision({ ...ok, report: null })).toBe('no');
    expect(clockSyncDecision({ ...ok, syncClock: false })).toBe('no');
    expect(clockSyncDecision({ ...ok, driverCanSync: false })).toBe('no');
    expect(clockSyncDecision({ ...ok, gone: true })).toBe('no');
    expect(clockSyncDecision({ ...ok, accepting: false })).toBe('no');
  });
});
