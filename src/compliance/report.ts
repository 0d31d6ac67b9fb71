import { DateTime } from 'luxon';
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
  /** Clips per upload-delay bucket: `delayBucketsHours[i]` < delay ≤ `delayBucketsHours[i + 1]` (the first from 0, the last open). */
  delayBuckets: number[];
  openFlags: Record<FlagRule, number>;
}

/** One local day of a unit's footage: how much of it was handed in on time. */
export interface TimelinessDay {
  /** YYYY-MM-DD in the report's time zone, by recorded start. */
  day: string;
  clips: number;
  onTime: number;
  onTimeRate: number;
}

/** One recorder's health over the period, from its docks (the pre-duty checks). */
export interface DeviceHealth {
  serial: string;
  unit: string | null;
  officer: string | null;
  model: string | null;
  status: string;
  /** For a recorder reported damaged: since when, and the Art. 14 deadline. */
  repair: { reportedAt: string; dueBy: string; overdue: boolean } | null;
  docks: number;
  /** Verdicts of its pre-duty checks: 就绪 / 未就绪 / 未检测. */
  verdicts: { ready: number; notReady: number; unchecked: number };
  /** Battery at dock: first and last in the period, lowest, and its least-squares trend in percentage points per week (null: fewer than two readings a day apart). */
  battery: { first: number | null; last: number | null; min: number | null; changePerWeek: number | null };
  /** Clock drift at dock (ms, positive: recorder ahead): the last measured, the worst either way, and how many docks exceeded compliance.maxClockDriftSeconds. */
  clockDrift: { lastMs: number | null; worstMs: number | null; overLimit: number };
  lastDockedAt: string | null;
}

export interface ComplianceReport {
  from: string;
  to: string;
  timezone: string;
  uploadDeadlineHours: number;
  maxClockDriftSeconds: number;
  repairDeadlineHours: number;
  /** Lower bounds of the upload-delay buckets, in hours (see ComplianceFigures.delayBuckets). */
  delayBucketsHours: number[];
  units: Array<{ unit: string | null } & ComplianceFigures>;
  officers: Array<{ unit: string | null; officer: string | null; name: string | null } & ComplianceFigures>;
  /** Per unit, per local day with footage: the on-time rate over time. */
  timeliness: Array<{ unit: string | null; days: TimelinessDay[] }>;
  /** Per recorder of the units reported on (by its registered unit): docks in the period and their health. */
  devices: DeviceHealth[];
}

const FAR = '9999-12-31T23:59:59.999Z';

interface Acc {
  assignments: number;
  delays: number[];
  buckets: number[];
  onTime: number;
  ms: number;
  flags: Record<FlagRule, number>;
}

const newAccOf = (n: number): Acc => ({ assignments: 0, delays: [], buckets: new Array<number>(n).fill(0), onTime: 0, ms: 0, flags: Object.fromEntries(FLAG_RULES.map((r) => [r, 0])) as Record<FlagRule, number> });

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
    delayBuckets: a.buckets,
    openFlags: a.flags,
  };
}

/**
 * The upload-delay buckets' lower bounds: within the hour, a quarter and half of the
 * deadline, the deadline, twice it, and a week (Art. 9's deadline is one of the
 * bounds, so the buckets up to it hold exactly the clips on time).
 */
export function delayBucketsHours(deadlineHours: number): number[] {
  return [...new Set([0, 1, deadlineHours / 4, deadlineHours / 2, deadlineHours, deadlineHours * 2, Math.max(168, deadlineHours * 3)])].filter((h) => h >= 0).sort((a, b) => a - b);
}

/** The bucket of a delay: delays of exactly a bound belong to the bucket below it. */
function bucketOf(delayMs: number, bounds: readonly number[]): number {
  let i = 0;
  while (i + 1 < bounds.length && delayMs > bounds[i + 1]! * 3_600_000) i++;
  return i;
}

/** Least-squares slope of (time, value) points, per week; null with fewer than two points a day apart. */
function slopePerWeek(points: ReadonlyArray<{ t: number; v: number }>): number | null {
  if (points.length < 2) return null;
  const ts = points.map((p) => p.t);
  if (Math.max(...ts) - Math.min(...ts) < 86_400_000) return null;
  const n = points.length;
  const mt = ts.reduce((a, t) => a + t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? null : round((num / den) * 7 * 86_400_000, 1);
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
  opts: {
    from: string;
    to: string;
    unit?: string | undefined;
    scopeUnit?: string | null | undefined;
    timezone: string;
    uploadDeadlineHours: number;
    maxClockDriftSeconds: number;
    repairDeadlineHours: number;
    /** Now, for the repair deadlines (default the catalog's clock). */
    now?: string;
  },
): ComplianceReport {
  const db = catalog.db;
  const bounds = delayBucketsHours(opts.uploadDeadlineHours);
  const newAcc = (): Acc => newAccOf(bounds.length);
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
  // Local days by the hour the clip started in (one zone lookup per hour, not per clip).
  const dayOfHour = new Map<string, string>();
  const localDay = (iso: string): string => {
    const hour = iso.slice(0, 13);
    let d = dayOfHour.get(hour);
    if (d === undefined) dayOfHour.set(hour, (d = DateTime.fromISO(iso, { zone: opts.timezone }).toISODate() ?? hour.slice(0, 10)));
    return d;
  };
  const days = new Map<string, Map<string, { clips: number; onTime: number }>>();
  for (const c of clips) {
    if (!unitOk(c.unit)) continue;
    const end = c.end ?? c.start;
    const delay = Math.max(0, Date.parse(c.ingested_at) - Date.parse(end));
    const onTime = Date.parse(c.ingested_at) <= Date.parse(plusHours(end, opts.uploadDeadlineHours)) ? 1 : 0;
    const ms = c.media_type === 'photo' ? 0 : (c.duration_ms ?? (c.end ? Math.max(0, Date.parse(c.end) - Date.parse(c.start)) : 0));
    const bucket = bucketOf(delay, bounds);
    for (const a of [accU(c.unit), accO(c.unit, c.officer)]) {
      a.delays.push(delay);
      a.buckets[bucket]!++;
      a.onTime += onTime;
      a.ms += ms;
    }
    let byDay = days.get(keyU(c.unit));
    if (!byDay) days.set(keyU(c.unit), (byDay = new Map()));
    const day = localDay(c.start);
    const d = byDay.get(day) ?? { clips: 0, onTime: 0 };
    d.clips++;
    d.onTime += onTime;
    byDay.set(day, d);
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
    maxClockDriftSeconds: opts.maxClockDriftSeconds,
    repairDeadlineHours: opts.repairDeadlineHours,
    delayBucketsHours: bounds,
    units: [...units.entries()].map(([k, a]) => ({ unit: k === '\u0000' ? null : k, ...figures(a) })).sort((x, y) => byUnit(x.unit, y.unit)),
    officers: [...officers.values()]
      .map((a) => ({ unit: a.unit, officer: a.officer, name: a.officer ? (names.get(a.officer) ?? null) : null, ...figures(a) }))
      .sort((x, y) => byUnit(x.unit, y.unit) || byUnit(x.officer, y.officer)),
    timeliness: [...days.entries()]
      .map(([k, byDay]) => ({
        unit: k === '\u0000' ? null : k,
        days: [...byDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, d]) => ({ day, clips: d.clips, onTime: d.onTime, onTimeRate: round(d.onTime / d.clips, 4) })),
      }))
      .sort((x, y) => byUnit(x.unit, y.unit)),
    devices: deviceHealth(catalog, opts, unitOk),
  };
}

/**
 * Each recorder's docks in [from, to) and what their pre-duty checks found (issue 19);
 * a recorder is reported under its unit as registered now.
 */
function deviceHealth(
  catalog: Catalog,
  opts: { from: string; to: string; scopeUnit?: string | null | undefined; timezone: string; maxClockDriftSeconds: number; repairDeadlineHours: number; now?: string },
  unitOk: (u: string | null) => boolean,
): DeviceHealth[] {
  const db = catalog.db;
  const now = Date.parse(opts.now ?? catalog.clock.now().toISOString());
  const limitMs = opts.maxClockDriftSeconds * 1000;
  const recorders = db
    .prepare<[], { serial: string; unit: string | null; officer: string | null; model: string | null; status: string; status_changed_at: string | null }>(
      'SELECT serial, unit, officer, model, status, status_changed_at FROM recorders ORDER BY serial',
    )
    .all()
    .filter((r) => unitOk(r.unit));
  // For a unit-scoped caller, only the docks made while the recorder was in their unit
  // (issue 14): the unit it reported at that dock, kept in the dock's device.docked
  // entry; a dock without one counts as the recorder's unit now.
  const docksOf = db.prepare<
    { serial: string; from: string; to: string; scope: string | null; current: string | null },
    { docked_at: string; verdict: string | null; health_state: string | null; battery_percent: number | null; clock_drift_ms: number | null }
  >(
    `SELECT d.docked_at, d.verdict, d.health_state, d.battery_percent, d.clock_drift_ms FROM docks d
     WHERE d.recorder_serial = @serial AND d.docked_at >= @from AND d.docked_at < @to
       AND (@scope IS NULL OR coalesce((SELECT json_extract(l.data, '$.identity.unit') FROM ledger l
             WHERE l.subject = d.recorder_serial AND l.type = 'device.docked' AND json_extract(l.data, '$.dockId') = d.id LIMIT 1),
           @current) = @scope)
     ORDER BY d.docked_at, d.rowid`,
  );
  return recorders.map((r): DeviceHealth => {
    const docks = docksOf.all({ serial: r.serial, from: opts.from, to: opts.to, scope: opts.scopeUnit ?? null, current: r.unit });
    const verdicts = { ready: 0, notReady: 0, unchecked: 0 };
    const battery: Array<{ t: number; v: number }> = [];
    let lastDrift: number | null = null;
    let worstDrift: number | null = null;
    let overLimit = 0;
    for (const d of docks) {
      const state = d.health_state ?? d.verdict;
      if (state === 'ready') verdicts.ready++;
      else if (state === 'not-ready') verdicts.notReady++;
      else if (state === 'unchecked') verdicts.unchecked++;
      if (d.battery_percent !== null) battery.push({ t: Date.parse(d.docked_at), v: d.battery_percent });
      if (d.clock_drift_ms !== null) {
        lastDrift = d.clock_drift_ms;
        if (worstDrift === null || Math.abs(d.clock_drift_ms) > Math.abs(worstDrift)) worstDrift = d.clock_drift_ms;
        if (Math.abs(d.clock_drift_ms) > limitMs) overLimit++;
      }
    }
    const since = r.status === 'reported-damaged' ? r.status_changed_at : null;
    const dueBy = since === null ? null : plusHours(since, opts.repairDeadlineHours);
    return {
      serial: r.serial,
      unit: r.unit,
      officer: r.officer,
      model: r.model,
      status: r.status,
      repair: since !== null && dueBy !== null ? { reportedAt: since, dueBy, overdue: now > Date.parse(dueBy) } : null,
      docks: docks.length,
      verdicts,
      battery: {
        first: battery[0]?.v ?? null,
        last: battery[battery.length - 1]?.v ?? null,
        min: battery.length ? Math.min(...battery.map((b) => b.v)) : null,
        changePerWeek: slopePerWeek(battery),
      },
      clockDrift: { lastMs: lastDrift, worstMs: worstDrift, overLimit },
      lastDockedAt: docks[docks.length - 1]?.docked_at ?? null,
    };
  });
}
