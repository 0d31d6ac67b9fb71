import type { Migration } from './types.js';

/** The hash-chained ledger and the record of which ranges are sealed into the vault. */
export const m001: Migration = {
  version: 1,
  name: 'ledger',
  up(db) {
    db.exec(`
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE ledger (
        seq     INTEGER PRIMARY KEY CHECK (seq >= 1),
        time    TEXT NOT NULL,
        type    TEXT NOT NULL,
        actor   TEXT NOT NULL,
        subject TEXT,
        data    TEXT NOT NULL,
        prev    TEXT NOT NULL CHECK (length(prev) = 64),
        hash    TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
      ) STRICT;
      CREATE INDEX ledger_subject ON ledger(subject) WHERE subject IS NOT NULL;
      CREATE INDEX ledger_type ON ledger(type);

      -- Append-only: the database itself refuses to change or remove an entry.
      CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
      CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;

      CREATE TABLE ledger_segments (
        first_seq INTEGER PRIMARY KEY,
        last_seq  INTEGER NOT NULL UNIQUE,
        key       TEXT NOT NULL UNIQUE,
        sha256    TEXT NOT NULL CHECK (length(sha256) = 64),
        size      INTEGER NOT NULL,
        sealed_at TEXT NOT NULL,
        CHECK (last_seq >= first_seq)
      ) STRICT;
    `);
  },
};
