import type { Migration } from './types.js';

/**
 * Every item a compliance flag names (issue 13). A late dock raises one late-upload
 * flag per recorder and session that lists its files, so a flag may name many items;
 * `flags.evidence_id` keeps the first of them. The search by flag
 * (`GET /evidence?flag=`) and the flags shown on an item read this table, and the
 * late-upload rule finds the items no flag names yet through it. Flags of before name
 * at most one item each (`evidence_id`): they are copied in, and a trigger links the
 * `evidence_id` of every new flag.
 */
export const m010: Migration = {
  version: 10,
  name: 'flag-evidence',
  up(db) {
    db.exec(`
      CREATE TABLE flag_evidence (
        flag_id     TEXT NOT NULL REFERENCES flags(id),
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        PRIMARY KEY (flag_id, evidence_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX flag_evidence_evidence ON flag_evidence(evidence_id, flag_id);
      INSERT INTO flag_evidence (flag_id, evidence_id) SELECT id, evidence_id FROM flags WHERE evidence_id IS NOT NULL;
      -- The item a flag is about is always among those it names, whoever inserts it.
      CREATE TRIGGER flags_name_evidence AFTER INSERT ON flags WHEN NEW.evidence_id IS NOT NULL
      BEGIN
        INSERT OR IGNORE INTO flag_evidence (flag_id, evidence_id) VALUES (NEW.id, NEW.evidence_id);
      END;
    `);
  },
};
