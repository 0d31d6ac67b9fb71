import { join } from 'node:path';
import { systemClock, type Clock } from '../core/index.js';
import { openDatabase, type Db } from './db.js';

export function catalogPath(home: string): string {
  return join(home, 'catalog.db');
}

/**
 * Told when a transaction run by `Catalog.tx` ends. The ledger (src/ledger) is one:
 * it tells its listeners of entries only once they are committed.
 */
export interface TxObserver {
  committed(): void;
  rolledBack(): void;
}

/**
 * The catalog database. `tx` is the one way to change state: the change and the
 * ledger entry that records it commit together or not at all. The catalog knows
 * nothing of the ledger itself: src/ledger attaches it (`catalog.ledger`) and
 * observes the transactions' ends.
 */
export class Catalog {
  private readonly observers = new Set<TxObserver>();

  constructor(
    readonly db: Db,
    readonly clock: Clock = systemClock,
  ) {}

  /** Hear of every `tx` that commits or rolls back; returns the way to stop. */
  observeTx(observer: TxObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
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
      for (const o of this.observers) o.rolledBack();
      throw e;
    }
    for (const o of this.observers) o.committed();
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
