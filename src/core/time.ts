/** RFC 3339 UTC with milliseconds, e.g. 2026-11-27T14:34:45.123Z. */
export function rfc3339(d: Date): string {
  return d.toISOString();
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
