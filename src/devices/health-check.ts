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

/**
 * The figures each reason's sentence is made of, by code (issue 15): what a console or
 * a script reads instead of parsing the sentence, whose wording is the log's and may
 * change. A code with nothing to say has no figures (`{}`).
 */
export type HealthReasonParams = {
  /** The charge read is below the limit. */
  BATTERY_LOW: { batteryPercent: number; minBatteryPercent: number };
  BATTERY_UNKNOWN: NoParams;
  /** Free space is less than a shift's worth: requiredBytes = shiftHours x recordingGbPerHour GB. */
  STORAGE_LOW: { freeBytes: number; requiredBytes: number; shiftHours: number; recordingGbPerHour: number };
  STORAGE_UNKNOWN: NoParams;
  /**
   * The clock is beyond the limit either way: driftMs positive ahead of the station,
   * negative behind; driftSeconds is driftMs rounded, as the sentence gives it.
   * Estimated: a lower bound from the newest file, the clock itself was not read.
   */
  CLOCK_DRIFT: { driftMs: number; driftSeconds: number; maxClockDriftSeconds: number; estimated: boolean };
  /** Estimated: the clock was not read, and the newest file shows no drift beyond the limit (a lower bound says nothing of a clock behind). */
  CLOCK_UNKNOWN: { estimated: boolean };
  /** Why health could not be read ("CODE: message"), when known. */
  HEALTH_UNREADABLE: { error: string | null };
  RECORDER_UNIDENTIFIED: NoParams;
  /** The service status the recorder is registered with (reported-damaged, in-repair, retired). */
  RECORDER_NOT_IN_SERVICE: { status: string };
  /** The recorder itself was not asked (a GA/T 947.4 USB recorder met already mounted): unchecked. `detail`: why. */
  DEVICE_NOT_ASKED: { detail: string };
  /** A GA/T 947.4 USB recorder's storage was not mounted (not switched, or no mount came): nothing could be ingested. `detail`: why. */
  STORAGE_NOT_MOUNTED: { detail: string };
};

type NoParams = Record<string, never>;

export type HealthReasonCode = keyof HealthReasonParams;

/** Every reason code once (a Record, so a code added to HealthReasonParams must be added here), in the order the check gives them. */
const CODE_ORDER: Readonly<Record<HealthReasonCode, true>> = {
  RECORDER_UNIDENTIFIED: true,
  STORAGE_NOT_MOUNTED: true,
  DEVICE_NOT_ASKED: true,
  RECORDER_NOT_IN_SERVICE: true,
  HEALTH_UNREADABLE: true,
  BATTERY_UNKNOWN: true,
  BATTERY_LOW: true,
  STORAGE_UNKNOWN: true,
  STORAGE_LOW: true,
  CLOCK_UNKNOWN: true,
  CLOCK_DRIFT: true,
};

export const HEALTH_REASON_CODES = Object.freeze(Object.keys(CODE_ORDER)) as readonly HealthReasonCode[];

export function isHealthReasonCode(s: unknown): s is HealthReasonCode {
  return typeof s === 'string' && Object.hasOwn(CODE_ORDER, s);
}

/** Why a recorder is not ready: a stable code, a sentence for people (the log's) and the sentence's figures. */
export type HealthReason = { [C in HealthReasonCode]: { code: C; message: string; params: HealthReasonParams[C] } }[HealthReasonCode];

/**
 * A reason as a dock keeps it (`docks.reason_details`) and the API gives it
 * (`reasonDetails`): code null for a dock recorded before codes were kept with it
 * (only its sentence is known then, and params is `{}`).
 */
export interface RecordedReason {
  code: HealthReasonCode | null;
  message: string;
  params: Record<string, string | number | boolean | null>;
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
  if (extra.identified === false) reasons.push({ code: 'RECORDER_UNIDENTIFIED', message: 'the recorder could not be identified', params: {} });
  if (extra.notMounted) reasons.push({ code: 'STORAGE_NOT_MOUNTED', message: extra.notMounted, params: { detail: extra.notMounted } });
  if (extra.notAsked) reasons.push({ code: 'DEVICE_NOT_ASKED', message: extra.notAsked, params: { detail: extra.notAsked } });
  if (extra.recorderStatus && extra.recorderStatus !== 'in-service') {
    reasons.push({ code: 'RECORDER_NOT_IN_SERVICE', message: `the recorder is registered as ${extra.recorderStatus}`, params: { status: extra.recorderStatus } });
  }
  if (!health) {
    reasons.push({
      code: 'HEALTH_UNREADABLE',
      message: `health could not be read${extra.healthError ? `: ${extra.healthError}` : ''}`,
      params: { error: extra.healthError || null },
    });
    return decide(reasons, t, requiredFreeBytes);
  }

  if (health.batteryPercent === null) {
    reasons.push({ code: 'BATTERY_UNKNOWN', message: 'battery charge unknown', params: {} });
  } else if (health.batteryPercent < t.minBatteryPercent) {
    reasons.push({
      code: 'BATTERY_LOW',
      message: `battery ${health.batteryPercent} % is below ${t.minBatteryPercent} %`,
      params: { batteryPercent: health.batteryPercent, minBatteryPercent: t.minBatteryPercent },
    });
  }

  if (health.storageFreeBytes === null) {
    reasons.push({ code: 'STORAGE_UNKNOWN', message: 'free space unknown', params: {} });
  } else if (health.storageFreeBytes < requiredFreeBytes) {
    reasons.push({
      code: 'STORAGE_LOW',
      message: `free space ${gb(health.storageFreeBytes)} is less than a shift's worth (${gb(requiredFreeBytes)}: ${t.shiftHours} h at ${t.recordingGbPerHour} GB/h)`,
      params: { freeBytes: health.storageFreeBytes, requiredBytes: requiredFreeBytes, shiftHours: t.shiftHours, recordingGbPerHour: t.recordingGbPerHour },
    });
  }

  const estimated = health.clockDriftMethod === 'newest-file-estimate';
  if (health.clockDriftMs === null) {
    reasons.push({ code: 'CLOCK_UNKNOWN', message: 'device clock unknown', params: { estimated: false } });
  } else if (Math.abs(health.clockDriftMs) > t.maxClockDriftSeconds * 1000) {
    const dir = health.clockDriftMs > 0 ? 'ahead of' : 'behind';
    reasons.push({
      code: 'CLOCK_DRIFT',
      message: estimated
        ? `device clock at least ${signedSeconds(health.clockDriftMs)} (${dir} the station, estimated from the newest file) is beyond ±${t.maxClockDriftSeconds} s`
        : `device clock ${signedSeconds(health.clockDriftMs)} (${dir} the station) is beyond ±${t.maxClockDriftSeconds} s`,
      params: { driftMs: health.clockDriftMs, driftSeconds: Math.round(health.clockDriftMs / 1000), maxClockDriftSeconds: t.maxClockDriftSeconds, estimated },
    });
  } else if (estimated) {
    // A lower bound within the limit says nothing about a clock that is behind.
    reasons.push({ code: 'CLOCK_UNKNOWN', message: 'device clock not read; the newest file shows no drift beyond the limit', params: { estimated: true } });
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
