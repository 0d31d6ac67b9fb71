import type { Migration } from './types.js';

/**
 * Case numbers are unique per unit, not bureau-wide (issue 14). With one bureau-wide
 * UNIQUE, a unit that tried a number another unit already used was told "taken": an
 * oracle for other units' case numbers. Now each unit numbers its own cases; the
 * bureau-wide cases (unit NULL) are one more numbering of their own.
 *
 * SQLite cannot drop a UNIQUE constraint, so `cases` is rebuilt. Its children
 * (`case_evidence`, `holds`) reference it by name and are kept row for row: they are
 * set aside in temporary tables, emptied, and put back once the new `cases` carries
 * the name, so the foreign keys stay checked throughout (they cannot be switched off
 * inside the migration's transaction) and no child ever points at a missing case.
 * Every row keeps its rowid; the index `cases_unit` is made again.
 *
 * - `UNIQUE (unit, number)`: within a unit, a number names one case.
 * - `cases_bureau_number`: within the bureau-wide cases (NULL is distinct in a UNIQUE).
 * - `cases_number`: a lookup by number alone (which must then say which unit).
 */
export const m012: Migration = {
  version: 12,
  name: 'case-numbers-per-unit',
  up(db) {
    db.exec(`
      CREATE TABLE cases_new (
        id         TEXT PRIMARY KEY,
        number     TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
        name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        unit       TEXT CHECK (unit IS NULL OR length(unit) BETWEEN 1 AND 64),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (unit, number)
      ) STRICT;
      INSERT INTO cases_new (rowid, id, number, name, unit, created_at, created_by)
        SELECT rowid, id, number, name, unit, created_at, created_by FROM cases;

      CREATE TEMP TABLE m012_case_evidence AS SELECT * FROM case_evidence;
      CREATE TEMP TABLE m012_holds AS SELECT rowid AS m012_rowid, * FROM holds;
      DELETE FROM case_evidence;
      DELETE FROM holds;

      DROP TABLE cases;
      ALTER TABLE cases_new RENAME TO cases;
      CREATE INDEX cases_unit ON cases(unit, created_at, id);
      CREATE UNIQUE INDEX cases_bureau_number ON cases(number) WHERE unit IS NULL;
      CREATE INDEX cases_number ON cases(number);

      INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by)
        SELECT case_id, evidence_id, linked_at, linked_by FROM m012_case_evidence;
      INSERT INTO holds (rowid, id, case_id, reason, reason_text, placed_at, placed_by, release_requested_at, release_requested_by,
          release_reason, released_at, released_by)
        SELECT m012_rowid, id, case_id, reason, reason_text, placed_at, placed_by, release_requested_at, release_requested_by,
          release_reason, released_at, released_by FROM m012_holds;
      DROP TABLE m012_case_evidence;
      DROP TABLE m012_holds;
    `);
  },
};
