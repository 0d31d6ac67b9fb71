import { v7 as uuidv7 } from 'uuid';
import { EvidenceRepo, type Catalog } from '../catalog/index.js';
import { NotFoundError, rfc3339 } from '../core/index.js';
import { AccessDeniedError, ConflictError, HiddenError, InvalidInputError } from './errors.js';
import { actorOf, can, inScope, type Principal } from './roles.js';
import { ledgerOf } from '../ledger/index.js';

/**
 * pending → approved | denied; approved → expired (its time passed) or revoked (ended
 * early by its approver or an admin, issue 14).
 */
export type AccessRequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'revoked';

export interface AccessRequest {
  id: string;
  requester: { id: string; name: string };
  reason: string;
  /** How long the requester asked to view for, in hours (null: the approver's default). */
  requestedHours: number | null;
  status: AccessRequestStatus;
  createdAt: string;
  decidedBy: { id: string; name: string } | null;
  decidedAt: string | null;
  decisionNote: string | null;
  /** When the grant ends (approved and expired requests); for a revoked one, when it was revoked. */
  expiresAt: string | null;
  /** When the expiry (or the revocation) was recorded. */
  expiredAt: string | null;
  /** Who ended the grant early, when, and why (revoked requests). */
  revokedBy: { id: string; name: string } | null;
  revokedAt: string | null;
  revocationNote: string | null;
  evidenceIds: string[];
}

/** An approved, unexpired request that covers one item for one user. */
export interface Grant {
  requestId: string;
  expiresAt: string;
}

/** An approved, unexpired request for a whole case (`POST /access-requests {caseId}`). */
export interface CaseGrant {
  requestId: string;
  expiresAt: string;
  approvedBy: string | null;
  evidenceIds: string[];
}

/** A position in a list ordered newest first. */
export interface ListPosition {
  createdAt: string;
  id: string;
}

export interface AccessRequestsOptions {
  catalog: Catalog;
  /** Grant length when the approver gives no expiry. */
  grantDefaultHours: number;
  /** The longest grant an approver may give. */
  grantMaxHours: number;
}

export const MAX_ITEMS_PER_REQUEST = 100;

interface Row {
  id: string;
  requester_id: string;
  requester_name: string;
  reason: string;
  status: Exclude<AccessRequestStatus, 'revoked'>;
  created_at: string;
  decided_by: string | null;
  decider_name: string | null;
  decided_at: string | null;
  decision_note: string | null;
  expires_at: string | null;
  expired_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  revoker_name: string | null;
  revocation_note: string | null;
  requested_hours: number | null;
}

/**
 * A revoked grant is stored as expired (at the moment of revocation); what tells it
 * apart is its `access.request.revoked` entry, which names who revoked it, when and why.
 * It is read from the ledger, the record itself, so grants revoked before the status
 * existed show as revoked too. (The ledger is searched by subject: `+type` keeps SQLite
 * from scanning every entry of the type instead.)
 */
export const SELECT = `SELECT r.*, u.name AS requester_name, d.name AS decider_name,
    (SELECT json_extract(c.data, '$.requestedHours') FROM ledger c WHERE c.subject = r.id AND +c.type = 'access.request.created') AS requested_hours,
    rv.time AS revoked_at, substr(rv.actor, 6) AS revoked_by, v.name AS revoker_name, json_extract(rv.data, '$.note') AS revocation_note
  FROM access_requests r JOIN users u ON u.id = r.requester_id LEFT JOIN users d ON d.id = r.decided_by
  LEFT JOIN ledger rv ON rv.subject = r.id AND +rv.type = 'access.request.revoked' AND rv.actor LIKE 'user:%'
  LEFT JOIN users v ON v.id = substr(rv.actor, 6)`;

const HOUR_MS = 3600_000;

/**
 * Access requests and grants (Art. 13: retrieval needs the supervising leader's
 * consent and a registration record). A request names evidence items and a reason; a
 * supervisor or admin other than the requester approves it for a limited time or
 * denies it. Every step is ledgered in the transaction that makes it.
 *
 * Scope: a unit-scoped user may only ask for, and only decide on, items of their unit;
 * anything else answers as if it did not exist.
 */
export class AccessRequests {
  private readonly catalog: Catalog;
  private readonly evidence: EvidenceRepo;
  private readonly opts: AccessRequestsOptions;
  private readonly q;

  constructor(opts: AccessRequestsOptions) {
    this.opts = opts;
    this.catalog = opts.catalog;
    this.evidence = new EvidenceRepo(opts.catalog.db);
    const db = opts.catalog.db;
    this.q = {
      insert: db.prepare('INSERT INTO access_requests (id, requester_id, reason, created_at) VALUES (?, ?, ?, ?)'),
      insertItem: db.prepare('INSERT INTO access_request_items (request_id, evidence_id) VALUES (?, ?)'),
      byId: db.prepare<[string], Row>(`${SELECT} WHERE r.id = ?`),
      items: db.prepare<[string], { evidence_id: string; unit: string | null }>(
        'SELECT i.evidence_id, e.unit FROM access_request_items i JOIN evidence e ON e.id = i.evidence_id WHERE i.request_id = ? ORDER BY i.evidence_id',
      ),
      decide: db.prepare<[string, string, string, string | null, string | null, string]>(
        "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?, expires_at = ? WHERE id = ? AND status = 'pending'",
      ),
      mine: db.prepare<[string, string, string, string, number], Row>(
        `${SELECT} WHERE r.requester_id = ? AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
      ),
      // Pending requests by others whose every item is in the decider's scope (?5 null: unscoped).
      toDecide: db.prepare<{ me: string; at: string; id: string; unit: string | null; limit: number }, Row>(
        `${SELECT} WHERE r.status = 'pending' AND r.requester_id <> @me
           AND (r.created_at < @at OR (r.created_at = @at AND r.id < @id))
           AND (@unit IS NULL OR NOT EXISTS (
             SELECT 1 FROM access_request_items i JOIN evidence e ON e.id = i.evidence_id
             WHERE i.request_id = r.id AND (e.unit IS NULL OR e.unit <> @unit)))
         ORDER BY r.created_at DESC, r.id DESC LIMIT @limit`,
      ),
      grant: db.prepare<[string, string, string], { id: string; expires_at: string }>(
        `SELECT r.id, r.expires_at FROM access_request_items i JOIN access_requests r ON r.id = i.request_id
         WHERE i.evidence_id = ? AND r.requester_id = ? AND r.status = 'approved' AND r.expires_at > ?
         ORDER BY r.expires_at DESC LIMIT 1`,
      ),
      // The case a request was made for is in its access.request.created entry.
      caseGrants: db.prepare<[string, string, string], { id: string; expires_at: string; decided_by: string | null }>(
        `SELECT r.id, r.expires_at, r.decided_by FROM access_requests r
           JOIN ledger l ON l.subject = r.id AND +l.type = 'access.request.created'
          WHERE r.requester_id = ? AND r.status = 'approved' AND r.expires_at > ? AND json_extract(l.data, '$.caseId') = ?
          ORDER BY r.expires_at DESC`,
      ),
      revoke: db.prepare<[string, string, string]>(
        "UPDATE access_requests SET status = 'expired', expired_at = ?, expires_at = ? WHERE id = ? AND status = 'approved'",
      ),
      due: db.prepare<[string, number], Row>(`${SELECT} WHERE r.status = 'approved' AND r.expires_at <= ? ORDER BY r.expires_at LIMIT ?`),
      expire: db.prepare<[string, string]>("UPDATE access_requests SET status = 'expired', expired_at = ? WHERE id = ? AND status = 'approved'"),
    };
  }

  /**
   * Ask to view items, optionally for how long (`hours`, at most api.grantMaxHours: the
   * approval's default length). Every item must exist and be in the requester's scope.
   */
  create(p: Principal, input: { evidenceIds: string[]; reason: string; caseId?: string | undefined; hours?: number | undefined }): AccessRequest {
    if (!can(p, 'access.request')) throw new AccessDeniedError('FORBIDDEN', `role ${p.role} may not request access`);
    const ids = [...new Set(input.evidenceIds)];
    if (ids.length === 0 || ids.length > MAX_ITEMS_PER_REQUEST) {
      throw new InvalidInputError(`an access request names 1 to ${MAX_ITEMS_PER_REQUEST} evidence items`);
    }
    const reason = input.reason.trim();
    if (reason.length === 0) throw new InvalidInputError('a reason is required');
    const hours = input.hours;
    if (hours !== undefined && !(Number.isInteger(hours) && hours >= 1 && hours <= this.opts.grantMaxHours)) {
      throw new InvalidInputError(`hours must be a whole number from 1 to ${this.opts.grantMaxHours}`);
    }
    const id = uuidv7();
    this.catalog.tx(() => {
      for (const eid of ids) {
        const ev = this.evidence.get(eid);
        if (!ev) throw new NotFoundError('evidence', eid);
        if (!inScope(p, ev.unit)) throw new HiddenError('evidence', eid);
      }
      this.q.insert.run(id, p.id, reason, rfc3339(this.catalog.clock.now()));
      for (const eid of ids) this.q.insertItem.run(id, eid);
      ledgerOf(this.catalog).append({
        type: 'access.request.created',
        actor: actorOf(p),
        subject: id,
        data: {
          requester: p.id,
          evidenceIds: [...ids].sort(),
          reason,
          ...(input.caseId !== undefined ? { caseId: input.caseId } : {}),
          ...(hours !== undefined ? { requestedHours: hours } : {}),
        },
      });
    });
    return this.load(id)!;
  }

  /**
   * One request, for its requester, for someone who may decide it, or for an unscoped
   * auditor or admin; anyone else is told it does not exist.
   */
  get(p: Principal, id: string): AccessRequest {
    const r = this.load(id);
    if (!r) throw new NotFoundError('access request', id);
    if (!this.visible(p, r)) throw new HiddenError('access request', id);
    return r;
  }

  /**
   * Approve for a limited time: until `expiresAt`, else for the hours the requester
   * asked for, else api.grantDefaultHours; never past api.grantMaxHours from now.
   */
  approve(p: Principal, id: string, opts: { expiresAt?: Date; note?: string } = {}): AccessRequest {
    const now = this.catalog.clock.now();
    const asked = this.q.byId.get(id)?.requested_hours ?? null;
    const hours = asked === null ? this.opts.grantDefaultHours : Math.min(asked, this.opts.grantMaxHours);
    const expiresAt = opts.expiresAt ?? new Date(now.getTime() + hours * HOUR_MS);
    if (!(expiresAt.getTime() > now.getTime())) throw new InvalidInputError('expiresAt must be in the future');
    const max = new Date(now.getTime() + this.opts.grantMaxHours * HOUR_MS);
    if (expiresAt.getTime() > max.getTime()) {
      throw new InvalidInputError(`expiresAt may be at most ${this.opts.grantMaxHours} hours from now (${rfc3339(max)})`);
    }
    return this.decide(p, id, 'approved', opts.note ?? null, rfc3339(expiresAt));
  }

  deny(p: Principal, id: string, opts: { note?: string } = {}): AccessRequest {
    return this.decide(p, id, 'denied', opts.note ?? null, null);
  }

  /** The caller's own requests, newest first. */
  listMine(p: Principal, after: ListPosition | null, limit: number): AccessRequest[] {
    const pos = after ?? { createdAt: '\uffff', id: '' };
    return this.q.mine.all(p.id, pos.createdAt, pos.createdAt, pos.id, limit).map((r) => this.withItems(r));
  }

  /** Pending requests by others that the caller may decide, newest first. */
  listToDecide(p: Principal, after: ListPosition | null, limit: number): AccessRequest[] {
    if (!can(p, 'access.decide')) throw new AccessDeniedError('FORBIDDEN', `role ${p.role} does not decide access requests`);
    const pos = after ?? { createdAt: '\uffff', id: '' };
    return this.q.toDecide.all({ me: p.id, at: pos.createdAt, id: pos.id, unit: p.unit, limit }).map((r) => this.withItems(r));
  }

  /** The grant that lets this user view this item now, if any. */
  grantFor(userId: string, evidenceId: string): Grant | null {
    const r = this.q.grant.get(evidenceId, userId, rfc3339(this.catalog.clock.now()));
    return r ? { requestId: r.id, expiresAt: r.expires_at } : null;
  }

  /** The user's approved, unexpired requests made for a case, longest-lasting first. */
  caseGrantsFor(userId: string, caseId: string): CaseGrant[] {
    return this.q.caseGrants.all(userId, rfc3339(this.catalog.clock.now()), caseId).map((r) => ({
      requestId: r.id,
      expiresAt: r.expires_at,
      approvedBy: r.decided_by,
      evidenceIds: this.q.items.all(r.id).map((i) => i.evidence_id),
    }));
  }

  /**
   * End a grant before its expiry (issue 14): by the one who approved it, or by an admin
   * whose scope covers its items. The grant stops working at once (on its next use),
   * `access.request.revoked` is ledgered, and the request shows as `revoked`, naming
   * who revoked it and when.
   */
  revoke(p: Principal, id: string, opts: { note?: string } = {}): AccessRequest {
    const note = opts.note ?? null;
    if (note !== null && note.length > 2000) throw new InvalidInputError('note is longer than 2000 characters');
    this.catalog.tx(() => {
      const r = this.load(id);
      if (!r) throw new NotFoundError('access request', id);
      if (!this.visible(p, r)) throw new HiddenError('access request', id);
      const approver = r.decidedBy?.id === p.id;
      if (!approver && !(p.role === 'admin' && this.itemsInScope(p, id))) {
        throw new AccessDeniedError('FORBIDDEN', 'a grant is revoked by the one who approved it or by an administrator', id);
      }
      const now = rfc3339(this.catalog.clock.now());
      if (r.status !== 'approved' || (r.expiresAt !== null && r.expiresAt <= now)) {
        throw new ConflictError('ACCESS_REQUEST_NOT_GRANTED', `access request ${id} is ${r.status === 'approved' ? 'expired' : r.status}: there is no grant to revoke`);
      }
      this.q.revoke.run(now, now, id);
      ledgerOf(this.catalog).append({
        type: 'access.request.revoked',
        actor: actorOf(p),
        subject: id,
        data: { requester: r.requester.id, evidenceIds: r.evidenceIds, expiresAt: r.expiresAt, note },
      });
    });
    return this.load(id)!;
  }

  /**
   * Record the end of every grant whose time has passed (`access.request.expired`).
   * Grants are checked against their expiry on every use, so this only keeps the
   * record and the status in step; it runs on a timer.
   */
  expireDue(batch = 500): number {
    return this.catalog.tx(() => {
      const now = rfc3339(this.catalog.clock.now());
      const due = this.q.due.all(now, batch);
      for (const r of due) {
        this.q.expire.run(now, r.id);
        ledgerOf(this.catalog).append({
          type: 'access.request.expired',
          actor: 'api',
          subject: r.id,
          data: { requester: r.requester_id, evidenceIds: this.q.items.all(r.id).map((i) => i.evidence_id), expiresAt: r.expires_at },
        });
      }
      return due.length;
    });
  }

  private decide(p: Principal, id: string, status: 'approved' | 'denied', note: string | null, expiresAt: string | null): AccessRequest {
    if (!can(p, 'access.decide')) throw new AccessDeniedError('FORBIDDEN', `role ${p.role} does not decide access requests`, id);
    if (note !== null && note.length > 2000) throw new InvalidInputError('note is longer than 2000 characters');
    this.catalog.tx(() => {
      const r = this.load(id);
      if (!r) throw new NotFoundError('access request', id);
      if (!this.itemsInScope(p, id)) throw new HiddenError('access request', id);
      if (r.requester.id === p.id) {
        throw new AccessDeniedError('ACCESS_SELF_DECISION', 'an access request must be decided by someone other than its requester', id);
      }
      if (r.status !== 'pending') throw new ConflictError('ACCESS_REQUEST_DECIDED', `access request ${id} is already ${r.status}`);
      this.q.decide.run(status, p.id, rfc3339(this.catalog.clock.now()), note, expiresAt, id);
      ledgerOf(this.catalog).append({
        type: status === 'approved' ? 'access.request.approved' : 'access.request.denied',
        actor: actorOf(p),
        subject: id,
        data: {
          requester: r.requester.id,
          evidenceIds: r.evidenceIds,
          note,
          ...(status === 'approved' ? { expiresAt } : {}),
        },
      });
    });
    return this.load(id)!;
  }

  private visible(p: Principal, r: AccessRequest): boolean {
    if (r.requester.id === p.id) return true;
    if (p.unit === null && (can(p, 'access.decide') || can(p, 'ledger.read'))) return true;
    return can(p, 'access.decide') && this.itemsInScope(p, r.id);
  }

  private itemsInScope(p: Principal, id: string): boolean {
    return this.q.items.all(id).every((i) => inScope(p, i.unit));
  }

  private load(id: string): AccessRequest | null {
    const r = this.q.byId.get(id);
    return r ? this.withItems(r) : null;
  }

  private withItems(r: Row): AccessRequest {
    return {
      id: r.id,
      requester: { id: r.requester_id, name: r.requester_name },
      reason: r.reason,
      requestedHours: r.requested_hours,
      status: r.status === 'expired' && r.revoked_at !== null ? 'revoked' : r.status,
      createdAt: r.created_at,
      decidedBy: r.decided_by ? { id: r.decided_by, name: r.decider_name ?? '' } : null,
      decidedAt: r.decided_at,
      decisionNote: r.decision_note,
      expiresAt: r.expires_at,
      expiredAt: r.expired_at,
      revokedBy: r.revoked_by !== null && r.revoked_at !== null ? { id: r.revoked_by, name: r.revoker_name ?? '' } : null,
      revokedAt: r.revoked_at,
      revocationNote: r.revocation_note,
      evidenceIds: this.q.items.all(r.id).map((i) => i.evidence_id),
    };
  }
}
