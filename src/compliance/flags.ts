import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, NotFoundError, rfc3339 } from '../core/index.js';
import { cachedPreparer, type Preparer } from './statements.js';
import { ledgerOf } from '../ledger/index.js';

export const FLAG_RULES = [
  'late-upload',
  'missing-upload',
  'sequence-gap',
  'recording-gap',
  'clock-drift',
  'repair-overdue',
  'attribution-conflict',
] as const;
export type FlagRule = (typeof FLAG_RULES)[number];
export const FLAG_STATES = ['open', 'escalated', 'resolved'] as const;
export type FlagState = (typeof FLAG_STATES)[number];

export interface Flag {
  id: string;
  rule: FlagRule;
  officer: string | null;
  recorderSerial: string | null;
  evidenceId: string | null;
  assignmentId: string | null;
  dockId: string | null;
  unit: string | null;
  seen: Record<string, unknown>;
  summary: string;
  raisedAt: string;
  dueBy: string;
  state: FlagState;
  escalatedAt: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  approvedBy: string | null;
  resolution: string | null;
}

/** A finding a rule made; raised once per `key`. */
export interface Finding {
  rule: FlagRule;
  /** Stable for the same finding, so a scan that runs again raises nothing new. */
  key: string;
  officer?: string | null;
  recorderSerial?: string | null;
  evidenceId?: string | null;
  /** Further items the finding names (a late dock: every late file of the session). */
  evidenceIds?: readonly string[];
  assignmentId?: string | null;
  dockId?: string | null;
  unit?: string | null;
  seen: Record<string, unknown>;
  summary: string;
}

export interface FlagFilter {
  rule?: FlagRule | undefined;
  unit?: string | undefined;
  officer?: string | undefined;
  recorder?: string | undefined;
  state?: FlagState | 'unresolved' | undefined;
  /** Unit-scoped callers: only flags of this unit. */
  scopeUnit?: string | null | undefined;
}

interface Row {
  id: string;
  rule: FlagRule;
  officer: string | null;
  recorder_serial: string | null;
  evidence_id: string | null;
  assignment_id: string | null;
  dock_id: string | null;
  unit: string | null;
  seen: string;
  summary: string;
  raised_at: string;
  due_by: string;
  state: FlagState;
  escalated_at: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  approved_by: string | null;
  resolution: string | null;
}

function toFlag(r: Row): Flag {
  return {
    id: r.id,
    rule: r.rule,
    officer: r.officer,
    recorderSerial: r.recorder_serial,
    evidenceId: r.evidence_id,
    assignmentId: r.assignment_id,
    dockId: r.dock_id,
    unit: r.unit,
    seen: JSON.parse(r.seen) as Record<string, unknown>,
    summary: r.summary,
    raisedAt: r.raised_at,
    dueBy: r.due_by,
    state: r.state,
    escalatedAt: r.escalated_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    approvedBy: r.approved_by,
    resolution: r.resolution,
  };
}

/** Who approves a resolution: an API user (supervisor or admin). */
export interface Approver {
  id: string;
  role: string;
  unit: string | null;
  revoked: boolean;
}

export class FlagResolveError extends CustodyError {}

/**
 * The flags ledger: raising (once per finding), escalating overdue ones, resolving
 * with a written reason and an approver. Each change is ledgered in the same
 * transaction (`flag.raised`, `flag.escalated`, `flag.resolved`).
 */
export class FlagsService {
  constructor(private readonly deps: { catalog: Catalog; resolveWithinHours: number }) {}

  private get db(): Preparer {
    return (this.stmts ??= cachedPreparer(this.deps.catalog.db));
  }

  private stmts: Preparer | undefined;

  get(id: string): Flag | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM flags WHERE id = ?').get(id);
    return r ? toFlag(r) : null;
  }

  /** Raise a flag unless this finding already has one; returns the new flag or null. */
  raise(f: Finding, actor: string): Flag | null {
    return this.deps.catalog.tx(() => {
      if (this.db.prepare('SELECT 1 FROM flags WHERE dedupe_key = ?').get(f.key)) return null;
      const id = uuidv7();
      const now = this.deps.catalog.clock.now();
      const raisedAt = rfc3339(now);
      const dueBy = rfc3339(new Date(now.getTime() + this.deps.resolveWithinHours * 3_600_000));
      this.db
        .prepare(
          `INSERT INTO flags (id, rule, dedupe_key, officer, recorder_serial, evidence_id, assignment_id, dock_id, unit, seen, summary, raised_at, due_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          f.rule,
          f.key,
          f.officer ?? null,
          f.recorderSerial ?? null,
          f.evidenceId ?? null,
          f.assignmentId ?? null,
          f.dockId ?? null,
          f.unit ?? null,
          JSON.stringify(f.seen),
          f.summary,
          raisedAt,
          dueBy,
        );
      // Every item the flag names, for the search by flag and the flags of an item.
      const name = this.db.prepare('INSERT OR IGNORE INTO flag_evidence (flag_id, evidence_id) VALUES (?, ?)');
      for (const evidenceId of new Set([...(f.evidenceId ? [f.evidenceId] : []), ...(f.evidenceIds ?? [])])) name.run(id, evidenceId);
      ledgerOf(this.deps.catalog).append({
        type: 'flag.raised',
        actor,
        subject: id,
        data: {
          rule: f.rule,
          key: f.key,
          officer: f.officer ?? null,
          recorder: f.recorderSerial ?? null,
          evidence: f.evidenceId ?? null,
          assignment: f.assignmentId ?? null,
          dock: f.dockId ?? null,
          unit: f.unit ?? null,
          seen: f.seen,
          summary: f.summary,
          dueBy,
          // Every item the flag names (flag_evidence), so a restore from the ledger names them too (issue 20).
          ...(f.evidenceIds?.length ? { evidenceIds: [...new Set([...(f.evidenceId ? [f.evidenceId] : []), ...f.evidenceIds])].sort() } : {}),
        },
      });
      return this.get(id)!;
    });
  }

  /** Mark open flags past their due time as escalated (Main text 三(二)2); ledgered. */
  escalateOverdue(actor: string): Flag[] {
    const now = rfc3339(this.deps.catalog.clock.now());
    return this.deps.catalog.tx(() => {
      const due = this.db.prepare<[string], Row>("SELECT * FROM flags WHERE state = 'open' AND due_by < ? ORDER BY due_by, id").all(now);
      for (const r of due) {
        this.db.prepare("UPDATE flags SET state = 'escalated', escalated_at = ? WHERE id = ?").run(now, r.id);
        ledgerOf(this.deps.catalog).append({ type: 'flag.escalated', actor, subject: r.id, data: { rule: r.rule, dueBy: r.due_by, unit: r.unit, officer: r.officer } });
      }
      return due.map((r) => this.get(r.id)!);
    });
  }

  list(filter: FlagFilter = {}, opts: { limit?: number; before?: { raisedAt: string; id: string } | null } = {}): Flag[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, ...values: unknown[]): void => {
      where.push(clause);
      args.push(...values);
    };
    if (filter.scopeUnit !== undefined && filter.scopeUnit !== null) add('unit = ?', filter.scopeUnit);
    if (filter.rule !== undefined) add('rule = ?', filter.rule);
    if (filter.unit !== undefined) add('unit = ?', filter.unit);
    if (filter.officer !== undefined) add('officer = ?', filter.officer);
    if (filter.recorder !== undefined) add('recorder_serial = ?', filter.recorder);
    if (filter.state === 'unresolved') where.push("state <> 'resolved'");
    else if (filter.state !== undefined) add('state = ?', filter.state);
    if (opts.before) add('(raised_at, id) < (?, ?)', opts.before.raisedAt, opts.before.id);
    const sql = `SELECT * FROM flags${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY raised_at DESC, id DESC LIMIT ?`;
    return this.db
      .prepare<unknown[], Row>(sql)
      .all(...args, opts.limit ?? 500)
      .map(toFlag);
  }

  /**
   * Resolve a flag with a written reason, approved by a supervisor or admin who is not
   * the officer the flag is about (Art. 16). The approver's unit scope must cover the
   * flag. Ledgered as `flag.resolved` with the reason and the approver.
   */
  resolve(id: string, input: { reason: string; approver: Approver; actor: string }): Flag {
    const reason = input.reason.trim();
    if (reason.length < 1) throw new FlagResolveError('INVALID_INPUT', 'a resolution needs a written reason');
    if (reason.length > 4000) throw new FlagResolveError('INVALID_INPUT', 'the reason must be at most 4000 characters');
    const a = input.approver;
    if (a.revoked) throw new FlagResolveError('FORBIDDEN', `user ${a.id} is revoked and may not approve`);
    if (a.role !== 'supervisor' && a.role !== 'admin') throw new FlagResolveError('FORBIDDEN', `a resolution is approved by a supervisor or admin, not a ${a.role}`);
    return this.deps.catalog.tx(() => {
      const f = this.get(id);
      if (!f) throw new NotFoundError('flag', id);
      if (a.unit !== null && f.unit !== a.unit) throw new NotFoundError('flag', id);
      if (f.state === 'resolved') throw new FlagResolveError('FLAG_RESOLVED', `flag ${id} was already resolved at ${f.resolvedAt}`);
      if (f.officer !== null) {
        const own = this.db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM officers WHERE number = ? AND user_id = ?').get(f.officer, a.id);
        if (own && own.n > 0) throw new FlagResolveError('FLAG_SELF_APPROVAL', `flag ${id} is about officer ${f.officer}, who may not approve its resolution`);
      }
      const at = rfc3339(this.deps.catalog.clock.now());
      this.db
        .prepare("UPDATE flags SET state = 'resolved', resolved_at = ?, resolved_by = ?, approved_by = ?, resolution = ? WHERE id = ?")
        .run(at, input.actor, a.id, reason, id);
      ledgerOf(this.deps.catalog).append({
        type: 'flag.resolved',
        actor: input.actor,
        subject: id,
        data: { rule: f.rule, officer: f.officer, unit: f.unit, reason, approvedBy: a.id, stateBefore: f.state },
      });
      return this.get(id)!;
    });
  }
}
