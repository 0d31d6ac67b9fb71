import type { Catalog } from '../catalog/index.js';
import { FLAG_RULES, type FlagRule } from './flags.js';
import { plusHours } from './time.js';

export interface ComplianceFigures {
  assignments: number;
  clips: number;
  hoursRecorded: number;
  /** Share of clips handed in within the deadline (null: no clips). */
  onTimeRate: number | null;
  uploadDelay: { medianHours: number | null; worstHours: number | null };
  openFlags: Record<FlagRule, number>;
}

export interface ComplianceReport {
  from: string;
  to: string;
  timezone: string;
  uploadDeadlineHours: number;
  units: Array<{ unit: string | null } & ComplianceFigures>;
  officers: Array<{ unit: string | null; officer: string | null; name: string | null } & ComplianceFigures>;
}

const FAR = '9999-12-31T23:59:59.999Z';

interface Acc {
  assignments: number;
  delays: number[];
  onTime: number;
  ms: number;
  flags: Record<FlagRule, number>;
}

const newAcc = (): Acc => ({ assignments: 0, delays: [], onTime: 0, ms: 0, flags: Object.fromEntries(FLAG_RULES.map((r) => [r, 0])) as Record<FlagRule, number> });

function round(n: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

function figures(a: Acc): ComplianceFigures {
  const sorted = [...a.delays].sort((x, y) => x - y);
  const n = sorted.length;
  const median = n === 0 ? null : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return {
    assignments: a.assignments,
    clips: n,
    hoursRecorded: round(a.ms / 3_600_000),
    onTimeRate: n === 0 ? null : round(a.onTime / n, 4),
    uploadDelay: { medianHours: median === null ? null : round(median / 3_600_000), worstHours: n === 0 ? null : round(sorted[n - 1]! / 3_600_000) },
    openFlags: a.flags,
  };
}

/**
 * The compliance report (Main text 二(二)4): for footage recorded in [from, to), per
 * unit and per officer (the officer footage is attributed to: who had the recorder,
 * else who the recorder reports), assignments, clips, hours recorded, the on-time
 * rate, median and worst upload delay, and the flags raised in the period that are
 * still unresolved, by rule.
 */
export function complianceReport(
  catalog: Catalog,
  opts: { from: string; to: string; unit?: string | undefined; scopeUnit?: string | null | undefined; timezone: string; uploadDeadlineHours: number },
): ComplianceReport {
  const db = catalog.db;
  const unitFilter = [opts.unit, opts.scopeUnit ?? undefined].filter((u): u is string => u !== undefined);
  const unitOk = (u: string | null) => unitFilter.every((f) => f === u);
  const units = new Map<string, Acc>();
  const officers = new Map<string, Acc & { unit: string | null; officer: string | null }>();
  const keyU = (u: string | null) => u ?? '\u0000';
  const accU = (u: string | null) => {
    let a = units.get(keyU(u));
    if (!a) units.set(keyU(u), (a = newAcc()));
    return a;
  };
  const accO = (u: string | null, o: string | null) => {
    const k = `${keyU(u)}\u0001${o ?? ''}`;
    let a = officers.get(k);
    if (!a) officers.set(k, (a = { ...newAcc(), unit: u, officer: o }));
    return a;
  };

  const clips = db
    .prepare<[string, string], { unit: string | null; officer: string | null; media_type: string; start: string; end: string | null; duration_ms: number | null; ingested_at: string }>(
      `SELECT coalesce(e.unit, a.unit) AS unit, coalesce(a.officer, e.officer) AS officer, e.media_type, e.recorded_at AS start,
              coalesce(e.recorded_end_corrected, e.recorded_end,
                strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at, '+' || (e.duration_ms / 1000.0) || ' seconds')) AS "end", e.duration_ms, e.ingested_at
       FROM evidence e LEFT JOIN assignments a ON a.recorder_serial = e.recorder_serial
         AND a.starts_at <= e.recorded_at AND coalesce(a.ends_at, '${FAR}') > e.recorded_at
       WHERE e.recorded_at >= ? AND e.recorded_at < ?`,
    )
    .all(opts.from, opts.to);
  for (const c of clips) {
    if (!unitOk(c.unit)) continue;
    const end = c.end ?? c.start;
    const delay = Math.max(0, Date.parse(c.ingested_at) - Date.parse(end));
    const onTime = Date.parse(c.ingested_at) <= Date.parse(plusHours(end, opts.uploadDeadlineHours, opts.timezone)) ? 1 : 0;
    const ms = c.media_type === 'photo' ? 0 : (c.duration_ms ?? (c.end ? Math.max(0, Date.parse(c.end) - Date.parse(c.start)) : 0));
    for (const a of [accU(c.unit), accO(c.unit, c.officer)]) {
      a.delays.push(delay);
      a.onTime += onTime;
      a.ms += ms;
    }
  }
  const shifts = db
    .prepare<[string, string], { unit: string | null; officer: string }>(`SELECT unit, officer FROM assignments WHERE starts_at < ? AND coalesce(ends_at, '${FAR}') > ?`)
    .all(opts.to, opts.from);
  for (const s of shifts) {
    if (!unitOk(s.unit)) continue;
    accU(s.unit).assignments++;
    accO(s.unit, s.officer).assignments++;
  }
  const flags = db
    .prepare<[string, string], { unit: string | null; officer: string | null; rule: FlagRule }>(
      "SELECT unit, officer, rule FROM flags WHERE state <> 'resolved' AND raised_at >= ? AND raised_at < ?",
    )
    .all(opts.from, opts.to);
  for (const f of flags) {
    if (!unitOk(f.unit)) continue;
    accU(f.unit).flags[f.rule]++;
    accO(f.unit, f.officer).flags[f.rule]++;
  }
  const names = new Map(db.prepare<[], { number: string; name: string }>('SELECT number, name FROM officers').all().map((o) => [o.number, o.name]));
  const byUnit = (a: string | null, b: string | null) => (a ?? '\uffff').localeCompare(b ?? '\uffff');
  return {
    from: opts.from,
    to: opts.to,
    timezone: opts.timezone,
    uploadDeadlineHours: opts.uploadDeadlineHours,
    units: [...units.entries()].map(([k, a]) => ({ unit: k === '\u0000' ? null : k, ...figures(a) })).sort((x, y) => byUnit(x.unit, y.unit)),
    officers: [...officers.values()]
      .map((a) => ({ unit: a.unit, officer: a.officer, name: a.officer ? (names.get(a.officer) ?? null) : null, ...figures(a) }))
      .sort((x, y) => byUnit(x.unit, y.unit) || byUnit(x.officer, y.officer)),
  };
}
