/**
 * The pre-duty check's reasons in the page's language (issue 15). The API gives each
 * reason as a stable code with the figures its sentence was made of
 * (`reasonDetails`); the page says it with its own words from those. Only a reason
 * without a code (a dock recorded before codes were kept with it) is read from its
 * English sentence, and one the page cannot read either is shown as sent, so nothing
 * is hidden.
 */
import type { ReasonDetail } from '../../api/types.js';

export interface Reason {
  /** Locale key under docks.reason, or null: show `text` as it is. */
  key: string | null;
  params: Record<string, string | number>;
  /** The sentence the daemon logs (shown when there is no key, and as the item's title). */
  text: string;
}

/** How the page writes a size (format.ts `bytes`; passed in so this stays free of the page's set-up). */
export interface ReasonFormat {
  bytes(n: number): string;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

/** Key and params from a code and its figures; null when the figures are not what the code promises. */
function fromCode(d: ReasonDetail, fmt: ReasonFormat): Pick<Reason, 'key' | 'params'> | null {
  const p = d.params;
  switch (d.code) {
    case 'BATTERY_LOW':
      return num(p.batteryPercent) && num(p.minBatteryPercent) ? { key: 'batteryLow', params: { battery: p.batteryPercent, min: p.minBatteryPercent } } : null;
    case 'BATTERY_UNKNOWN':
      return { key: 'batteryUnknown', params: {} };
    case 'STORAGE_LOW':
      return num(p.freeBytes) && num(p.requiredBytes) && num(p.shiftHours) && num(p.recordingGbPerHour)
        ? { key: 'storageLow', params: { free: fmt.bytes(p.freeBytes), need: fmt.bytes(p.requiredBytes), hours: p.shiftHours, rate: p.recordingGbPerHour } }
        : null;
    case 'STORAGE_UNKNOWN':
      return { key: 'storageUnknown', params: {} };
    case 'CLOCK_DRIFT': {
      if (!num(p.driftSeconds) || !num(p.maxClockDriftSeconds) || typeof p.estimated !== 'boolean') return null;
      const key = `clock${p.driftSeconds > 0 ? 'Ahead' : 'Behind'}${p.estimated ? 'Estimated' : ''}`;
      return { key, params: { s: Math.abs(p.driftSeconds), max: p.maxClockDriftSeconds } };
    }
    case 'CLOCK_UNKNOWN':
      return { key: p.estimated === true ? 'clockNotRead' : 'clockUnknown', params: {} };
    case 'RECORDER_UNIDENTIFIED':
      return { key: 'unidentified', params: {} };
    case 'RECORDER_NOT_IN_SERVICE':
      return str(p.status) ? { key: 'notInService', params: { status: p.status } } : null;
    case 'HEALTH_UNREADABLE':
      return { key: 'healthUnreadable', params: { detail: str(p.error) ? p.error : '' } };
    case 'DEVICE_NOT_ASKED':
      return { key: 'notAsked', params: { detail: str(p.detail) ? p.detail : '' } };
    case 'STORAGE_NOT_MOUNTED':
      return { key: 'notMounted', params: { detail: str(p.detail) ? p.detail : '' } };
    default:
      return null;
  }
}

/** A reason to show: by its code and figures; by its sentence only when it has no code (or figures the code does not promise). */
export function reasonOf(d: ReasonDetail, fmt: ReasonFormat): Reason {
  const r = d.code === null ? null : fromCode(d, fmt);
  return r ? { ...r, text: d.message } : readReason(d.message);
}

// The fallback: a dock recorded before its reasons had codes (docks.reason_details NULL)
// gives only the sentences, which are read back here. Kept in step with the sentences
// src/devices/health-check.ts wrote then; new reasons need no rule here.

const secs = (signed: string): number => Number(signed.replace(/[+\s]/g, '').replace(/s$/, ''));

const RULES: Array<[RegExp, (m: RegExpExecArray) => Pick<Reason, 'key' | 'params'>]> = [
  [/^battery (\d+) % is below (\d+) %$/, (m) => ({ key: 'batteryLow', params: { battery: m[1]!, min: m[2]! } })],
  [/^battery charge unknown$/, () => ({ key: 'batteryUnknown', params: {} })],
  [/^free space (\S+ [KMGT]?B) is less than a shift's worth \((\S+ [KMGT]?B): (\d+(?:\.\d+)?) h at (\d+(?:\.\d+)?) GB\/h\)$/, (m) => ({ key: 'storageLow', params: { free: m[1]!, need: m[2]!, hours: m[3]!, rate: m[4]! } })],
  [/^free space unknown$/, () => ({ key: 'storageUnknown', params: {} })],
  [/^device clock at least ([+-]?\d+ s) \((?:ahead of|behind) the station, estimated from the newest file\) is beyond ±(\d+) s$/, (m) => ({ key: secs(m[1]!) > 0 ? 'clockAheadEstimated' : 'clockBehindEstimated', params: { s: Math.abs(secs(m[1]!)), max: m[2]! } })],
  [/^device clock ([+-]?\d+ s) \((?:ahead of|behind) the station\) is beyond ±(\d+) s$/, (m) => ({ key: secs(m[1]!) > 0 ? 'clockAhead' : 'clockBehind', params: { s: Math.abs(secs(m[1]!)), max: m[2]! } })],
  [/^device clock unknown$/, () => ({ key: 'clockUnknown', params: {} })],
  [/^device clock not read; the newest file shows no drift beyond the limit$/, () => ({ key: 'clockNotRead', params: {} })],
  [/^the recorder could not be identified$/, () => ({ key: 'unidentified', params: {} })],
  [/^the recorder is registered as (reported-damaged|in-repair|retired)$/, (m) => ({ key: 'notInService', params: { status: m[1]! } })],
  [/^health could not be read(?:: (.*))?$/, (m) => ({ key: 'healthUnreadable', params: { detail: m[1] ?? '' } })],
];

/** A reason from its sentence alone (no code): the fallback for docks recorded before codes were kept. */
export function readReason(text: string): Reason {
  for (const [re, f] of RULES) {
    const m = re.exec(text);
    if (m) return { ...f(m), text };
  }
  return { key: null, params: {}, text };
}
