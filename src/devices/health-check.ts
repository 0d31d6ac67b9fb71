import type { RecorderHealth } from './driver.js';

/** Limits of the pre-duty check (config `health`). */
export interface HealthThresholds {
  /** Below this battery charge (percent) a recorder is not ready. */
  minBatteryPercent: number;
  /** A clock further than this from the station's (either way) is not ready. */
  maxClockDriftSeconds: number;
  /** A shift's worth of free space: shiftHours x recordingGbPerHour. */
  shiftHours: number;
  recordingGbPerHour: number;
  /**
   * An unchecked recorder (battery, clock or free space unknown) counts as not ready.
   * A model profile may say otherwise (`unknownIsNotReady` in recorders.yaml).
   */
  unknownIsNotReady: boolean;
}

export type HealthReasonCode =
  | 'BATTERY_LOW'
  | 'BATTERY_UNKNOWN'
  | 'STORAGE_LOW'
  | 'STORAGE_UNKNOWN'
  | 'CLOCK_DRIFT'
  | 'CLOCK_UNKNOWN'
  | 'HEALTH_UNREADABLE'
  | 'RECORDER_UNIDENTIFIED'
  | 'RECORDER_NOT_IN_SERVICE'
  /** The recorder itself was not asked (a GA/T 947.4 USB recorder met already mounted): unchecked. */
  | 'DEVICE_NOT_ASKED'
  /** A GA/T 947.4 USB recorder's storage was not mounted (not switched, or no mount came): nothing could be ingested. */
  | 'STORAGE_NOT_MOUNTED';

/** Why a recorder is not ready: a stable code and a sentence for people. */
export interface HealthReason {
  code: HealthReasonCode;
  message: string;
}

/** What the dock counts as for duty (the docks row and the API's `verdict`). */
export type Verdict = 'ready' | 'not-ready';

/**
 * The honest verdict: 就绪 ready, 未就绪 not ready (a limit failed, with its reasons), or
 * 未检测 unchecked (battery, clock or free space could not be read, and nothing read
 * failed a limit). Whether unchecked counts as not ready is `unknownIsNotReady`'s call.
 */
export type HealthState = 'ready' | 'not-ready' | 'unchecked';

export const HEALTH_STATES = ['ready', 'not-ready', 'unchecked'] as const;

/** The verdicts as a user reads them. */
export const HEALTH_STATE_ZH: Readonly<Record<HealthState, string>> = { ready: '就绪', 'not-ready': '未就绪', unchecked: '未检测' };

/** Reasons that say something could not be checked, rather than that a check failed. */
const UNCHECKED_CODES = new Set<HealthReasonCode>(['BATTERY_UNKNOWN', 'STORAGE_UNKNOWN', 'CLOCK_UNKNOWN', 'HEALTH_UNREADABLE', 'DEVICE_NOT_ASKED']);

export interface HealthAssessment {
  verdict: Verdict;
  state: HealthState;
  /** Every limit failed and everything not checked (listed whatever `unknownIsNotReady` says). */
  reasons: HealthReason[];
  /** The free space a shift needs, bytes. */
  requiredFreeBytes: number;
}

const GB = 1e9;

function gb(n: number): string {
  return `${(n / GB).toFixed(1)} GB`;
}

function signedSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${s >= 0 ? '+' : ''}${s} s`;
}

/**
 * The pre-duty verdict (the rules' Att.1 Art.4: battery, free memory, date and time).
 * Pure: the same snapshot and limits always give the same verdict, so the verdict in
 * the ledger can be recomputed from the snapshot stored beside it.
 *
 * `health` null means it could not be read at all. The clock drift must be the one
 * measured before any clock sync.
 */
export function assessHealth(
  health: RecorderHealth | null,
  t: HealthThresholds,
  extra: { identified?: boolean; recorderStatus?: string | null; healthError?: string | null; notAsked?: string | null; notMounted?: string | null } = {},
): HealthAssessment {
  const reasons: HealthReason[] = [];
  const requiredFreeBytes = Math.round(t.shiftHours * t.recordingGbPerHour * GB);
  if (extra.identified === false) reasons.push({ code: 'RECORDER_UNIDENTIFIED', message: 'the recorder could not be identified' });
  if (extra.notMounted) reasons.push({ code: 'STORAGE_NOT_MOUNTED', message: extra.notMounted });
  if (extra.notAsked) reasons.push({ code: 'DEVICE_NOT_ASKED', message: extra.notAsked });
  if (extra.recorderStatus && extra.recorderStatus !== 'in-service') {
    reasons.push({ code: 'RECORDER_NOT_IN_SERVICE', message: `the recorder is registered as ${extra.recorderStatus}` });
  }
  if (!health) {
    reasons.push({ code: 'HEALTH_UNREADABLE', message: `health could not be read${extra.healthError ? `: ${extra.healthError}` : ''}` });
    return decide(reasons, t, requiredFreeBytes);
  }

  if (health.batteryPercent === null) {
    reasons.push({ code: 'BATTERY_UNKNOWN', message: 'battery charge unknown' });
  } else if (health.batteryPercent < t.minBatteryPercent) {
    reasons.push({ code: 'BATTERY_LOW', message: `battery ${health.batteryPercent} % is below ${t.minBatteryPercent} %` });
  }

  if (health.storageFreeBytes === null) {
    reasons.push({ code: 'STORAGE_UNKNOWN', message: 'free space unknown' });
  } else if (health.storageFreeBytes < requiredFreeBytes) {
    reasons.push({
      code: 'STORAGE_LOW',
      message: `free space ${gb(health.storageFreeBytes)} is less than a shift's worth (${gb(requiredFreeBytes)}: ${t.shiftHours} h at ${t.recordingGbPerHour} GB/h)`,
    });
  }

  const estimated = health.clockDriftMethod === 'newest-file-estimate';
  if (health.clockDriftMs === null) {
    reasons.push({ code: 'CLOCK_UNKNOWN', message: 'device clock unknown' });
  } else if (Math.abs(health.clockDriftMs) > t.maxClockDriftSeconds * 1000) {
    const dir = health.clockDriftMs > 0 ? 'ahead of' : 'behind';
    reasons.push({
      code: 'CLOCK_DRIFT',
      message: estimated
        ? `device clock at least ${signedSeconds(health.clockDriftMs)} (${dir} the station, estimated from the newest file) is beyond ±${t.maxClockDriftSeconds} s`
        : `device clock ${signedSeconds(health.clockDriftMs)} (${dir} the station) is beyond ±${t.maxClockDriftSeconds} s`,
    });
  } else if (estimated) {
    // A lower bound within the limit says nothing about a clock that is behind.
    reasons.push({ code: 'CLOCK_UNKNOWN', message: 'device clock not read; the newest file shows no drift beyond the limit' });
  }

  return decide(reasons, t, requiredFreeBytes);
}

/** A failed limit makes it not ready; otherwise anything unread makes it unchecked. */
function decide(reasons: HealthReason[], t: HealthThresholds, requiredFreeBytes: number): HealthAssessment {
  const failed = reasons.some((r) => !UNCHECKED_CODES.has(r.code));
  const state: HealthState = failed ? 'not-ready' : reasons.length > 0 ? 'unchecked' : 'ready';
  const verdict: Verdict = state === 'ready' || (state === 'unchecked' && !t.unknownIsNotReady) ? 'ready' : 'not-ready';
  return { verdict, state, reasons, requiredFreeBytes };
}
