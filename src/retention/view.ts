import type { Catalog } from '../catalog/index.js';
import { rfc3339 } from '../core/index.js';
import { CasesService, type ItemHold } from './cases.js';
import { retentionDate, type RetentionPolicy } from './policy.js';

export interface ItemRetention {
  /** When the policy lets the item go: recorded + months in the zone, at least minDaysAfterIngest after ingest. */
  retentionDate: string;
  retention: {
    /** held: an unreleased hold protects it; pending-purge: announced; retained: neither; purged. */
    state: 'retained' | 'pending-purge' | 'held' | 'purged';
    announcedAt: string | null;
    dueAt: string | null;
    purgedAt: string | null;
  };
  holds: ItemHold[];
  cases: { id: string; number: string; name: string }[];
}

/** What the retention policy, holds and cases say about one item (GET /evidence/{id}, custody cases show). */
export class RetentionView {
  private readonly cases: CasesService;
  private readonly q;

  constructor(
    catalog: Catalog,
    private readonly policy: Pick<RetentionPolicy, 'months' | 'minDaysAfterIngest' | 'timezone'>,
  ) {
    this.cases = new CasesService(catalog);
    this.q = {
      row: catalog.db.prepare<[string], { status: string; recorded_at: string; ingested_at: string; purge_announced_at: string | null; purge_due_at: string | null; purged_at: string | null }>(
        'SELECT status, recorded_at, ingested_at, purge_announced_at, purge_due_at, purged_at FROM evidence WHERE id = ?',
      ),
    };
  }

  /**
   * The item's retention. With `scope` (a unit-scoped caller's unit), cases of other
   * units are left out of `holds` and `cases` (an item may be linked to another unit's
   * case by an unscoped user); the state still says `held`.
   */
  of(evidenceId: string, scope: string | null = null): ItemRetention | null {
    const r = this.q.row.get(evidenceId);
    if (!r) return null;
    const allHolds = this.cases.holdsOn(evidenceId);
    const cases = this.cases.casesOf(evidenceId).filter((c) => scope === null || c.unit === scope);
    const visible = new Set(cases.map((c) => c.id));
    const holds = allHolds.filter((h) => visible.has(h.caseId));
    const state = r.status === 'purged' ? 'purged' : allHolds.length > 0 ? 'held' : r.purge_announced_at !== null ? 'pending-purge' : 'retained';
    return {
      retentionDate: rfc3339(retentionDate({ recordedAt: r.recorded_at, ingestedAt: r.ingested_at }, this.policy)),
      retention: { state, announcedAt: r.purge_announced_at, dueAt: r.purge_due_at, purgedAt: r.purged_at },
      holds,
      cases: cases.map((c) => ({ id: c.id, number: c.number, name: c.name })),
    };
  }
}
