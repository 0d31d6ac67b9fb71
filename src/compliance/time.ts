import { DateTime } from 'luxon';
import { CustodyError } from '../core/index.js';

/**
 * A time given by a person (CLI, roster, API): RFC 3339 with a zone, or a local
 * "YYYY-MM-DD HH:mm[:ss]" read in the bureau's configured time zone. Returns UTC ISO.
 */
export function parseLocalTime(value: string, timezone: string, what = 'time'): string {
  const s = value.trim().replace(/^(\d{4}-\d{2}-\d{2}) (\d)/u, '$1T$2');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/u.test(s)) {
    throw new CustodyError('INVALID_INPUT', `${what} "${value}" is not a date-time (YYYY-MM-DD HH:mm in ${timezone}, or RFC 3339 with a zone)`);
  }
  const dt = DateTime.fromISO(s, { zone: timezone });
  if (!dt.isValid) throw new CustodyError('INVALID_INPUT', `${what} "${value}" is not a valid date-time (${dt.invalidExplanation ?? dt.invalidReason ?? 'invalid'})`);
  return dt.toUTC().toISO()!;
}

/** A calendar day "YYYY-MM-DD" in the zone: its start as UTC ISO. */
export function startOfLocalDay(day: string, timezone: string, what = 'date'): string {
  if (!/^\d{4}-\d{2}-\d{2}$/u.test(day)) return parseLocalTime(day, timezone, what);
  const dt = DateTime.fromISO(day, { zone: timezone });
  if (!dt.isValid) throw new CustodyError('INVALID_INPUT', `${what} "${day}" is not a valid date`);
  return dt.startOf('day').toUTC().toISO()!;
}

/**
 * `iso` plus `hours` elapsed, as UTC ISO. Hours are elapsed time in every zone (24 hours
 * across a daylight-saving change are 24 hours, not a calendar day), so no zone is
 * needed; plain arithmetic, since the rules ask this for every item they judge.
 */
export function plusHours(iso: string, hours: number): string {
  return new Date(Date.parse(iso) + hours * 3_600_000).toISOString();
}

/** Milliseconds between two ISO times. */
export function msBetween(fromIso: string, toIso: string): number {
  return Date.parse(toIso) - Date.parse(fromIso);
}

/** For people: the time in the bureau's zone, "2026-11-20 08:00:00 +08:00". */
export function localText(iso: string, timezone: string): string {
  return DateTime.fromISO(iso, { zone: timezone }).toFormat('yyyy-MM-dd HH:mm:ss ZZ');
}
