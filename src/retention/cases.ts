import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, NotFoundError, rfc3339 } from '../core/index.js';
import { CaseNumberAmbiguousError, CaseNumberTakenError, HoldSelfApprovalError, HoldStateError } from './errors.js';
import { ledgerOf } from '../ledger/index.js';

/** Why a case is protected (Art. 12). */
export const HOLD_REASONS = ['dispute', 'obstruction', 'sensitive', 'other'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

export interface Case {
  id: string;
  number: string;
  name: string;
  unit: string | null;
  createdAt: string;
  createdBy: string;
}

export interface Hold {
  id: string;
  caseId: string;
  reason: HoldReason;
  reasonText: string | null;
  placedAt: string;
  placedBy: string;
  releaseRequestedAt: string | null;
  releaseRequestedBy: string | null;
  releaseReason: string | null;
  releasedAt: string | null;
  releasedBy: string | null;
  /** active: blocks purge; release-requested: still blocks, waiting for a second person; released. */
  state: 'active' | 'release-requested' | 'released';
}

/** An active hold as seen from one evidence item. */
export interface ItemHold {
  holdId: string;
  caseId: string;
  caseNumber: string;
  reason: HoldReason;
  reasonText: string | null;
  placedAt: string;
}

interface HoldRow {
  id: string;
  case_id: string;
  reason: HoldReason;
  reason_text: string | null;
  placed_at: string;
  placed_by: string;
  release_requested_at: string | null;
  release_requested_by: string | null;
  release_reason: string | null;
  released_at: string | null;
  released_by: string | null;
}

interface CaseRow {
  id: string;
  number: string;
  name: string;
  unit: string | null;
  created_at: string;
  created_by: string;
}

function caseOf(r: CaseRow): Case {
  return { id: r.id, number: r.number, name: r.name, unit: r.unit, createdAt: r.created_at, createdBy: r.created_by };
}

function holdOf(r: HoldRow): Hold {
  return {
    id: r.id,
    caseId: r.case_id,
    reason: r.reason,
    reasonText: r.reason_text,
    placedAt: r.placed_at,
    placedBy: r.placed_by,
    releaseRequestedAt: r.release_requested_at,
    releaseRequestedBy: r.release_requested_by,
    releaseReason: r.release_reason,
    releasedAt: r.released_at,
    releasedBy: r.released_by,
    state: r.released_at !== null ? 'released' : r.release_requested_at !== null ? 'release-requested' : 'active',
  };
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function text(field: string, value: string, max: number, problems: string[]): string {
  const v = value.trim();
  if (v.length < 1 || v.length > max || CONTROL.test(v)) problems.push(`${field} must be 1 to ${max} printable characters`);
  return v;
}

function invalid(problems: string[]): never {
  throw new CustodyError('INVALID_INPUT', problems.join('; '), { details: { problems } });
}

export interface NewCase {
  number: string;
  name: string;
  unit?: string | null;
}

/**
 * Cases, their evidence and their holds (Art. 12). Every change is ledgered in the
 * same transaction: `case.created`, `case.linked`, `hold.placed`,
 * `hold.release-requested`, `hold.released`.
 *
 * Invariants:
 * - A hold covers every item linked to its case, also items linked later, until it is
 *   released; a held item is never purged (the purge checks in the transaction that
 *   would purge it).
 * - A release is asked by one person and approved by another (also checked by the
 *   database).
 * - Placing a hold, or linking an item to a held case, withdraws the item's purge
 *   announcement: after a release it is announced again with a full notice period.
 */
export class CasesService {
  private readonly q;

  constructor(private readonly catalog: Catalog) {
    const db = catalog.db;
    this.q = {
      insertCase: db.prepare('INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (@id, @number, @name, @unit, @now, @actor)'),
      caseById: db.prepare<[string], CaseRow>('SELECT * FROM cases WHERE id = ?'),
      // Numbers are unique per unit (migration 012): `unit IS ?` also matches the bureau-wide cases (NULL).
      caseByUnitNumber: db.prepare<[string, string | null], CaseRow>('SELECT * FROM cases WHERE number = ? AND unit IS ?'),
      casesByNumber: db.prepare<[string], CaseRow>('SELECT * FROM cases WHERE number = ? ORDER BY unit, id'),
      cases: db.prepare<[], CaseRow>('SELECT * FROM cases ORDER BY created_at DESC, id DESC'),
      casesOfUnit: db.prepare<[string], CaseRow>('SELECT * FROM cases WHERE unit = ? ORDER BY created_at DESC, id DESC'),
      link: db.prepare('INSERT OR IGNORE INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, ?, ?)'),
      evidence: db.prepare<[string], { id: string; sha256: string; unit: string | null; status: string }>('SELECT id, sha256, unit, status FROM evidence WHERE id = ?'),
      linked: db.prepare<[string], { evidence_id: string }>('SELECT evidence_id FROM case_evidence WHERE case_id = ? ORDER BY linked_at, evidence_id'),
      casesOfItem: db.prepare<[string], CaseRow>(
        'SELECT c.* FROM case_evidence ce JOIN cases c ON c.id = ce.case_id WHERE ce.evidence_id = ? ORDER BY c.created_at, c.id',
      ),
      insertHold: db.prepare(
        'INSERT INTO holds (id, case_id, reason, reason_text, placed_at, placed_by) VALUES (@id, @caseId, @reason, @reasonText, @now, @actor)',
      ),
      holdById: db.prepare<[string], HoldRow>('SELECT * FROM holds WHERE id = ?'),
      holdsOfCase: db.prepare<[string], HoldRow>('SELECT * FROM holds WHERE case_id = ? ORDER BY placed_at, id'),
      activeHoldsOfCase: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM holds WHERE case_id = ? AND released_at IS NULL'),
      requestRelease: db.prepare('UPDATE holds SET release_requested_at = ?, release_requested_by = ?, release_reason = ? WHERE id = ?'),
      release: db.prepare('UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?'),
      itemHolds: db.prepare<[string], ItemHold>(
        `SELECT h.id AS holdId, h.case_id AS caseId, c.number AS caseNumber, h.reason, h.reason_text AS reasonText, h.placed_at AS placedAt
           FROM case_evidence ce JOIN holds h ON h.case_id = ce.case_id AND h.released_at IS NULL JOIN cases c ON c.id = ce.case_id
          WHERE ce.evidence_id = ? ORDER BY h.placed_at, h.id`,
      ),
      unannounceCase: db.prepare<[string], { id: string }>(
        `UPDATE evidence SET purge_announced_at = NULL, purge_due_at = NULL
          WHERE status = 'live' AND purge_announced_at IS NOT NULL AND id IN (SELECT evidence_id FROM case_evidence WHERE case_id = ?)
          RETURNING id`,
      ),
      unannounceItem: db.prepare<[string], { id: string }>(
        "UPDATE evidence SET purge_announced_at = NULL, purge_due_at = NULL WHERE id = ? AND status = 'live' AND purge_announced_at IS NOT NULL RETURNING id",
      ),
    };
  }

  create(input: NewCase, actor: string): Case {
    const problems: string[] = [];
    const number = text('number', input.number, 64, problems);
    const name = text('name', input.name, 200, problems);
    const unit = input.unit === undefined || input.unit === null || input.unit.trim() === '' ? null : text('unit', input.unit, 64, problems);
    if (problems.length > 0) invalid(problems);
    const id = uuidv7();
    this.catalog.tx(() => {
      // Only the same unit's numbers are taken: the refusal names nothing another unit has.
      if (this.q.caseByUnitNumber.get(number, unit)) throw new CaseNumberTakenError(number, unit);
      this.q.insertCase.run({ id, number, name, unit, now: rfc3339(this.catalog.clock.now()), actor });
      ledgerOf(this.catalog).append({ type: 'case.created', actor, subject: id, data: { number, name, unit } });
    });
    return this.require(id);
  }

  get(id: string): Case | null {
    const r = this.q.caseById.get(id);
    return r ? caseOf(r) : null;
  }

  /**
   * The cases with this number that a caller of `scope` sees (null: the whole bureau;
   * a unit: only that unit's). Numbers are unique per unit, so a bureau-wide caller may
   * find several, one per unit.
   */
  byNumber(number: string, scope: string | null = null): Case[] {
    return this.q.casesByNumber
      .all(number)
      .filter((r) => scope === null || r.unit === scope)
      .map(caseOf);
  }

  /**
   * A case by id or, failing that, by number (the CLI takes either), as a caller of
   * `scope` sees them (null: the whole bureau). A case outside the scope is not found,
   * whichever way it is named. A number that several units use names no case: the
   * error says which units (all of them visible to the caller) and their cases' ids.
   */
  find(idOrNumber: string, scope: string | null = null): Case {
    const byId = this.get(idOrNumber);
    if (byId && (scope === null || byId.unit === scope)) return byId;
    const found = this.byNumber(idOrNumber, scope);
    if (found.length > 1) throw new CaseNumberAmbiguousError(idOrNumber, found);
    if (found.length === 0) throw new NotFoundError('case', idOrNumber);
    return found[0]!;
  }

  require(id: string): Case {
    const c = this.get(id);
    if (!c) throw new NotFoundError('case', id);
    return c;
  }

  /** Cases, newest first; a unit narrows to that unit's cases. */
  list(unit: string | null = null): Case[] {
    return (unit === null ? this.q.cases.all() : this.q.casesOfUnit.all(unit)).map(caseOf);
  }

  evidenceOf(caseId: string): string[] {
    return this.q.linked.all(caseId).map((r) => r.evidence_id);
  }

  casesOf(evidenceId: string): Case[] {
    return this.q.casesOfItem.all(evidenceId).map(caseOf);
  }

  /**
   * Link items to a case; an item already linked is left as it is. Purged items cannot
   * be linked. Returns the ids newly linked.
   */
  link(caseId: string, evidenceIds: readonly string[], actor: string): string[] {
    return this.catalog.tx(() => {
      const c = this.require(caseId);
      const now = rfc3339(this.catalog.clock.now());
      const held = this.q.activeHoldsOfCase.get(caseId)!.n > 0;
      const added: string[] = [];
      for (const evidenceId of new Set(evidenceIds)) {
        const ev = this.q.evidence.get(evidenceId);
        if (!ev) throw new NotFoundError('evidence', evidenceId);
        if (ev.status !== 'live') throw new CustodyError('EVIDENCE_PURGED', `evidence ${evidenceId} was purged; it cannot be linked to a case`);
        if (this.q.link.run(caseId, evidenceId, now, actor).changes === 0) continue;
        const unannounced = held && this.q.unannounceItem.get(evidenceId) !== undefined;
        ledgerOf(this.catalog).append({
          type: 'case.linked',
          actor,
          subject: evidenceId,
          data: { caseId, caseNumber: c.number, sha256: ev.sha256, held, ...(unannounced ? { purgeAnnouncementWithdrawn: true } : {}) },
        });
        added.push(evidenceId);
      }
      return added;
    });
  }

  holdsOf(caseId: string): Hold[] {
    return this.q.holdsOfCase.all(caseId).map(holdOf);
  }

  getHold(id: string): Hold | null {
    const r = this.q.holdById.get(id);
    return r ? holdOf(r) : null;
  }

  requireHold(id: string): Hold {
    const h = this.getHold(id);
    if (!h) throw new NotFoundError('hold', id);
    return h;
  }

  /** The unreleased holds that cover an item (empty: the item is not held). */
  holdsOn(evidenceId: string): ItemHold[] {
    return this.q.itemHolds.all(evidenceId);
  }

  /** Protect a case: every linked item (and every item linked later) is held until release. */
  placeHold(caseId: string, input: { reason: string; text?: string | null }, actor: string): Hold {
    const problems: string[] = [];
    if (!(HOLD_REASONS as readonly string[]).includes(input.reason)) problems.push(`reason must be one of ${HOLD_REASONS.join(', ')}`);
    const reasonText = input.text === undefined || input.text === null || input.text.trim() === '' ? null : text('text', input.text, 2000, problems);
    if (input.reason === 'other' && reasonText === null) problems.push('reason "other" needs a text saying why');
    if (problems.length > 0) invalid(problems);
    const id = uuidv7();
    this.catalog.tx(() => {
      const c = this.require(caseId);
      this.q.insertHold.run({ id, caseId, reason: input.reason, reasonText, now: rfc3339(this.catalog.clock.now()), actor });
      const withdrawn = this.q.unannounceCase.all(caseId).map((r) => r.id);
      ledgerOf(this.catalog).append({
        type: 'hold.placed',
        actor,
        subject: caseId,
        data: { holdId: id, caseNumber: c.number, reason: input.reason, text: reasonText, evidenceIds: this.evidenceOf(caseId), purgeAnnouncementsWithdrawn: withdrawn },
      });
    });
    return this.requireHold(id);
  }

  /** Ask for a hold to be released; it still holds until someone else approves. */
  requestRelease(holdId: string, reason: string, actor: string): Hold {
    const problems: string[] = [];
    const why = text('reason', reason, 2000, problems);
    if (problems.length > 0) invalid(problems);
    this.catalog.tx(() => {
      const h = this.requireHold(holdId);
      if (h.state !== 'active') throw new HoldStateError(h.state === 'released' ? `hold ${holdId} is already released` : `the release of hold ${holdId} was already asked`);
      this.q.requestRelease.run(rfc3339(this.catalog.clock.now()), actor, why, holdId);
      ledgerOf(this.catalog).append({ type: 'hold.release-requested', actor, subject: h.caseId, data: { holdId, reason: why } });
    });
    return this.requireHold(holdId);
  }

  /** Approve a requested release: by someone other than who asked. The hold ends now. */
  approveRelease(holdId: string, actor: string): Hold {
    this.catalog.tx(() => {
      const h = this.requireHold(holdId);
      if (h.state === 'released') throw new HoldStateError(`hold ${holdId} is already released`);
      if (h.state !== 'release-requested') throw new HoldStateError(`nobody asked to release hold ${holdId}; ask first (request-release)`);
      if (h.releaseRequestedBy === actor) throw new HoldSelfApprovalError(holdId);
      this.q.release.run(rfc3339(this.catalog.clock.now()), actor, holdId);
      ledgerOf(this.catalog).append({
        type: 'hold.released',
        actor,
        subject: h.caseId,
        data: { holdId, reason: h.reason, requestedBy: h.releaseRequestedBy, releaseReason: h.releaseReason, evidenceIds: this.evidenceOf(h.caseId) },
      });
    });
    return this.requireHold(holdId);
  }
}
