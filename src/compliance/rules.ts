import type { Catalog } from '../catalog/index.js';
import { type ActivityBus, rfc3339 } from '../core/index.js';
import type { AssignmentsService } from './assignments.js';
import type { Finding, Flag, FlagsService } from './flags.js';
import { localText, plusHours } from './time.js';
import { cachedPreparer, type Preparer } from './statements.js';
import { ledgerOf } from '../ledger/index.js';

export interface ComplianceSettings {
  timezone: string;
  /** Art. 9: footage later than this after the clip's recorded end is late. */
  uploadDeadlineHours: number;
  /** Art. 16: a longer stop between consecutive clips of one shift needs a written reason. */
  maxGapMinutes: number;
  /** Drift measured at dock beyond this (seconds, either way) is flagged. */
  maxClockDriftSeconds: number;
  /** Art. 14: a reported-damaged recorder must be handed in within this. */
  repairDeadlineHours: number;
  /**
   * A recorder's file number moving on by more than this (counted forward through the
   * wrap at 99…9, so going back to a lower number is a jump of nearly the whole range;
   * at most half the range) is a numbering reset (a formatted or replaced card, new
   * firmware), reported as such, not as that many missing files.
   */
  maxFileNumberJump: number;
}

/**
 * The evidence columns the rules read; times are drift-corrected when the drift is
 * known, and the end is the start plus the probed duration when the recorder gave none.
 */
interface EvRow {
  id: string;
  recorder_serial: string;
  officer: string | null;
  unit: string | null;
  media_type: string;
  source_name: string;
  session_id: string;
  recorded_start: string;
  start: string;
  end: string;
  ingested_at: string;
}

const EV_COLS = `e.id, e.recorder_serial, e.officer, e.unit, e.media_type, e.source_name, e.session_id, e.recorded_start,
  e.recorded_at AS start,
  coalesce(e.recorded_end_corrected, e.recorded_end,
    strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at, '+' || (e.duration_ms / 1000.0) || ' seconds'), e.recorded_at) AS "end",
  e.ingested_at`;

const NOT_FLAGGED = (key: string) => `NOT EXISTS (SELECT 1 FROM flags f WHERE f.dedupe_key = ${key})`;

/** An item no late-upload flag names yet (a flag names every late item of its dock). */
const NOT_LATE_FLAGGED = `NOT EXISTS (SELECT 1 FROM flag_evidence fe JOIN flags f ON f.id = fe.flag_id WHERE fe.evidence_id = e.id AND f.rule = 'late-upload')`;

/**
 * What a scan looks at. Without it a rule looks at everything; the daemon's scans
 * look only at what changed since the previous scan: evidence rows by rowid (never
 * reused: evidence is never deleted, a purge keeps the row), assignments by rowid,
 * and shifts whose upload deadline may have passed since `judgedAfter`.
 */
export interface ScanScope {
  evidenceAfter: number;
  assignmentsAfter: number;
  /** Shifts that ended after this (ISO) are judged; older ones were judged already. */
  endedAfter: string;
}

const META_EVIDENCE = 'compliance.scan.evidence-rowid';
const META_ASSIGNMENTS = 'compliance.scan.assignment-rowid';
const META_TIME = 'compliance.scan.time';

/** Cap on the numbers or clips named in one flag (the count is always given). */
const MAX_LISTED = 200;

/** The recorder's own file number: the digits just before the extension ("ZFY001_20261120083000_0007.MP4" → 7 of 4 digits). */
export function fileNumber(name: string): { n: number; digits: number; prefix: string } | null {
  const m = /(?:^|[_-])(\d{1,6})\.[A-Za-z0-9]+$/u.exec(name);
  if (!m) return null;
  // What names the numbering: the name before the number, its date and time stamps
  // (runs of 8 or more digits) left out ("ZFY001_20261120083000_" → "ZFY001_#_").
  const prefix = name.slice(0, m.index).replace(/\d{8,}/gu, '#').toUpperCase();
  return { n: Number(m[1]), digits: m[1]!.length, prefix };
}

/** A late item of a late-upload finding. */
interface LateItem {
  ev: EvRow;
  delayHours: number;
  who: { officer: string | null; unit: string | null; assignmentId: string | null };
}

/**
 * The compliance rules (docs/compliance.md). Every rule is a query for findings not
 * flagged yet, so running a scan again raises nothing twice (the unique dedupe key in
 * the catalog guarantees it even for two scans at once).
 */
export class ComplianceRules {
  constructor(
    private readonly deps: {
      catalog: Catalog;
      settings: ComplianceSettings;
      assignments: AssignmentsService;
      flags: FlagsService;
      actor: string;
      activity?: ActivityBus | undefined;
    },
  ) {}

  private get db(): Preparer {
    return (this.stmts ??= cachedPreparer(this.deps.catalog.db));
  }

  private stmts: Preparer | undefined;

  private now(): string {
    return rfc3339(this.deps.catalog.clock.now());
  }

  private local(iso: string): string {
    return localText(iso, this.deps.settings.timezone);
  }

  private raise(findings: Finding[]): Flag[] {
    const out: Flag[] = [];
    for (const f of findings) {
      const flag = this.deps.flags.raise(f, this.deps.actor);
      if (!flag) continue;
      out.push(flag);
      this.deps.activity?.publish({
        type: 'flag',
        flag: {
          id: flag.id,
          rule: flag.rule,
          state: flag.state,
          unit: flag.unit,
          serial: flag.recorderSerial,
          officer: flag.officer,
          evidenceId: flag.evidenceId,
          summary: flag.summary,
          raisedAt: flag.raisedAt,
          dueBy: flag.dueBy,
        },
      });
    }
    return out;
  }

  /** The officer footage is attributed to: who had the recorder then, else who the recorder says. */
  private attribute(ev: EvRow): { officer: string | null; unit: string | null; assignmentId: string | null; assigned: string | null } {
    const a = this.deps.assignments.coveringAt(ev.recorder_serial, ev.start);
    return { officer: a?.officer ?? ev.officer, unit: ev.unit ?? a?.unit ?? null, assignmentId: a?.id ?? null, assigned: a?.officer ?? null };
  }

  /** The item's delay in hours when it was handed in after the deadline; null when on time. */
  private lateness(ev: EvRow): number | null {
    const { uploadDeadlineHours: hours, timezone } = this.deps.settings;
    // Strictly later than the deadline: handed in exactly 24 h after is on time.
    if (Date.parse(ev.ingested_at) <= Date.parse(plusHours(ev.end, hours, timezone))) return null;
    return Math.round(((Date.parse(ev.ingested_at) - Date.parse(ev.end)) / 3_600_000) * 100) / 100;
  }

  /**
   * Art. 9: late items, one finding per recorder, session and officer (a late dock is one
   * event, not one per file; a session that holds two officers' shifts gives each
   * officer their own flag, so neither approves a resolution about themselves). The
   * finding names every item (flag_evidence) and lists up to MAX_LISTED by file name.
   * Its key holds the first item: the items a flag names are never flagged again, and
   * late items of the same session found later (by a scan that ran while the session
   * was still copying) get a flag of their own.
   */
  private lateFindings(rows: EvRow[]): Finding[] {
    const hours = this.deps.settings.uploadDeadlineHours;
    const groups = new Map<string, LateItem[]>();
    for (const ev of rows) {
      const delayHours = this.lateness(ev);
      if (delayHours === null) continue;
      const who = this.attribute(ev);
      const group = `${ev.recorder_serial}\u0000${ev.session_id}\u0000${who.officer ?? ''}`;
      const list = groups.get(group) ?? [];
      list.push({ ev, delayHours, who });
      groups.set(group, list);
    }
    return [...groups.values()].map((items): Finding => {
      items.sort((x, y) => x.ev.recorded_start.localeCompare(y.ev.recorded_start) || x.ev.id.localeCompare(y.ev.id));
      const first = items[0]!;
      const worst = items.reduce((w, i) => (i.delayHours > w.delayHours ? i : w), first);
      const serial = first.ev.recorder_serial;
      return {
        rule: 'late-upload',
        key: `late-upload:${first.ev.session_id}:${first.ev.id}`,
        officer: first.who.officer,
        recorderSerial: serial,
        evidenceId: first.ev.id,
        evidenceIds: items.map((i) => i.ev.id),
        assignmentId: first.who.assignmentId,
        unit: first.who.unit,
        seen: {
          session: first.ev.session_id,
          // The worst of the files: its delay, when it ended and when it came in.
          delayHours: worst.delayHours,
          recordedEnd: worst.ev.end,
          ingestedAt: worst.ev.ingested_at,
          deadlineHours: hours,
          file: first.ev.source_name,
          fileCount: items.length,
          files: items.slice(0, MAX_LISTED).map((i) => ({ id: i.ev.id, file: i.ev.source_name, recordedEnd: i.ev.end, delayHours: i.delayHours })),
        },
        summary:
          items.length === 1
            ? `${first.ev.source_name} from ${serial} was handed in ${first.delayHours} h after recording ended (${this.local(first.ev.end)}); the limit is ${hours} h`
            : `${items.length} files from ${serial} were handed in late in one dock, up to ${worst.delayHours} h after recording ended (${worst.ev.source_name}, ended ${this.local(worst.ev.end)}); the limit is ${hours} h`,
      };
    });
  }

  private conflictFinding(ev: EvRow): Finding | null {
    if (ev.officer === null) return null;
    const who = this.attribute(ev);
    if (who.assigned === null || who.assigned === ev.officer) return null;
    return {
      rule: 'attribution-conflict',
      key: `attribution-conflict:${ev.id}`,
      officer: who.assigned,
      recorderSerial: ev.recorder_serial,
      evidenceId: ev.id,
      assignmentId: who.assignmentId,
      unit: who.unit,
      seen: { recorderReports: ev.officer, assignedTo: who.assigned, recordedAt: ev.start, file: ev.source_name },
      summary: `${ev.source_name}: recorder ${ev.recorder_serial} reports officer ${ev.officer}, but it was assigned to officer ${who.assigned} at ${this.local(ev.start)}`,
    };
  }

  /**
   * At ingest: the attribution of one new item and its attribution conflict. Whether it
   * was late is judged for its whole session once the session has ended (checkSession,
   * or the daemon's scan after the dock), so that one late dock raises one flag.
   */
  checkEvidence(id: string): Flag[] {
    if (!this.db.prepare<[string], { id: string }>('SELECT id FROM evidence WHERE id = ?').get(id)) return [];
    this.attributeOne(id);
    const ev = this.db.prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.id = ?`).get(id);
    if (!ev) return [];
    return this.raise([this.conflictFinding(ev)].filter((f): f is Finding => f !== null));
  }

  /**
   * After an ingest session (`custody ingest`): what the daemon raises for a dock — its
   * items' attribution, one late-upload flag per recorder and officer for its late
   * items, and their attribution conflicts. Idempotent.
   */
  checkSession(sessionId: string): Flag[] {
    const first = this.db.prepare<[string], { rowid: number }>('SELECT min(rowid) AS rowid FROM evidence WHERE session_id = ?').get(sessionId);
    if (!first || first.rowid === null) return [];
    this.attributeUnassigned({ evidenceAfter: first.rowid - 1, assignmentsAfter: Number.MAX_SAFE_INTEGER, endedAfter: '' });
    const rows = this.db.prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.session_id = ? AND ${NOT_LATE_FLAGGED} ORDER BY e.rowid`).all(sessionId);
    const late = this.raise(this.lateFindings(rows));
    const conflicts = this.db
      .prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.session_id = ? AND ${NOT_FLAGGED("'attribution-conflict:' || e.id")} ORDER BY e.rowid`)
      .all(sessionId);
    return [...late, ...this.raise(conflicts.map((r) => this.conflictFinding(r)).filter((f): f is Finding => f !== null))];
  }

  lateUploads(scope?: ScanScope): Flag[] {
    // A coarse filter in SQL (floating-point days), the exact comparison in lateness().
    const rows = this.db
      .prepare<[number, number], EvRow>(
        `SELECT ${EV_COLS} FROM evidence e
         WHERE e.rowid > ? AND (julianday(e.ingested_at) - julianday(coalesce(e.recorded_end_corrected, e.recorded_end, e.recorded_start_corrected, e.recorded_start))) * 24 > ?
           AND ${NOT_LATE_FLAGGED}
         ORDER BY e.rowid`,
      )
      .all(scope?.evidenceAfter ?? 0, this.deps.settings.uploadDeadlineHours - 1.5);
    return this.raise(this.lateFindings(rows));
  }

  /** attributeUnassigned for one new item (at ingest). */
  private attributeOne(id: string): void {
    const row = this.db.prepare<[string], { rowid: number }>('SELECT rowid FROM evidence WHERE id = ? AND officer IS NULL').get(id);
    if (row) this.attributeUnassigned({ evidenceAfter: row.rowid - 1, assignmentsAfter: Number.MAX_SAFE_INTEGER, endedAfter: '' });
  }

  /**
   * Footage whose recorder reported no officer is attributed to the officer who had
   * the recorder at the recorded time (and that shift's unit where the item has none),
   * so searches by officer find it. Each attribution is ledgered (`evidence.attributed`)
   * in the same transaction. Only items never attributed are touched: an officer the
   * recorder reported is never overwritten (a disagreement is a flag instead).
   */
  attributeUnassigned(scope?: ScanScope): number {
    const rows = this.db
      .prepare<[number, number], { id: string; officer: string; unit: string | null; assignment_id: string; ev_unit: string | null }>(
        `SELECT e.id, a.officer, a.unit, a.id AS assignment_id, e.unit AS ev_unit
           FROM evidence e JOIN assignments a ON a.recorder_serial = e.recorder_serial
            AND a.starts_at <= e.recorded_at AND coalesce(a.ends_at, '9999-12-31T23:59:59.999Z') > e.recorded_at
          WHERE (e.rowid > ? OR a.rowid > ?) AND e.officer IS NULL AND e.status = 'live'`,
      )
      .all(scope?.evidenceAfter ?? 0, scope?.assignmentsAfter ?? 0);
    if (rows.length === 0) return 0;
    const set = this.db.prepare('UPDATE evidence SET officer = @officer, unit = coalesce(unit, @unit) WHERE id = @id AND officer IS NULL');
    let n = 0;
    this.deps.catalog.tx(() => {
      for (const r of rows) {
        if (set.run({ id: r.id, officer: r.officer, unit: r.unit }).changes === 0) continue;
        n++;
        ledgerOf(this.deps.catalog).append({
          type: 'evidence.attributed',
          actor: 'custody:compliance',
          subject: r.id,
          data: { officer: r.officer, unit: r.ev_unit ?? r.unit, assignmentId: r.assignment_id, source: 'assignment' },
        });
      }
    });
    return n;
  }

  attributionConflicts(scope?: ScanScope): Flag[] {
    // New evidence, or evidence that a new assignment now covers.
    const rows = this.db
      .prepare<[number, number], EvRow>(
        `SELECT ${EV_COLS} FROM evidence e JOIN assignments a ON a.recorder_serial = e.recorder_serial
           AND a.starts_at <= e.recorded_at AND coalesce(a.ends_at, '9999-12-31T23:59:59.999Z') > e.recorded_at
         WHERE (e.rowid > ? OR a.rowid > ?)
           AND e.officer IS NOT NULL AND e.officer <> a.officer AND ${NOT_FLAGGED("'attribution-conflict:' || e.id")}`,
      )
      .all(scope?.evidenceAfter ?? 0, scope?.assignmentsAfter ?? 0);
    return this.raise(rows.map((r) => this.conflictFinding(r)).filter((f): f is Finding => f !== null));
  }

  /**
   * Art. 9: a shift that ended more than the deadline ago with no footage recorded in
   * it, and a recorder not docked between the start of its shift and the deadline.
   */
  missingUploads(scope?: ScanScope): Flag[] {
    const { uploadDeadlineHours: hours, timezone } = this.deps.settings;
    const now = Date.parse(this.now());
    const findings: Finding[] = [];
    const ended = this.db
      .prepare<[string, string, number], { id: string }>(
        `SELECT a.id FROM assignments a WHERE a.ends_at IS NOT NULL AND a.ends_at < ? AND (a.ends_at > ? OR a.rowid > ?)
           AND (${NOT_FLAGGED("'missing-upload:' || a.id || ':no-footage'")} OR ${NOT_FLAGGED("'missing-upload:' || a.id || ':not-docked'")})
         ORDER BY a.ends_at`,
      )
      .all(this.now(), scope?.endedAfter ?? '', scope?.assignmentsAfter ?? 0);
    for (const { id } of ended) {
      const a = this.deps.assignments.get(id)!;
      const deadline = plusHours(a.endsAt!, hours, timezone);
      if (Date.parse(deadline) >= now) continue; // "more than 24 h ago"
      const clips = this.db
        .prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM evidence WHERE recorder_serial = ? AND recorded_at >= ? AND recorded_at < ?')
        .get(a.recorderSerial, a.startsAt, a.endsAt!)!.n;
      const base = { rule: 'missing-upload' as const, officer: a.officer, recorderSerial: a.recorderSerial, assignmentId: a.id, unit: a.unit };
      const shift = `${this.local(a.startsAt)} – ${this.local(a.endsAt!)}`;
      if (clips === 0) {
        findings.push({
          ...base,
          key: `missing-upload:${a.id}:no-footage`,
          seen: { kind: 'no-footage', startsAt: a.startsAt, endsAt: a.endsAt, deadline, deadlineHours: hours },
          summary: `no footage recorded during officer ${a.officer}'s shift with ${a.recorderSerial} (${shift}) has been handed in within ${hours} h`,
        });
      }
      const docked = this.db
        .prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ? AND docked_at > ? AND docked_at <= ?')
        .get(a.recorderSerial, a.startsAt, deadline)!.n;
      if (docked === 0) {
        const ever = this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ?').get(a.recorderSerial)!.n;
        findings.push({
          ...base,
          key: `missing-upload:${a.id}:not-docked`,
          seen: { kind: 'not-docked', startsAt: a.startsAt, endsAt: a.endsAt, deadline, deadlineHours: hours, everDocked: ever > 0 },
          summary: `recorder ${a.recorderSerial} was not docked within ${hours} h of the end of officer ${a.officer}'s shift (${shift})${ever > 0 ? '' : '; it has never been docked'}`,
        });
      }
    }
    return this.raise(findings);
  }

  /**
   * The recorder's own numbering skips numbers: files may have been deleted on the
   * device (Art. 17). A jump of more than maxFileNumberJump, or to another file-name
   * prefix, is a numbering reset (a formatted or replaced card, new firmware): flagged
   * as a reset to be confirmed, not as thousands of missing files (issue 13).
   */
  sequenceGaps(scope?: ScanScope): Flag[] {
    const maxJump = this.deps.settings.maxFileNumberJump;
    const findings: Finding[] = [];
    // Recorders with new evidence; each is checked whole (a late file may sit between old ones).
    const serials = this.db
      .prepare<[number], { serial: string }>('SELECT DISTINCT recorder_serial AS serial FROM evidence WHERE rowid > ? ORDER BY 1')
      .all(scope?.evidenceAfter ?? 0);
    for (const { serial } of serials) {
      const rows = this.db
        .prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.recorder_serial = ? ORDER BY e.recorded_start, e.source_name, e.id`)
        .all(serial);
      let prev: { row: EvRow; n: number; digits: number; prefix: string } | null = null;
      for (const row of rows) {
        const num = fileNumber(row.source_name);
        if (!num) continue;
        const base = { rule: 'sequence-gap' as const, key: prev ? `sequence-gap:${serial}:${prev.row.id}:${row.id}` : '', recorderSerial: serial, evidenceId: row.id };
        if (prev && prev.prefix !== num.prefix) {
          const who = this.attribute(row);
          findings.push({
            ...base,
            officer: who.officer,
            assignmentId: who.assignmentId,
            unit: who.unit,
            seen: { kind: 'numbering-reset', reason: 'prefix', after: prev.row.source_name, before: row.source_name, prefixBefore: prev.prefix, prefixAfter: num.prefix },
            summary: `recorder ${serial} started naming its files differently between ${prev.row.source_name} and ${row.source_name}: a numbering reset, not counted as missing files; confirm that nothing was deleted`,
          });
        } else if (prev && prev.digits === num.digits) {
          const mod = 10 ** num.digits;
          // Recorders count to 99…9 and wrap.
          const step = (num.n - prev.n + mod) % mod;
          const who = step > 1 ? this.attribute(row) : null;
          const pad = (n: number) => String(n).padStart(num.digits, '0');
          // A number lower than the last is a jump of nearly the whole range (the wrap);
          // more than half the range cannot be told from going backwards.
          if (who && step > Math.min(maxJump, Math.floor(mod / 2))) {
            findings.push({
              ...base,
              officer: who.officer,
              assignmentId: who.assignmentId,
              unit: who.unit,
              seen: { kind: 'numbering-reset', reason: 'jump', after: prev.row.source_name, before: row.source_name, from: pad(prev.n), to: pad(num.n), maxJump },
              summary: `recorder ${serial}'s file numbers went from ${pad(prev.n)} to ${pad(num.n)} between ${prev.row.source_name} and ${row.source_name}: a numbering reset, not counted as missing files; confirm that nothing was deleted`,
            });
          } else if (who) {
            const missing: number[] = [];
            for (let k = 1; k < step && missing.length < MAX_LISTED; k++) missing.push((prev.n + k) % mod);
            findings.push({
              ...base,
              officer: who.officer,
              assignmentId: who.assignmentId,
              unit: who.unit,
              seen: { kind: 'gap', after: prev.row.source_name, before: row.source_name, missing: missing.map(pad), missingCount: step - 1 },
              summary: `recorder ${serial} skipped file number${step > 2 ? 's' : ''} ${step - 1 > MAX_LISTED ? `${pad(missing[0]!)}…(${step - 1})` : missing.map(pad).join(', ')} between ${prev.row.source_name} and ${row.source_name}`,
            });
          }
        }
        if (!prev || num.n !== prev.n || num.prefix !== prev.prefix) prev = { row, n: num.n, digits: num.digits, prefix: num.prefix };
      }
    }
    return this.raise(findings);
  }

  /**
   * Art. 16: within a shift, consecutive clips more than maxGapMinutes apart. A shift is
   * judged once it has ended and its recorder has been docked after it (or the upload
   * deadline has passed), so clips still on the recorder do not count as gaps.
   */
  recordingGaps(scope?: ScanScope): Flag[] {
    const { maxGapMinutes, uploadDeadlineHours, timezone } = this.deps.settings;
    const now = Date.parse(this.now());
    const findings: Finding[] = [];
    const ended = this.db
      .prepare<[string, string, number], { id: string }>(
        'SELECT id FROM assignments WHERE ends_at IS NOT NULL AND ends_at < ? AND (ends_at > ? OR rowid > ?) ORDER BY ends_at',
      )
      .all(this.now(), scope?.endedAfter ?? '', scope?.assignmentsAfter ?? 0);
    for (const { id } of ended) {
      const a = this.deps.assignments.get(id)!;
      const dockedAfter = this.db
        .prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ? AND docked_at >= ?')
        .get(a.recorderSerial, a.endsAt!)!.n;
      if (dockedAfter === 0 && Date.parse(plusHours(a.endsAt!, uploadDeadlineHours, timezone)) >= now) continue;
      const clips = this.db
        .prepare<[string, string, string], EvRow>(
          `SELECT ${EV_COLS} FROM evidence e WHERE e.recorder_serial = ? AND e.media_type IN ('video', 'audio') AND e.recorded_at >= ? AND e.recorded_at < ?
           ORDER BY e.recorded_at, e.id`,
        )
        .all(a.recorderSerial, a.startsAt, a.endsAt!);
      let last: EvRow | null = null;
      let lastEnd = 0;
      for (const c of clips) {
        const start = Date.parse(c.start);
        if (last && start - lastEnd > maxGapMinutes * 60_000) {
          const minutes = Math.round((start - lastEnd) / 60_000);
          const from = new Date(lastEnd).toISOString();
          findings.push({
            rule: 'recording-gap',
            key: `recording-gap:${a.id}:${last.id}`,
            officer: a.officer,
            recorderSerial: a.recorderSerial,
            evidenceId: c.id,
            assignmentId: a.id,
            unit: a.unit,
            seen: { from, to: c.start, minutes, maxGapMinutes, after: last.source_name, before: c.source_name },
            summary: `officer ${a.officer} recorded nothing for ${minutes} min (${this.local(from)} – ${this.local(c.start)}) during the shift; a written reason is needed`,
          });
        }
        if (!last || Date.parse(c.end) > lastEnd) lastEnd = Math.max(lastEnd, Date.parse(c.end));
        last = c;
      }
    }
    return this.raise(findings);
  }

  /** The drift measured at a dock beyond the tolerance; names the clips ingested in that dock. */
  clockDrift(): Flag[] {
    const tolMs = this.deps.settings.maxClockDriftSeconds * 1000;
    const docks = this.db
      .prepare<[number], { id: string; serial: string; docked_at: string; undocked_at: string | null; drift: number; officer: string | null; unit: string | null }>(
        `SELECT d.id, d.recorder_serial AS serial, d.docked_at, d.undocked_at, d.clock_drift_ms AS drift, r.officer, r.unit
         FROM docks d JOIN recorders r ON r.serial = d.recorder_serial
         WHERE abs(d.clock_drift_ms) > ? AND (d.session_status IS NOT NULL OR d.undocked_at IS NOT NULL)
           AND ${NOT_FLAGGED("'clock-drift:' || d.id")}`,
      )
      .all(tolMs);
    const findings: Finding[] = docks.map((d) => {
      const clips = this.db
        .prepare<[string, string, string], { id: string; source_name: string }>(
          'SELECT id, source_name FROM evidence WHERE recorder_serial = ? AND ingested_at >= ? AND ingested_at <= ? ORDER BY recorded_start, id',
        )
        .all(d.serial, d.docked_at, d.undocked_at ?? this.now());
      const a = this.deps.assignments.coveringAt(d.serial, d.docked_at);
      const seconds = Math.round(d.drift / 1000);
      return {
        rule: 'clock-drift',
        key: `clock-drift:${d.id}`,
        officer: a?.officer ?? d.officer,
        recorderSerial: d.serial,
        dockId: d.id,
        unit: d.unit ?? a?.unit ?? null,
        seen: {
          driftMs: d.drift,
          toleranceSeconds: this.deps.settings.maxClockDriftSeconds,
          dockedAt: d.docked_at,
          clips: clips.slice(0, MAX_LISTED).map((c) => ({ id: c.id, file: c.source_name })),
          clipCount: clips.length,
        },
        summary: `recorder ${d.serial}'s clock was ${seconds >= 0 ? '+' : ''}${seconds} s off at the dock of ${this.local(d.docked_at)} (tolerance ${this.deps.settings.maxClockDriftSeconds} s); ${clips.length} clip(s) affected`,
      };
    });
    return this.raise(findings);
  }

  /**
   * Docks where the recorder named itself otherwise than its files or USB serial did
   * (issue 16: the device is believed, the disagreement kept on the dock), and docks
   * where its clock could not be set after a complete session.
   */
  dockFindings(): Flag[] {
    const rows = this.db
      .prepare<[], { id: string; serial: string; docked_at: string; conflicts: string | null; sync_error: string | null; drift: number | null; officer: string | null; unit: string | null }>(
        `SELECT d.id, d.recorder_serial AS serial, d.docked_at, d.identity_conflicts AS conflicts, d.clock_sync_error AS sync_error,
                d.clock_drift_ms AS drift, r.officer, r.unit
         FROM docks d JOIN recorders r ON r.serial = d.recorder_serial
         WHERE (d.identity_conflicts IS NOT NULL AND ${NOT_FLAGGED("'attribution-conflict:dock:' || d.id")})
            OR (d.clock_sync_error IS NOT NULL AND ${NOT_FLAGGED("'clock-drift:not-set:' || d.id")})`,
      )
      .all();
    const findings: Finding[] = [];
    for (const d of rows) {
      const a = this.deps.assignments.coveringAt(d.serial, d.docked_at);
      const who = { officer: a?.officer ?? d.officer, recorderSerial: d.serial, dockId: d.id, unit: d.unit ?? a?.unit ?? null };
      if (d.conflicts) {
        const list = JSON.parse(d.conflicts) as Array<{ source: string; value: string }>;
        findings.push({
          rule: 'attribution-conflict',
          key: `attribution-conflict:dock:${d.id}`,
          ...who,
          seen: { dockedAt: d.docked_at, recorderReports: d.serial, conflicts: list },
          summary: `recorder ${d.serial} reported itself as ${d.serial} at the dock of ${this.local(d.docked_at)}, but ${list.map((c) => `its ${c.source} says ${c.value}`).join(' and ')}`,
        });
      }
      if (d.sync_error) {
        findings.push({
          rule: 'clock-drift',
          key: `clock-drift:not-set:${d.id}`,
          ...who,
          seen: { dockedAt: d.docked_at, driftMs: d.drift, error: d.sync_error },
          summary: `recorder ${d.serial}'s clock could not be set after the dock of ${this.local(d.docked_at)}: ${d.sync_error}`,
        });
      }
    }
    return this.raise(findings);
  }

  /** Art. 14: reported damaged and not handed in (in repair) within the deadline. */
  repairOverdue(): Flag[] {
    const { repairDeadlineHours: hours, timezone } = this.deps.settings;
    const now = Date.parse(this.now());
    const rows = this.db
      .prepare<[], { serial: string; officer: string | null; unit: string | null; since: string; note: string | null }>(
        `SELECT serial, officer, unit, status_changed_at AS since, status_note AS note FROM recorders
         WHERE status = 'reported-damaged' AND status_changed_at IS NOT NULL
           AND ${NOT_FLAGGED("'repair-overdue:' || serial || ':' || status_changed_at")}`,
      )
      .all();
    const findings: Finding[] = [];
    for (const r of rows) {
      const deadline = plusHours(r.since, hours, timezone);
      if (Date.parse(deadline) >= now) continue;
      const a = this.deps.assignments.coveringAt(r.serial, r.since);
      findings.push({
        rule: 'repair-overdue',
        key: `repair-overdue:${r.serial}:${r.since}`,
        officer: a?.officer ?? r.officer,
        recorderSerial: r.serial,
        unit: r.unit ?? a?.unit ?? null,
        seen: { reportedAt: r.since, deadline, deadlineHours: hours, note: r.note },
        summary: `recorder ${r.serial} was reported damaged at ${this.local(r.since)} and has not been handed in for repair within ${hours} h`,
      });
    }
    return this.raise(findings);
  }

  /**
   * The scope of an incremental scan: what changed since the last one. A shift is
   * judged until well past its upload deadline (a day more), because it may be judged
   * only once its recorder has docked; after that its findings can no longer appear.
   */
  private incrementalScope(): ScanScope {
    const meta = (k: string) => this.deps.catalog.getMeta(k);
    const last = meta(META_TIME);
    const endedAfter = last === null ? '' : new Date(Date.parse(last) - (this.deps.settings.uploadDeadlineHours + 24) * 3_600_000).toISOString();
    return { evidenceAfter: Number(meta(META_EVIDENCE) ?? 0), assignmentsAfter: Number(meta(META_ASSIGNMENTS) ?? 0), endedAfter };
  }

  /**
   * Every rule, then escalation of overdue flags. Idempotent. Incremental unless
   * `full`: evidence and assignments already scanned are not read again (a full scan
   * finds nothing an incremental one missed, it only costs more).
   */
  scan(opts: { full?: boolean } = {}): { raised: Flag[]; escalated: Flag[] } {
    const scope = opts.full ? undefined : this.incrementalScope();
    // Taken before the rules run: rows added meanwhile are scanned next time.
    const top = this.db
      .prepare<[], { e: number | null; a: number | null }>('SELECT (SELECT max(rowid) FROM evidence) AS e, (SELECT max(rowid) FROM assignments) AS a')
      .get()!;
    const startedAt = this.now();
    this.attributeUnassigned(scope);
    const raised = [
      ...this.lateUploads(scope),
      ...this.attributionConflicts(scope),
      ...this.missingUploads(scope),
      ...this.sequenceGaps(scope),
      ...this.recordingGaps(scope),
      ...this.clockDrift(),
      ...this.dockFindings(),
      ...this.repairOverdue(),
    ];
    this.deps.catalog.tx(() => {
      const prevE = Number(this.deps.catalog.getMeta(META_EVIDENCE) ?? 0);
      const prevA = Number(this.deps.catalog.getMeta(META_ASSIGNMENTS) ?? 0);
      this.deps.catalog.setMeta(META_EVIDENCE, String(Math.max(prevE, top.e ?? 0)));
      this.deps.catalog.setMeta(META_ASSIGNMENTS, String(Math.max(prevA, top.a ?? 0)));
      const prevT = this.deps.catalog.getMeta(META_TIME);
      if (prevT === null || prevT < startedAt) this.deps.catalog.setMeta(META_TIME, startedAt);
    });
    const escalated = this.deps.flags.escalateOverdue(this.deps.actor);
    for (const f of escalated) {
      this.deps.activity?.publish({
        type: 'flag',
        flag: { id: f.id, rule: f.rule, state: f.state, unit: f.unit, serial: f.recorderSerial, officer: f.officer, summary: f.summary, raisedAt: f.raisedAt, dueBy: f.dueBy },
      });
    }
    return { raised, escalated };
  }
}
