import type { Catalog } from '../catalog/index.js';
import { rfc3339 } from '../core/index.js';
import type { AuthFailureReason } from './errors.js';
import { actorOf, type Principal } from './roles.js';
import { ledgerOf } from '../ledger/index.js';

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

/** Identical refusals coalesced by DenialLedger after the first one of a window. */
export interface Repeats {
  count: number;
  /** The distinct subjects refused, at most MAX_REPEAT_SUBJECTS of them. */
  subjects: Array<string | null>;
  from: string;
  to: string;
}

const MAX_REPEAT_SUBJECTS = 20;

interface DenialWindow {
  start: number;
  first: Denial;
  last: Denial;
  count: number;
  subjects: Set<string | null>;
  firstRepeatAt: number;
  lastRepeatAt: number;
}

/**
 * Every refusal of an identified user is ledgered, but a valid user must not be able
 * to grow the append-only ledger without bound (issue 14). Refusals are coalesced per
 * user, method and route template, and code, in windows of `windowMs` (a minute): the
 * first of a window is ledgered at once; the repeats within it are counted and ledgered
 * as one `access.denied` entry with `repeated` (their number) and the subjects they
 * named, when the window has passed (`flush`, on a timer) or the server stops
 * (`flush(true)`). At most two entries per key per minute, whatever the rate.
 */
export class DenialLedger {
  private readonly windows = new Map<string, DenialWindow>();

  constructor(
    private readonly audit: Audit,
    private readonly opts: { windowMs: number; now: () => number; onError?: (e: unknown) => void },
  ) {}

  record(d: Denial): void {
    const key = `${d.principal.id}\u0000${d.method} ${d.route}\u0000${d.code}`;
    const now = this.opts.now();
    const w = this.windows.get(key);
    if (w && now - w.start < this.opts.windowMs) {
      w.count++;
      w.last = d;
      w.lastRepeatAt = now;
      if (w.count === 1) w.firstRepeatAt = now;
      if (w.subjects.size < MAX_REPEAT_SUBJECTS) w.subjects.add(d.subject);
      return;
    }
    if (w) this.write(key, w);
    this.windows.set(key, { start: now, first: d, last: d, count: 0, subjects: new Set(), firstRepeatAt: now, lastRepeatAt: now });
    this.audit.denied(d);
  }

  /** Ledger the repeats of every window that has passed (all windows with `all`). */
  flush(all = false): number {
    const now = this.opts.now();
    let n = 0;
    for (const [key, w] of [...this.windows]) {
      if (!all && now - w.start < this.opts.windowMs) continue;
      if (this.write(key, w)) n++;
    }
    return n;
  }

  private write(key: string, w: DenialWindow): boolean {
    this.windows.delete(key);
    if (w.count === 0) return false;
    try {
      this.audit.denied(w.last, {
        count: w.count,
        subjects: [...w.subjects],
        from: new Date(w.firstRepeatAt).toISOString(),
        to: new Date(w.lastRepeatAt).toISOString(),
      });
    } catch (e) {
      this.opts.onError?.(e);
    }
    return true;
  }
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

  /** Ledger one refusal, or (with `repeats`) the repeats of one that DenialLedger coalesced. */
  denied(d: Denial, repeats?: Repeats): void {
    ledgerOf(this.catalog).append({
      type: 'access.denied',
      actor: actorOf(d.principal),
      subject: repeats ? null : d.subject,
      data: {
        code: d.code,
        message: d.message,
        method: d.method,
        route: d.route,
        ip: d.ip,
        role: d.principal.role,
        unit: d.principal.unit,
        ...(repeats ? { repeated: repeats.count, subjects: repeats.subjects, from: repeats.from, to: repeats.to } : {}),
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

/** The longest run of previews ledgered as one entry: a page of search results. */
export const PREVIEWS_PER_ENTRY = 50;

interface PreviewBatch {
  principal: Principal;
  start: number;
  last: number;
  ip: string;
  items: Map<string, string>;
}

/**
 * Previews served without a grant (`api.previews: video-frames`) are registered too,
 * coalesced like a page of results (issue 14): one `access.previewed` entry per user
 * for up to PREVIEWS_PER_ENTRY items, written when the batch is full, when its window
 * (a minute) has passed (`flush`, on a timer), or when the server stops (`flush(true)`).
 */
export class PreviewLedger {
  private readonly batches = new Map<string, PreviewBatch>();

  constructor(
    private readonly catalog: Catalog,
    private readonly opts: { windowMs: number; now: () => number },
  ) {}

  record(p: Principal, evidenceId: string, thumbnailSha256: string, ip: string): void {
    const now = this.opts.now();
    let b = this.batches.get(p.id);
    if (b && now - b.start >= this.opts.windowMs) {
      this.write(b);
      b = undefined;
    }
    if (!b) {
      b = { principal: p, start: now, last: now, ip, items: new Map() };
      this.batches.set(p.id, b);
    }
    b.items.set(evidenceId, thumbnailSha256);
    b.last = now;
    b.ip = ip;
    if (b.items.size >= PREVIEWS_PER_ENTRY) this.write(b);
  }

  flush(all = false): number {
    const now = this.opts.now();
    let n = 0;
    for (const b of [...this.batches.values()]) {
      if (all || now - b.start >= this.opts.windowMs) {
        this.write(b);
        n++;
      }
    }
    return n;
  }

  private write(b: PreviewBatch): void {
    this.batches.delete(b.principal.id);
    if (b.items.size === 0) return;
    ledgerOf(this.catalog).append({
      type: 'access.previewed',
      actor: actorOf(b.principal),
      subject: null,
      data: {
        evidenceIds: [...b.items.keys()],
        thumbnails: [...b.items.values()],
        from: new Date(b.start).toISOString(),
        to: new Date(b.last).toISOString(),
        ip: b.ip,
      },
    });
  }
}
