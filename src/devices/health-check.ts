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
  /** An unknown battery, clock or free space makes a recorder not ready. */
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
  | 'RECORDER_NOT_IN_SERVICE';

/** Why a recorder is not ready: a stable code and a sentence for people. */
export interface HealthReason {
  code: HealthReasonCode;
  message: string;
}

export type Verdict = 'ready' | 'not-ready';

export interface HealthAssessment {
  verdict: Verdict;
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
  extra: { identified?: boolean; recorderStatus?: string | null; healthError?: string | null } = {},
): HealthAssessment {
  const reasons: HealthReason[] = [];
  const requiredFreeBytes = Math.round(t.shiftHours * t.recordingGbPerHour * GB);
  if (extra.identified === false) reasons.push({ code: 'RECORDER_UNIDENTIFIED', message: 'the recorder could not be identified' });
  if (extra.recorderStatus && extra.recorderStatus !== 'in-service') {
    reasons.push({ code: 'RECORDER_NOT_IN_SERVICE', message: `the recorder is registered as ${extra.recorderStatus}` });
  }
  if (!health) {
    reasons.push({ code: 'HEALTH_UNREADABLE', message: `health could not be read${extra.healthError ? `: ${extra.healthError}` : ''}` });
    return { verdict: 'not-ready', reasons, requiredFreeBytes };
  }

  if (health.batteryPercent === null) {
    if (t.unknownIsNotReady) reasons.push({ code: 'BATTERY_UNKNOWN', message: 'battery charge unknown' });
  } else if (health.batteryPercent < t.minBatteryPercent) {
    reasons.push({ code: 'BATTERY_LOW', message: `battery ${health.batteryPercent} % is below ${t.minBatteryPercent} %` });
  }

  if (health.storageFreeBytes === null) {
    if (t.unknownIsNotReady) reasons.push({ code: 'STORAGE_UNKNOWN', message: 'free space unknown' });
  } else if (health.storageFreeBytes < requiredFreeBytes) {
    reasons.push({
      code: 'STORAGE_LOW',
      message: `free space ${gb(health.storageFreeBytes)} is less than a shift's worth (${gb(requiredFreeBytes)}: ${t.shiftHours} h at ${t.recordingGbPerHour} GB/h)`,
    });
  }

  if (health.clockDriftMs === null) {
    if (t.unknownIsNotReady) reasons.push({ code: 'CLOCK_UNKNOWN', message: 'device clock unknown' });
  } else if (Math.abs(health.clockDriftMs) > t.maxClockDriftSeconds * 1000) {
    const dir = health.clockDriftMs > 0 ? 'ahead of' : 'behind';
    reasons.push({
      code: 'CLOCK_DRIFT',
      message: `device clock ${signedSeconds(health.clockDriftMs)} (${dir} the station) is beyond ±${t.maxClockDriftSeconds} s`,
    });
  }

  return { verdict: reasons.length === 0 ? 'ready' : 'not-ready', reasons, requiredFreeBytes };
}
