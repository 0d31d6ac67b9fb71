import type { Catalog } from '../catalog/index.js';
import type { ActivityEvent, Logger } from '../core/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { retentionDate, type RetentionPolicy } from './policy.js';

/** What an object store with S3 Object Lock offers (the S3 adapter with vault.s3.objectLock on). */
export interface ObjectLocker {
  retainUntil(key: string, until: Date): Promise<void>;
  legalHold(key: string, on: boolean): Promise<void>;
}

/** The store as an ObjectLocker when it has Object Lock turned on, else null. */
export function objectLockerOf(store: ObjectStore): ObjectLocker | null {
  const s = store as ObjectStore & Partial<ObjectLocker> & { objectLock?: unknown };
  return typeof s.retainUntil === 'function' && typeof s.legalHold === 'function' && s.objectLock ? (s as ObjectLocker) : null;
}

/**
 * Mirrors retention and holds onto S3 Object Lock (issue 7): an object is retained
 * until the latest retention date of the live items with its content, and carries a
 * legal hold while any of them is held. The catalog stays the authority for the
 * purge; Object Lock makes the store itself refuse an early delete.
 */
export class ObjectLockSync {
  private readonly q;

  constructor(
    private readonly deps: { catalog: Catalog; locker: ObjectLocker; policy: Pick<RetentionPolicy, 'months' | 'minDaysAfterIngest' | 'timezone'>; log: Logger },
  ) {
    const db = deps.catalog.db;
    this.q = {
      sha: db.prepare<[string], { sha256: string }>('SELECT sha256 FROM evidence WHERE id = ?'),
      sharers: db.prepare<[string], { id: string; recorded_at: string; ingested_at: string }>(
        "SELECT id, recorded_at, ingested_at FROM evidence WHERE sha256 = ? AND status = 'live'",
      ),
      heldSharers: db.prepare<[string], { n: number }>(
        `SELECT count(*) AS n FROM evidence e JOIN case_evidence ce ON ce.evidence_id = e.id
           JOIN holds h ON h.case_id = ce.case_id AND h.released_at IS NULL
          WHERE e.sha256 = ? AND e.status = 'live'`,
      ),
    };
  }

  /** After an item is ingested: retain its object until the latest retention date of its content. */
  async itemIngested(evidenceId: string): Promise<void> {
    const row = this.q.sha.get(evidenceId);
    if (!row) return;
    const dates = this.q.sharers.all(row.sha256).map((r) => retentionDate({ recordedAt: r.recorded_at, ingestedAt: r.ingested_at }, this.deps.policy).getTime());
    if (dates.length === 0) return;
    await this.deps.locker.retainUntil(contentKey(row.sha256), new Date(Math.max(...dates)));
  }

  /**
   * Set the retention of every object ingested from now on (the daemon hears ingests
   * on its activity bus). A failure is logged; stop() waits for calls in flight.
   */
  follow(activity: { subscribe(listener: (e: ActivityEvent) => void): () => void }): { stop(): Promise<void> } {
    const inFlight = new Set<Promise<void>>();
    const unsubscribe = activity.subscribe((e) => {
      if (e.type !== 'ingested') return;
      const p = this.itemIngested(e.evidenceId).catch((err: unknown) => this.deps.log.error({ err, evidenceId: e.evidenceId }, 'could not set the object retention'));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    });
    return {
      async stop() {
        unsubscribe();
        await Promise.all([...inFlight]);
      },
    };
  }

  /** After holds changed for these items: each object's legal hold is on while any live item with its content is held. */
  async holdsChanged(evidenceIds: readonly string[]): Promise<void> {
    const shas = new Set(evidenceIds.map((id) => this.q.sha.get(id)?.sha256).filter((s): s is string => s !== undefined));
    for (const sha of shas) {
      const held = this.q.heldSharers.get(sha)!.n > 0;
      await this.deps.locker.legalHold(contentKey(sha), held);
    }
    if (shas.size > 0) this.deps.log.info({ objects: shas.size }, 'object legal holds updated');
  }
}

/** An ObjectLockSync for the store, or null when it has no Object Lock turned on. */
export function objectLockSyncFor(
  store: ObjectStore,
  deps: { catalog: Catalog; policy: Pick<RetentionPolicy, 'months' | 'minDaysAfterIngest' | 'timezone'>; log: Logger },
): ObjectLockSync | null {
  const locker = objectLockerOf(store);
  return locker ? new ObjectLockSync({ ...deps, locker }) : null;
}
