import type { Migration } from './types.js';

/**
 * The ledger without the UNIQUE index on `hash` (issue 18). Nothing looks an entry up
 * by its hash, and the chain already makes every hash distinct (each commits to its
 * seq and to the hash before it), so the index only cost: a random 64-character key
 * per append, which dirtied a page of the index for nearly every entry of a batch and
 * about doubled the CPU and tripled the WAL writes of a batched append. SQLite cannot
 * drop a column's UNIQUE constraint, so the table is rebuilt with its rows, indexes
 * and append-only triggers as they were (the implicit delete of DROP TABLE fires no
 * trigger). The copy needs as much free disk as the ledger takes, once.
 */
export const m018: Migration = {
  version: 18,
  name: 'ledger-hash-unindexed',
  up(db) {
    db.exec(`
      CREATE TABLE ledger_new (
        seq     INTEGER PRIMARY KEY CHECK (seq >= 1),
        time    TEXT NOT NULL,
        type    TEXT NOT NULL,
        actor   TEXT NOT NULL,
        subject TEXT,
        data    TEXT NOT NULL,
        prev    TEXT NOT NULL CHECK (length(prev) = 64),
        hash    TEXT NOT NULL CHECK (length(hash) = 64)
      ) STRICT;
      INSERT INTO ledger_new (seq, time, type, actor, subject, data, prev, hash)
        SELECT seq, time, type, actor, subject, data, prev, hash FROM ledger ORDER BY seq;
      DROP TABLE ledger;
      ALTER TABLE ledger_new RENAME TO ledger;
      CREATE INDEX ledger_subject ON ledger(subject) WHERE subject IS NOT NULL;
      CREATE INDEX ledger_type ON ledger(type);

      -- Append-only: the database itself refuses to change or remove an entry.
      CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
      CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    `);
  },
};
