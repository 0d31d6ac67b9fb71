import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, NotFoundError, rfc3339 } from '../core/index.js';
import { parseCsv } from './csv.js';
import { parseLocalTime } from './time.js';
import { cachedPreparer, type Preparer } from './statements.js';
import { ledgerOf } from '../ledger/index.js';

export interface Officer {
  number: string;
  name: string;
  unit: string | null;
  userId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Assignment {
  id: string;
  officer: string;
  officerName: string;
  recorderSerial: string;
  unit: string | null;
  startsAt: string;
  endsAt: string | null;
  source: 'manual' | 'import';
  createdAt: string;
  createdBy: string;
  endedBy: string | null;
}

export interface NewAssignment {
  officer: string;
  /** Needed when the officer is not registered yet; updates the officer when it differs. */
  name?: string | undefined;
  unit?: string | null | undefined;
  recorder: string;
  /** RFC 3339, or local "YYYY-MM-DD HH:mm" in the configured zone. */
  start: string;
  end?: string | null | undefined;
}

export interface AssignmentFilter {
  unit?: string | undefined;
  officer?: string | undefined;
  recorder?: string | undefined;
  /** Assignments overlapping [from, to). */
  from?: string | undefined;
  to?: string | undefined;
  /** Only those not ended. */
  open?: boolean | undefined;
}

/** The roster's columns, in any order, named in its header line. */
export const ROSTER_COLUMNS = ['officer', 'name', 'unit', 'recorder', 'start', 'end'] as const;

/** A roster with bad lines: nothing of it was imported. */
export class RosterError extends CustodyError {
  constructor(readonly problems: { line: number; message: string }[]) {
    super('ROSTER_INVALID', `the roster has ${problems.length} bad line(s); nothing was imported:\n${problems.map((p) => `  line ${p.line}: ${p.message}`).join('\n')}`, {
      details: { problems },
    });
  }
}

const OFFICER_RE = /^[A-Za-z0-9_.-]{1,32}$/u;
const SERIAL_RE = /^[A-Za-z0-9_.-]{1,64}$/u;

interface AssignmentRow {
  id: string;
  officer: string;
  officer_name: string;
  recorder_serial: string;
  unit: string | null;
  starts_at: string;
  ends_at: string | null;
  source: 'manual' | 'import';
  created_at: string;
  created_by: string;
  ended_by: string | null;
}

function toAssignment(r: AssignmentRow): Assignment {
  return {
    id: r.id,
    officer: r.officer,
    officerName: r.officer_name,
    recorderSerial: r.recorder_serial,
    unit: r.unit,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    source: r.source,
    createdAt: r.created_at,
    createdBy: r.created_by,
    endedBy: r.ended_by,
  };
}

interface OfficerRow {
  number: string;
  name: string;
  unit: string | null;
  user_id: string | null;
  created_at: string;
  updated_at: string;
}

function toOfficer(r: OfficerRow): Officer {
  return { number: r.number, name: r.name, unit: r.unit, userId: r.user_id, createdAt: r.created_at, updatedAt: r.updated_at };
}

const SELECT = `SELECT a.*, o.name AS officer_name FROM assignments a JOIN officers o ON o.number = a.officer`;
const FAR_FUTURE = '9999-12-31T23:59:59.999Z';

/**
 * Officers and their assignments: which recorder each officer had from when to when
 * (a shift). Footage is attributed through them, and the missing-upload and
 * recording-gap rules work on them. Every change is ledgered with the change.
 *
 * Invariant: one recorder is never assigned to two overlapping shifts, so a recorded
 * time names at most one officer.
 */
export class AssignmentsService {
  constructor(private readonly deps: { catalog: Catalog; timezone: string }) {}

  private get db(): Preparer {
    return (this.stmts ??= cachedPreparer(this.deps.catalog.db));
  }

  private stmts: Preparer | undefined;

  officer(number: string): Officer | null {
    const r = this.db.prepare<[string], OfficerRow>('SELECT * FROM officers WHERE number = ?').get(number);
    return r ? toOfficer(r) : null;
  }

  officers(unit?: string): Officer[] {
    const rows =
      unit === undefined
        ? this.db.prepare<[], OfficerRow>('SELECT * FROM officers ORDER BY number').all()
        : this.db.prepare<[string], OfficerRow>('SELECT * FROM officers WHERE unit = ? ORDER BY number').all(unit);
    return rows.map(toOfficer);
  }

  /** Register an officer, or update their name, unit or linked API user; ledgered. */
  upsertOfficer(input: { number: string; name: string; unit?: string | null; userId?: string | null }, actor: string): Officer {
    const number = input.number.trim();
    const name = input.name.trim();
    const unit = input.unit?.trim() ? input.unit.trim() : null;
    if (!OFFICER_RE.test(number)) throw new CustodyError('INVALID_INPUT', `officer number "${input.number}" must be 1-32 letters, digits, "_", "." or "-"`);
    if (name.length < 1 || name.length > 100) throw new CustodyError('INVALID_INPUT', 'officer name must be 1-100 characters');
    if (unit !== null && unit.length > 64) throw new CustodyError('INVALID_INPUT', 'unit must be at most 64 characters');
    return this.deps.catalog.tx(() => {
      const before = this.officer(number);
      const userId = input.userId === undefined ? (before?.userId ?? null) : input.userId;
      const at = rfc3339(this.deps.catalog.clock.now());
      if (!before) {
        this.db.prepare('INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(number, name, unit, userId, at, at);
        ledgerOf(this.deps.catalog).append({ type: 'officer.registered', actor, subject: number, data: { name, unit, userId } });
      } else if (before.name !== name || before.unit !== unit || before.userId !== userId) {
        this.db.prepare('UPDATE officers SET name = ?, unit = ?, user_id = ?, updated_at = ? WHERE number = ?').run(name, unit, userId, at, number);
        ledgerOf(this.deps.catalog).append({
          type: 'officer.updated',
          actor,
          subject: number,
          data: { from: { name: before.name, unit: before.unit, userId: before.userId }, to: { name, unit, userId } },
        });
      }
      return this.officer(number)!;
    });
  }

  get(id: string): Assignment | null {
    const r = this.db.prepare<[string], AssignmentRow>(`${SELECT} WHERE a.id = ?`).get(id);
    return r ? toAssignment(r) : null;
  }

  /** The assignment of a recorder that covers a time (at most one, by the invariant). */
  coveringAt(serial: string, iso: string): Assignment | null {
    const r = this.db
      .prepare<[string, string, string], AssignmentRow>(
        `${SELECT} WHERE a.recorder_serial = ? AND a.starts_at <= ? AND coalesce(a.ends_at, '${FAR_FUTURE}') > ? ORDER BY a.starts_at DESC LIMIT 1`,
      )
      .get(serial, iso, iso);
    return r ? toAssignment(r) : null;
  }

  list(filter: AssignmentFilter = {}, limit = 1000): Assignment[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, ...values: unknown[]): void => {
      where.push(clause);
      args.push(...values);
    };
    if (filter.unit !== undefined) add('a.unit = ?', filter.unit);
    if (filter.officer !== undefined) add('a.officer = ?', filter.officer);
    if (filter.recorder !== undefined) add('a.recorder_serial = ?', filter.recorder);
    if (filter.to !== undefined) add('a.starts_at < ?', filter.to);
    if (filter.from !== undefined) add(`coalesce(a.ends_at, '${FAR_FUTURE}') > ?`, filter.from);
    if (filter.open) where.push('a.ends_at IS NULL');
    const sql = `${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY a.starts_at, a.id LIMIT ?`;
    return this.db
      .prepare<unknown[], AssignmentRow>(sql)
      .all(...args, limit)
      .map(toAssignment);
  }

  /** Check one new assignment; returns the normalised values or throws INVALID_INPUT. */
  private prepare(input: NewAssignment): { officer: string; recorder: string; startsAt: string; endsAt: string | null } {
    const officer = input.officer.trim();
    const recorder = input.recorder.trim();
    if (!OFFICER_RE.test(officer)) throw new CustodyError('INVALID_INPUT', `officer number "${input.officer}" must be 1-32 letters, digits, "_", "." or "-"`);
    if (!SERIAL_RE.test(recorder)) throw new CustodyError('INVALID_INPUT', `recorder serial "${input.recorder}" must be 1-64 letters, digits, "_", "." or "-"`);
    const startsAt = parseLocalTime(input.start, this.deps.timezone, 'start');
    const endsAt = input.end ? parseLocalTime(input.end, this.deps.timezone, 'end') : null;
    if (endsAt !== null && Date.parse(endsAt) <= Date.parse(startsAt)) throw new CustodyError('INVALID_INPUT', 'the end must be after the start');
    return { officer, recorder, startsAt, endsAt };
  }

  private overlapping(recorder: string, startsAt: string, endsAt: string | null, except: string | null = null): Assignment | null {
    const r = this.db
      .prepare<[string, string, string, string], AssignmentRow>(
        `${SELECT} WHERE a.recorder_serial = ? AND a.starts_at < ? AND coalesce(a.ends_at, '${FAR_FUTURE}') > ? AND a.id <> ? LIMIT 1`,
      )
      .get(recorder, endsAt ?? FAR_FUTURE, startsAt, except ?? '');
    return r ? toAssignment(r) : null;
  }

  /** Must run inside a transaction. Returns null when an identical assignment exists. */
  private insert(input: NewAssignment, source: 'manual' | 'import', actor: string): Assignment | null {
    const v = this.prepare(input);
    let off = this.officer(v.officer);
    if (!off || (input.name !== undefined && input.name.trim() !== '' && (input.name.trim() !== off.name || (input.unit !== undefined && (input.unit?.trim() || null) !== off.unit)))) {
      if (!off && !input.name?.trim()) throw new CustodyError('INVALID_INPUT', `officer ${v.officer} is not registered: give their name (and unit)`);
      off = this.upsertOfficer({ number: v.officer, name: input.name ?? off!.name, unit: input.unit === undefined ? (off?.unit ?? null) : input.unit }, actor);
    }
    const same = this.db
      .prepare<[string, string, string, string | null], AssignmentRow>(`${SELECT} WHERE a.officer = ? AND a.recorder_serial = ? AND a.starts_at = ? AND a.ends_at IS ?`)
      .get(v.officer, v.recorder, v.startsAt, v.endsAt);
    if (same) return null;
    const clash = this.overlapping(v.recorder, v.startsAt, v.endsAt);
    if (clash) {
      throw new CustodyError(
        'ASSIGNMENT_OVERLAP',
        `recorder ${v.recorder} is already assigned to officer ${clash.officer} from ${clash.startsAt} to ${clash.endsAt ?? '(open)'} (assignment ${clash.id})`,
      );
    }
    const id = uuidv7();
    const at = rfc3339(this.deps.catalog.clock.now());
    this.db
      .prepare(
        'INSERT INTO assignments (id, officer, recorder_serial, unit, starts_at, ends_at, source, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(id, v.officer, v.recorder, off.unit, v.startsAt, v.endsAt, source, at, actor);
    ledgerOf(this.deps.catalog).append({
      type: 'assignment.created',
      actor,
      subject: id,
      data: { officer: v.officer, recorder: v.recorder, unit: off.unit, startsAt: v.startsAt, endsAt: v.endsAt, source },
    });
    return this.get(id)!;
  }

  /** Assign a recorder to an officer for a shift; ledgered (`assignment.created`). */
  add(input: NewAssignment, actor: string): { assignment: Assignment; created: boolean } {
    return this.deps.catalog.tx(() => {
      const a = this.insert(input, 'manual', actor);
      if (a) return { assignment: a, created: true };
      const v = this.prepare(input);
      return { assignment: this.list({ officer: v.officer, recorder: v.recorder, from: v.startsAt, to: v.endsAt ?? FAR_FUTURE }).find((x) => x.startsAt === v.startsAt)!, created: false };
    });
  }

  /** End an open assignment (the recorder was handed back) at `at` (default now); ledgered. */
  end(id: string, actor: string, at?: string): Assignment {
    return this.deps.catalog.tx(() => {
      const a = this.get(id);
      if (!a) throw new NotFoundError('assignment', id);
      if (a.endsAt !== null) throw new CustodyError('ASSIGNMENT_ENDED', `assignment ${id} already ended at ${a.endsAt}`);
      const endsAt = at ? parseLocalTime(at, this.deps.timezone, 'end') : rfc3339(this.deps.catalog.clock.now());
      if (Date.parse(endsAt) <= Date.parse(a.startsAt)) throw new CustodyError('INVALID_INPUT', 'the end must be after the start');
      const clash = this.overlapping(a.recorderSerial, a.startsAt, endsAt, a.id);
      if (clash) throw new CustodyError('ASSIGNMENT_OVERLAP', `recorder ${a.recorderSerial} is assigned to officer ${clash.officer} from ${clash.startsAt} (assignment ${clash.id})`);
      this.db.prepare('UPDATE assignments SET ends_at = ?, ended_by = ? WHERE id = ?').run(endsAt, actor, id);
      ledgerOf(this.deps.catalog).append({ type: 'assignment.ended', actor, subject: id, data: { officer: a.officer, recorder: a.recorderSerial, endsAt } });
      return this.get(id)!;
    });
  }

  /**
   * Import a duty roster (CSV, UTF-8 with or without BOM; layout in docs/compliance.md).
   * Every line is checked, against the catalog and against the other lines; if any is
   * bad, nothing is imported and every bad line is reported (RosterError). Lines
   * already imported (same officer, recorder, start and end) are skipped, so a roster
   * can be imported again.
   */
  importCsv(text: string, actor: string): { created: number; unchanged: number; assignments: Assignment[] } {
    const rows = parseCsv(text);
    const header = rows.shift();
    if (!header) throw new RosterError([{ line: 1, message: `the roster is empty; its first line names the columns: ${ROSTER_COLUMNS.join(',')}` }]);
    const names = header.fields.map((f) => f.trim().toLowerCase());
    const headerProblems: string[] = [];
    for (const c of ROSTER_COLUMNS) if (c !== 'unit' && c !== 'end' && !names.includes(c)) headerProblems.push(`missing column "${c}"`);
    for (const n of names) if (!(ROSTER_COLUMNS as readonly string[]).includes(n)) headerProblems.push(`unknown column "${n}"`);
    if (new Set(names).size !== names.length) headerProblems.push('a column is named twice');
    if (headerProblems.length) throw new RosterError([{ line: header.line, message: `${headerProblems.join('; ')} (columns: ${ROSTER_COLUMNS.join(',')})` }]);
    const col = (fields: string[], name: string): string => {
      const i = names.indexOf(name);
      return i < 0 ? '' : (fields[i] ?? '').trim();
    };

    const problems: { line: number; message: string }[] = [];
    const result = { created: 0, unchanged: 0, assignments: [] as Assignment[] };
    const seen: { line: number; recorder: string; start: number; end: number }[] = [];
    const officersInFile = new Map<string, { line: number; name: string; unit: string }>();
    try {
      this.deps.catalog.tx(() => {
        for (const row of rows) {
          if (row.error) {
            problems.push({ line: row.line, message: row.error });
            continue;
          }
          if (row.fields.length !== names.length) {
            problems.push({ line: row.line, message: `${row.fields.length} fields; the header has ${names.length}` });
            continue;
          }
          const input: NewAssignment = {
            officer: col(row.fields, 'officer'),
            name: col(row.fields, 'name'),
            // An empty or absent unit keeps the officer's unit (a roster does not move people by omission).
            unit: col(row.fields, 'unit') || undefined,
            recorder: col(row.fields, 'recorder'),
            start: col(row.fields, 'start'),
            end: col(row.fields, 'end') || null,
          };
          try {
            if (!input.name) throw new CustodyError('INVALID_INPUT', 'the name is empty');
            const v = this.prepare(input);
            const prior = officersInFile.get(v.officer);
            if (prior && (prior.name !== input.name || prior.unit !== (input.unit ?? ''))) {
              throw new CustodyError('INVALID_INPUT', `officer ${v.officer} has another name or unit on line ${prior.line}`);
            }
            officersInFile.set(v.officer, { line: row.line, name: input.name, unit: input.unit ?? '' });
            const s = Date.parse(v.startsAt);
            const e = v.endsAt ? Date.parse(v.endsAt) : Number.POSITIVE_INFINITY;
            const twin = seen.find((o) => o.recorder === v.recorder && o.start < e && o.end > s);
            if (twin) throw new CustodyError('INVALID_INPUT', `recorder ${v.recorder} overlaps line ${twin.line}`);
            seen.push({ line: row.line, recorder: v.recorder, start: s, end: e });
            // Each line in its own savepoint, so one bad line does not hide the next one's problems.
            const a = this.deps.catalog.db.transaction(() => this.insert(input, 'import', actor))();
            if (a) {
              result.created++;
              result.assignments.push(a);
            } else result.unchanged++;
          } catch (err) {
            if (!(err instanceof CustodyError)) throw err;
            problems.push({ line: row.line, message: err.message });
          }
        }
        // Nothing half-imported: any bad line rolls back every line.
        if (problems.length) throw new RosterError(problems);
      });
    } finally {
      if (problems.length) ledgerOf(this.deps.catalog).discardPending();
    }
    return result;
  }
}
