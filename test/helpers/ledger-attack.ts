import type { Catalog } from '../../src/catalog/catalog.js';
import { GENESIS_PREV, canonicalJson, entryHash, type LedgerEntry } from '../../src/ledger/index.js';
import { dropLedgerTriggers } from './ledger-vault.js';

/**
 * Rewrite history as an attacker holding the database file would: change entry
 * `seq`, then recompute its hash and every later prev and hash, so the chain is
 * intact again and `custody verify` alone finds nothing (issue 9).
 */
export function rewriteHistory(catalog: Catalog, seq: number, change: (e: LedgerEntry) => void): void {
  if (catalog.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'ledger_no_update'`).get()) dropLedgerTriggers(catalog);
  const entries = [...catalog.ledger.entries()];
  const update = catalog.db.prepare('UPDATE ledger SET time = ?, type = ?, actor = ?, subject = ?, data = ?, prev = ?, hash = ? WHERE seq = ?');
  let prev = seq === 1 ? GENESIS_PREV : entries[seq - 2]!.hash;
  catalog.db.transaction(() => {
    for (const e of entries.slice(seq - 1)) {
      if (e.seq === seq) change(e);
      e.prev = prev;
      e.hash = entryHash(e);
      update.run(e.time, e.type, e.actor, e.subject, canonicalJson(e.data), e.prev, e.hash, e.seq);
      prev = e.hash;
    }
  })();
}

/** Remove the newest entries, as an attacker hiding the last events would. */
export function truncateLedger(catalog: Catalog, keep: number): void {
  if (catalog.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'ledger_no_delete'`).get()) dropLedgerTriggers(catalog);
  catalog.db.prepare('DELETE FROM ledger WHERE seq > ?').run(keep);
}
