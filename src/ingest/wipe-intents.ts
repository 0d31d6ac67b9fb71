import type { Catalog, Db } from '../catalog/index.js';
import { ledgerOf } from '../ledger/index.js';

/** A wipe that was meant (its `evidence.wipe-intended` entry committed) and never recorded as done or abandoned. */
export interface WipeIntent {
  evidenceId: string;
  sha256: string;
  sourcePath: string;
  reread: boolean;
}

/**
 * Why an open intent is closed without a wipe (`evidence.wipe-abandoned`):
 * - `changed`: the file at its path is no longer the one ingested (another size or
 *   time, or its bytes no longer hash as the vault copy): custody did not delete it and
 *   will not delete what it has not stored; the file there is taken as new footage;
 * - `not-wiping`: the file is there as ingested, but the station no longer wipes it
 *   (wiping switched off, or the item is no longer live): it stays on the recorder.
 */
export type WipeAbandonReason = 'changed' | 'not-wiping';

/**
 * The open wipe intents of one recorder, read from the ledger itself (the record that
 * also survives a rebuilt catalog): its items not yet wiped that have an
 * `evidence.wipe-intended` entry with no `evidence.wipe-abandoned` after it. One query,
 * through the index of unwiped items (migration 017): where the station wipes, those are
 * few, whatever the recorder handed in before.
 */
export class WipeIntents {
  private readonly q;

  constructor(db: Db) {
    this.q = db.prepare<[string], { id: string; sha256: string; source_path: string; data: string }>(
      // CROSS JOIN keeps this order, and `+type` keeps the ledger's type index out of it
      // (the planner would otherwise walk every intent ever committed): the recorder's
      // unwiped items, then each one's entries by subject.
      `SELECT e.id, e.sha256, e.source_path, l.data FROM evidence e INDEXED BY evidence_unwiped
         CROSS JOIN ledger l ON l.subject = e.id AND +l.type = 'evidence.wipe-intended'
        WHERE e.recorder_serial = ? AND e.wiped_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM ledger a WHERE a.subject = e.id AND +a.type = 'evidence.wipe-abandoned' AND a.seq > l.seq)
        ORDER BY l.seq`,
    );
  }

  open(serial: string): WipeIntent[] {
    const byId = new Map<string, WipeIntent>();
    for (const r of this.q.all(serial)) {
      const data = JSON.parse(r.data) as { reread?: unknown };
      byId.set(r.id, { evidenceId: r.id, sha256: r.sha256, sourcePath: r.source_path, reread: data.reread === true });
    }
    return [...byId.values()];
  }
}

/**
 * Close an open intent without a wipe, in the ledger (`evidence.wipe-abandoned`, with
 * why and what was seen at the path); the item stays unwiped.
 */
export function abandonWipe(
  catalog: Catalog,
  actor: string,
  intent: WipeIntent,
  recorder: string,
  reason: WipeAbandonReason,
  seen: { size: number; mtimeMs: number } | null,
): void {
  catalog.tx(() =>
    ledgerOf(catalog).append({
      type: 'evidence.wipe-abandoned',
      actor,
      subject: intent.evidenceId,
      data: { sha256: intent.sha256, recorder, sourcePath: intent.sourcePath, reason, seen },
    }),
  );
}
