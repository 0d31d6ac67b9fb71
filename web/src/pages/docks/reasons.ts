/**
 * The pre-duty check's reasons in the page's language. The API sends each reason as
 * the English sentence the daemon logs (src/devices/health-check.ts); until it sends
 * the reason's code and figures as well, the console reads those figures back out of
 * the sentence. A sentence it does not know is shown as sent, so nothing is hidden.
 */
export interface Reason {
  /** Locale key under docks.reason, or null: show `text` as it is. */
  key: string | null;
  params: Record<string, string | number>;
  text: string;
}

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

export function readReason(text: string): Reason {
  for (const [re, f] of RULES) {
    const m = re.exec(text);
    if (m) return { ...f(m), text };
  }
  return { key: null, params: {}, text };
}
