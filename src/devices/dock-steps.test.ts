import { describe, expect, it } from 'vitest';
import { beforeMountRecord, clockSyncDecision, driftMethodOf, notMountedReason, readingBeforeMount, sessionSkipReason, thresholdsFor } from './dock-steps.js';
import { assessHealth, type HealthThresholds } from './health-check.js';

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

describe('dock check: a GA/T 947.4 USB recorder whose storage was not mounted (issue 16)', () => {
  const wrong = { code: 'GAT947_PASSWORD_WRONG' as const, message: 'getDevInfo: the device password was refused' };
  const reading = { identity: null, identifyError: wrong, health: null, healthError: wrong, port: '1-3', readAt: new Date('2026-12-02T01:00:00Z'), clockSetTo: null, clockError: null, msdc: false, msdcAt: null, msdcError: wrong };

  it('says why nothing was mounted: not switched (with the code), or switched with no mount in time', () => {
    expect(notMountedReason(reading, 60)).toBe('not switched to mass storage (GAT947_PASSWORD_WRONG: getDevInfo: the device password was refused): nothing could be ingested');
    expect(notMountedReason({ ...reading, msdc: true, msdcError: null }, 60)).toMatch(/^switched to mass storage, but no storage of it was mounted under a watched root within 60 s/);
  });

  it('reads the dock from the reading, each failure with its code; the session is skipped for the reason', () => {
    expect(readingBeforeMount(reading)).toEqual({
      identity: null,
      identifyError: 'GAT947_PASSWORD_WRONG: getDevInfo: the device password was refused',
      health: null,
      healthError: 'GAT947_PASSWORD_WRONG: getDevInfo: the device password was refused',
    });
    const id = { identified: true, identifyError: null, gone: false, accepting: true };
    expect(sessionSkipReason({ ...id, notMounted: 'not switched' })).toBe('not switched');
    expect(sessionSkipReason({ ...id, notMounted: null })).toBeNull();
    expect(sessionSkipReason({ ...id, identified: false, identifyError: 'x', notMounted: 'not switched' })).toBe('unidentified: x');
  });

  it('keeps when it was read, the clock set and the switch, for the ledger', () => {
    expect(beforeMountRecord({ ...reading, clockSetTo: new Date('2026-12-02T01:00:01Z'), msdc: true, msdcAt: new Date('2026-12-02T01:00:02Z'), msdcError: null })).toEqual({
      port: '1-3',
      readAt: '2026-12-02T01:00:00.000Z',
      clockSetTo: '2026-12-02T01:00:01.000Z',
      clockError: null,
      switchedToMassStorage: true,
      switchedAt: '2026-12-02T01:00:02.000Z',
      msdcError: null,
    });
  });

  it('a storage not mounted fails the check; a recorder not asked leaves it unchecked, saying why', () => {
    const h = { batteryPercent: 90, deviceClock: null, clockDriftMs: 0, clockDriftMethod: 'device-clock' as const, storageTotalBytes: 64e9, storageFreeBytes: 60e9 };
    expect(assessHealth(h, base, { notMounted: 'not switched' })).toMatchObject({ state: 'not-ready', reasons: [{ code: 'STORAGE_NOT_MOUNTED', message: 'not switched' }] });
    const notRead = { ...h, batteryPercent: null, clockDriftMs: null, clockDriftMethod: null };
    const a = assessHealth(notRead, { ...base, unknownIsNotReady: false }, { notAsked: 'not asked: mounted' });
    expect(a).toMatchObject({ state: 'unchecked', verdict: 'ready' });
    expect(a.reasons.map((r) => r.code)).toEqual(['DEVICE_NOT_ASKED', 'BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);
  });
});
