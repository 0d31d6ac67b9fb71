import type { Db } from '../catalog/index.js';

/** A wipe that was meant (its `evidence.wipe-intended` entry committed) and never recorded as done. */
export interface WipeIntent {
  evidenceId: string;
  sha256: string;
  sourcePath: string;
  reread: boolean;
}

/**
 * The open wipe intents of one recorder, read from the ledger itself (the record that
 * also survives a rebuilt catalog): its evidence not yet wiped that has an
 * `evidence.wipe-intended` entry. Walks the recorder's unwiped rows (few: wiping is the
 * normal end of an item's life on the recorder) and looks each up by subject.
 */
export class WipeIntents {
  private readonly q;

  constructor(db: Db) {
    this.q = db.prepare<[string], { id: string; sha256: string; source_path: string; data: string }>(
      `SELECT e.id, e.sha256, e.source_path, l.data FROM evidence e
         JOIN ledger l ON l.subject = e.id AND l.type = 'evidence.wipe-intended'
        WHERE e.recorder_serial = ? AND e.wiped_at IS NULL
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
