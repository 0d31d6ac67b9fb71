import { DateTime } from 'luxon';

export type RecordedSource = 'metadata' | 'filename' | 'mtime';

export interface RecordedTime {
  /** As the recorder's clock said. */
  start: Date;
  end: Date | null;
  source: RecordedSource;
  /** Corrected by the clock drift measured at dock, when one was measured. */
  startCorrected: Date | null;
  endCorrected: Date | null;
}

// 20261120083000, 20261120_083000, 2026-11-20_08-30-00, 2026-11-20 08.30.00, …
const NAME_TS = /(?<!\d)(20\d{2}|19\d{2})[-_.]?(\d{2})[-_.]?(\d{2})[-_. T]?(\d{2})[-_.:]?(\d{2})[-_.:]?(\d{2})(?!\d)/;

const hourOffsets = new Map<string, number | null>();
const HOUR_OFFSETS_MAX = 10_000;

/**
 * The zone's UTC offset in minutes through a whole local hour, as luxon reads the hour's
 * first and last second; null when it differs between them (a clock change within the
 * hour) or either is not a real time. Remembered per zone and hour: a recorder's files
 * fall in the few hours of a shift, and luxon's zoned reading costs an Intl lookup each
 * time (about 45 µs a file here, on the ingest's event loop).
 */
function offsetOfHour(zone: string, year: number, month: number, day: number, hour: number): number | null {
  const key = `${zone} ${year} ${month} ${day} ${hour}`;
  const known = hourOffsets.get(key);
  if (known !== undefined) return known;
  const first = DateTime.fromObject({ year, month, day, hour, minute: 0, second: 0 }, { zone });
  const last = DateTime.fromObject({ year, month, day, hour, minute: 59, second: 59 }, { zone });
  // Both ends must be the times asked for (a skipped start is moved on by luxon).
  const exact = (dt: DateTime, minute: number, second: number): boolean =>
    dt.isValid && dt.month === month && dt.day === day && dt.hour === hour && dt.minute === minute && dt.second === second;
  const whole = exact(first, 0, 0) && exact(last, 59, 59) && first.offset === last.offset;
  if (hourOffsets.size >= HOUR_OFFSETS_MAX) hourOffsets.clear();
  hourOffsets.set(key, whole ? first.offset : null);
  return whole ? first.offset : null;
}

/**
 * A timestamp in a recorder's file name, read as local time in the bureau's zone
 * (recorders name files by their own local clock). Null when there is none or it
 * is not a real date and time.
 */
export function timestampFromName(name: string, zone: string): Date | null {
  const m = NAME_TS.exec(name);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mi > 59 || s > 59) return null;
  const offset = offsetOfHour(zone, y, mo, d, h);
  if (offset !== null) return new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offset * 60_000);
  // An hour with a clock change in it, or no such hour: luxon decides, as for every file before.
  const dt = DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: mi, second: s }, { zone });
  if (!dt.isValid) return null;
  // Luxon rolls invalid fields over in some zones; insist the fields survived.
  if (dt.month !== mo || dt.day !== d || dt.hour !== h || dt.minute !== mi) return null;
  return dt.toJSDate();
}

/** A creation time earlier than this is a recorder whose clock was never set. */
const EPOCH_FLOOR = Date.UTC(2000, 0, 1);

/**
 * Recorded time: container metadata first, then the file name, then mtime; the
 * source used is kept. Duration, when known, gives the end. mtime is when the
 * recorder closed the file, so from mtime the start is mtime - duration.
 */
export function recordedTime(input: {
  name: string;
  mtimeMs: number;
  creationTime: Date | null;
  durationMs: number | null;
  zone: string;
  clockDriftMs: number | null;
}): RecordedTime {
  const { durationMs } = input;
  let start: Date;
  let source: RecordedSource;
  const fromMetadata = input.creationTime && input.creationTime.getTime() >= EPOCH_FLOOR ? input.creationTime : null;
  // The name is read only when the metadata has no time: a zoned date costs tens of microseconds.
  const fromName = fromMetadata ? null : timestampFromName(input.name, input.zone);
  if (fromMetadata) {
    start = fromMetadata;
    source = 'metadata';
  } else if (fromName) {
    start = fromName;
    source = 'filename';
  } else {
    start = new Date(input.mtimeMs - (durationMs ?? 0));
    source = 'mtime';
  }
  const end = durationMs !== null ? new Date(start.getTime() + durationMs) : null;
  const drift = input.clockDriftMs;
  return {
    start,
    end,
    source,
    startCorrected: drift === null ? null : new Date(start.getTime() - drift),
    endCorrected: drift === null || end === null ? null : new Date(end.getTime() - drift),
  };
}
