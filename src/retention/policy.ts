import { DateTime } from 'luxon';

/**
 * The retention policy (Art. 11): an item is kept `months` calendar months after it
 * was recorded, counted on the calendar of the configured zone, and never less than
 * `minDaysAfterIngest` days after it was ingested. Pure functions: no clock, no I/O.
 * The calendar arithmetic is luxon's, as everywhere else in custody.
 */

export interface RetentionPolicy {
  months: number;
  minDaysAfterIngest: number;
  noticeDays: number;
  timezone: string;
}

export const DAY_MS = 86_400_000;

/**
 * A wall-clock time luxon has placed in the zone, as an instant. A time that does not
 * exist (skipped by a daylight-saving change) has been moved forward by the gap; one
 * that exists twice (the hour repeated when clocks go back) takes the earlier instant,
 * whichever offset luxon tried first, so a date never depends on the season of the
 * time it was counted from.
 */
function earliest(dt: DateTime): Date {
  const candidates = dt.getPossibleOffsets();
  const times = (candidates.length > 0 ? candidates : [dt]).map((c) => c.toMillis());
  return new Date(Math.min(...times));
}

/**
 * `t` plus `months` calendar months in the zone, at the same local time; a day that
 * the target month lacks becomes its last day (31 Aug + 6 months = 28 Feb, or 29 Feb
 * in a leap year).
 */
export function addCalendarMonths(t: Date, months: number, timeZone: string): Date {
  return earliest(DateTime.fromJSDate(t, { zone: timeZone }).plus({ months }));
}

/** When an item may be purged: the later of recorded + months and ingested + minimum days. */
export function retentionDate(item: { recordedAt: string; ingestedAt: string }, policy: Pick<RetentionPolicy, 'months' | 'minDaysAfterIngest' | 'timezone'>): Date {
  const byRecording = addCalendarMonths(new Date(item.recordedAt), policy.months, policy.timezone);
  const byIngest = new Date(new Date(item.ingestedAt).getTime() + policy.minDaysAfterIngest * DAY_MS);
  return byRecording.getTime() >= byIngest.getTime() ? byRecording : byIngest;
}

/**
 * The next instant at local time HH:MM in the zone strictly after `now` (the daemon's
 * daily purge run).
 */
export function nextDailyAt(now: Date, hhmm: string, timeZone: string): Date {
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number];
  const today = DateTime.fromJSDate(now, { zone: timeZone }).startOf('day');
  for (let add = 0; add < 3; add++) {
    const t = earliest(today.plus({ days: add }).set({ hour, minute, second: 0, millisecond: 0 }));
    if (t.getTime() > now.getTime()) return t;
  }
  return new Date(now.getTime() + DAY_MS);
}
