import { join } from 'node:path';
import type { Clock } from '../core/time.js';
import { systemClock } from '../core/time.js';
import { Ledger } from '../vault/ledger.js';
import { openDatabase, type Db } from './db.js';

export function catalogPath(home: string): string {
  return join(home, 'catalog.db');
}

/**
 * The catalog database and its ledger. `tx` is the one way to change state: the
 * change and the ledger entry that records it commit together or not at all.
 */
export class Catalog {
  readonly ledger: Ledger;

  constructor(
    readonly db: Db,
    readonly clock: Clock = systemClock,
  ) {
    this.ledger = new Ledger(db, clock);
  }

  static open(file: string, opts: { clock?: Clock; readonly?: boolean } = {}): Catalog {
    return new Catalog(openDatabase(file, { readonly: opts.readonly ?? false }), opts.clock ?? systemClock);
  }

  /**
   * Run fn in an IMMEDIATE transaction (takes the write lock up front, so ledger
   * appends from several processes are serialised). fn must be synchronous: an
   * await inside would commit early.
   */
  tx<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (e) {
      this.ledger.discardPending();
      throw e;
    }
    this.ledger.flushCommitted();
    return result;
  }

  getMeta(key: string): string | null {
    const r = this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key);
    return r ? r.value : null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
