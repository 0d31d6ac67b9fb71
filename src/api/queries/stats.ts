import type { Db } from '../../catalog/index.js';

/** Figures for a group of evidence items over a period (Art. 9 and the main text 二(二)4). */
export interface StatsFigures {
  files: number;
  bytes: number;
  /** Sum of known durations, in hours (photos and unprobed items count 0). */
  hoursRecorded: number;
  /** Upload delay: ingested time minus the end of recording (its start when the end is unknown). */
  uploadDelay: { averageHours: number | null; maxHours: number | null };
  /** Items handed in more than the upload deadline (compliance.uploadDeadlineHours) after recording ended (Art. 9). */
  late: number;
}

export interface OfficerStats extends StatsFigures {
  officer: string | null;
  unit: string | null;
}

export interface UnitStats extends StatsFigures {
  unit: string | null;
}

export interface StatsReport {
  from: string;
  to: string;
  /** The deadline `late` was judged by (compliance.uploadDeadlineHours). */
  uploadDeadlineHours: number;
  units: UnitStats[];
  officers: OfficerStats[];
}

interface Row {
  unit: string | null;
  officer: string | null;
  files: number;
  bytes: number;
  duration_ms: number;
  delay_sum_h: number | null;
  delay_max_h: number | null;
  late: number;
}

/**
 * The end of recording as the compliance rules and report take it (docs/compliance.md):
 * the drift-corrected end, else the recorder's end, else the start plus the duration,
 * else the start.
 */
const END = `coalesce(recorded_end_corrected, recorded_end,
  strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at, '+' || (duration_ms / 1000.0) || ' seconds'), recorded_at)`;
/** Whole milliseconds from the end of recording to ingest (rounded, so exactly the deadline is not read as a hair over it). */
const DELAY_MS = `CAST(round((julianday(ingested_at) - julianday(${END})) * 86400000.0) AS INTEGER)`;
/** The upload delay in hours, never below 0 (a recorder clock ahead of the station), as the compliance report has it. */
const DELAY_H = `(max(0, ${DELAY_MS}) / 3600000.0)`;

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Per unit and per officer statistics over items recorded in [from, to). One grouped
 * query on the recorded-time index; units are summed from the officer rows.
 */
export class StatsQueries {
  private readonly stmt;

  /**
   * `uploadDeadlineHours`: the configured deadline (compliance.uploadDeadlineHours),
   * so that `late` counts what the compliance report counts as not on time: handed in
   * strictly later than the deadline after the end of recording (issue 19).
   */
  constructor(
    db: Db,
    private readonly uploadDeadlineHours: number,
  ) {
    this.stmt = db.prepare<{ from: string; to: string; scope: string | null; unit: string | null; deadlineMs: number }, Row>(
      `SELECT unit, officer, count(*) AS files, total(size) AS bytes, total(duration_ms) AS duration_ms,
         total(${DELAY_H}) AS delay_sum_h, max(${DELAY_H}) AS delay_max_h, total(${DELAY_MS} > @deadlineMs) AS late
       FROM evidence INDEXED BY evidence_time
       WHERE recorded_at >= @from AND recorded_at < @to
         AND (@scope IS NULL OR unit = @scope) AND (@unit IS NULL OR unit = @unit)
       GROUP BY unit, officer ORDER BY unit, officer`,
    );
  }

  report(scopeUnit: string | null, from: string, to: string, unit: string | undefined): StatsReport {
    const rows = this.stmt.all({ from, to, scope: scopeUnit, unit: unit ?? null, deadlineMs: Math.round(this.uploadDeadlineHours * 3_600_000) });
    const figures = (files: number, bytes: number, durationMs: number, delaySum: number, delayMax: number | null, late: number): StatsFigures => ({
      files,
      bytes,
      hoursRecorded: round(durationMs / 3_600_000),
      uploadDelay: { averageHours: files > 0 ? round(delaySum / files) : null, maxHours: delayMax === null ? null : round(delayMax) },
      late,
    });
    const units = new Map<string | null, { files: number; bytes: number; ms: number; sum: number; max: number | null; late: number }>();
    const officers: OfficerStats[] = [];
    for (const r of rows) {
      officers.push({ unit: r.unit, officer: r.officer, ...figures(r.files, r.bytes, r.duration_ms, r.delay_sum_h ?? 0, r.delay_max_h, r.late) });
      const u = units.get(r.unit) ?? { files: 0, bytes: 0, ms: 0, sum: 0, max: null, late: 0 };
      u.files += r.files;
      u.bytes += r.bytes;
      u.ms += r.duration_ms;
      u.sum += r.delay_sum_h ?? 0;
      u.max = r.delay_max_h === null ? u.max : Math.max(u.max ?? r.delay_max_h, r.delay_max_h);
      u.late += r.late;
      units.set(r.unit, u);
    }
    return {
      from,
      to,
      uploadDeadlineHours: this.uploadDeadlineHours,
      units: [...units.entries()].map(([unitName, u]) => ({ unit: unitName, ...figures(u.files, u.bytes, u.ms, u.sum, u.max, u.late) })),
      officers,
    };
  }
}
