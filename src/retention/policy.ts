/**
 * The retention policy (Art. 11): an item is kept `months` calendar months after it
 * was recorded, counted on the calendar of the configured zone, and never less than
 * `minDaysAfterIngest` days after it was ingested. Pure functions: no clock, no I/O.
 */

export interface RetentionPolicy {
  months: number;
  minDaysAfterIngest: number;
  noticeDays: number;
  timezone: string;
}

export const DAY_MS = 86_400_000;

interface LocalParts {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a zone. */
export function localParts(t: Date, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(t)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
    ms: t.getUTCMilliseconds(),
  };
}

/** Offset of the zone from UTC at an instant, in ms (Asia/Shanghai: +8 h). */
function offsetMs(t: Date, timeZone: string): number {
  const p = localParts(t, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, p.ms) - t.getTime();
}

/**
 * The instant of a wall-clock time in a zone. A time that does not exist (skipped by
 * a daylight-saving change) moves forward by the gap; an ambiguous one takes the
 * earlier instant.
 */
export function fromLocal(p: LocalParts, timeZone: string): Date {
  const naive = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, p.ms);
  let t = naive - offsetMs(new Date(naive), timeZone);
  const again = naive - offsetMs(new Date(t), timeZone);
  if (again !== t) t = Math.min(t, again);
  return new Date(t);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `t` plus `months` calendar months in the zone, at the same local time; a day that
 * the target month lacks becomes its last day (31 Aug + 6 months = 28 Feb, or 29 Feb
 * in a leap year).
 */
export function addCalendarMonths(t: Date, months: number, timeZone: string): Date {
  const p = localParts(t, timeZone);
  const index = p.year * 12 + (p.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return fromLocal({ ...p, year, month, day: Math.min(p.day, daysInMonth(year, month)) }, timeZone);
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
  const today = localParts(now, timeZone);
  for (let add = 0; add < 3; add++) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + add));
    const t = fromLocal({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour, minute, second: 0, ms: 0 }, timeZone);
    if (t.getTime() > now.getTime()) return t;
  }
  return new Date(now.getTime() + DAY_MS);
}
