import type { Catalog } from '../catalog/index.js';
import { rfc3339 } from '../core/time.js';
import type { AuthFailureReason } from './errors.js';
import { actorOf, type Principal } from './roles.js';

export interface Denial {
  principal: Principal;
  /** The error code the caller got (FORBIDDEN, ACCESS_GRANT_REQUIRED, NOT_FOUND for out-of-scope items, …). */
  code: string;
  message: string;
  /** The item concerned, or null for a whole route. */
  subject: string | null;
  method: string;
  /** The route template, e.g. /api/v1/evidence/:id/content (never the raw URL). */
  route: string;
  ip: string;
}

export interface AuthFailure {
  id: number;
  at: string;
  ip: string;
  reason: AuthFailureReason;
  method: string;
  url: string;
  userId: string | null;
}

/** URLs are attacker-controlled: keep them short in the table. */
const MAX_URL = 256;

/**
 * The record of refused requests (Art. 13 and 17: nobody retrieves records privately,
 * and misuse must be traceable).
 *
 * - A refusal of an identified user is a ledger entry `access.denied`: it is part of
 *   the tamper-evident history, next to the grants and views it relates to.
 * - A request nobody could be identified for goes to the `auth_failures` table: such
 *   requests can come from anyone who reaches the port, so they must not be able to
 *   grow the append-only, never-pruned ledger. They are rate-limited per address and
 *   pruned after `api.authFailureRetentionDays`.
 */
export class Audit {
  private readonly q;

  constructor(private readonly catalog: Catalog) {
    const db = catalog.db;
    this.q = {
      insertFailure: db.prepare(
        'INSERT INTO auth_failures (at, ip, reason, method, url, user_id) VALUES (@at, @ip, @reason, @method, @url, @userId)',
      ),
      failures: db.prepare<[number, number], { id: number; at: string; ip: string; reason: AuthFailureReason; method: string; url: string; user_id: string | null }>(
        'SELECT * FROM auth_failures WHERE id < ? ORDER BY id DESC LIMIT ?',
      ),
      prune: db.prepare<[string]>('DELETE FROM auth_failures WHERE at < ?'),
    };
  }

  denied(d: Denial): void {
    this.catalog.ledger.append({
      type: 'access.denied',
      actor: actorOf(d.principal),
      subject: d.subject,
      data: {
        code: d.code,
        message: d.message,
        method: d.method,
        route: d.route,
        ip: d.ip,
        role: d.principal.role,
        unit: d.principal.unit,
      },
    });
  }

  authFailure(f: { ip: string; reason: AuthFailureReason; method: string; url: string; userId: string | null }): void {
    this.q.insertFailure.run({ ...f, url: f.url.slice(0, MAX_URL), at: rfc3339(this.catalog.clock.now()) });
  }

  /** Newest first; `before` is the id of the last row of the previous page. */
  authFailures(before: number | null, limit: number): AuthFailure[] {
    return this.q.failures.all(before ?? Number.MAX_SAFE_INTEGER, limit).map((r) => ({
      id: r.id,
      at: r.at,
      ip: r.ip,
      reason: r.reason,
      method: r.method,
      url: r.url,
      userId: r.user_id,
    }));
  }

  pruneAuthFailures(olderThan: Date): number {
    return this.q.prune.run(rfc3339(olderThan)).changes;
  }
}
