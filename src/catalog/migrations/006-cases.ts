import type { Migration } from './types.js';

/**
 * Cases, holds and the purge (the rules' Art. 11–12, issue 7).
 *
 * - `cases` / `case_evidence`: a case links the evidence of one enforcement subject.
 * - `holds`: protection of a case for a reason from Art. 12. A hold covers every item
 *   linked to its case, also those linked later; a held item is never purged. Release is
 *   asked by one user and approved by another (the database refuses a self-approval).
 * - `purge_runs` / `purge_run_items`: one row per purge run (also dry runs and refused
 *   runs) and what it did to each item it looked at, so a run can be reported and a run
 *   that stopped half-way can be resumed.
 * - On `evidence`: `purge_announced_at` / `purge_due_at` mark an item `pending-purge`
 *   (announced `retention.noticeDays` before it goes); `purged_at` / `purge_run_id`
 *   record its purge. `status` stays `live` until the purge, then `purged`; the row is
 *   kept as the tombstone beside the `evidence.purged` ledger entry. The retention date
 *   itself is computed from the policy in force (it depends on the configured months,
 *   minimum days and zone), not stored.
 */
export const m006: Migration = {
  version: 6,
  name: 'cases',
  up(db) {
    db.exec(`
      CREATE TABLE cases (
        id         TEXT PRIMARY KEY,
        number     TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 64),
        name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        unit       TEXT CHECK (unit IS NULL OR length(unit) BETWEEN 1 AND 64),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX cases_unit ON cases(unit, created_at, id);

      CREATE TABLE case_evidence (
        case_id     TEXT NOT NULL REFERENCES cases(id),
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        linked_at   TEXT NOT NULL,
        linked_by   TEXT NOT NULL,
        PRIMARY KEY (case_id, evidence_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX case_evidence_evidence ON case_evidence(evidence_id, case_id);

      CREATE TABLE holds (
        id                   TEXT PRIMARY KEY,
        case_id              TEXT NOT NULL REFERENCES cases(id),
        reason               TEXT NOT NULL CHECK (reason IN ('dispute', 'obstruction', 'sensitive', 'other')),
        reason_text          TEXT CHECK (reason_text IS NULL OR length(reason_text) BETWEEN 1 AND 2000),
        placed_at            TEXT NOT NULL,
        placed_by            TEXT NOT NULL,
        release_requested_at TEXT,
        release_requested_by TEXT,
        release_reason       TEXT CHECK (release_reason IS NULL OR length(release_reason) BETWEEN 1 AND 2000),
        released_at          TEXT,
        released_by          TEXT,
        -- 'other' must say what.
        CHECK (reason <> 'other' OR reason_text IS NOT NULL),
        CHECK ((release_requested_at IS NULL) = (release_requested_by IS NULL)),
        CHECK ((released_at IS NULL) = (released_by IS NULL)),
        CHECK (released_at IS NULL OR release_requested_at IS NOT NULL),
        -- The approver of a release is never the one who asked for it.
        CHECK (released_by IS NULL OR released_by <> release_requested_by)
      ) STRICT;
      CREATE INDEX holds_case ON holds(case_id, placed_at, id);
      CREATE INDEX holds_active ON holds(case_id) WHERE released_at IS NULL;

      CREATE TABLE purge_runs (
        id           TEXT PRIMARY KEY,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        status       TEXT NOT NULL CHECK (status IN ('running', 'completed', 'refused', 'failed')),
        dry_run      INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
        forced       INTEGER NOT NULL CHECK (forced IN (0, 1)),
        actor        TEXT NOT NULL,
        counted      INTEGER NOT NULL DEFAULT 0,
        announced    INTEGER NOT NULL DEFAULT 0,
        purged       INTEGER NOT NULL DEFAULT 0,
        bytes_freed  INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        refusal_code TEXT,
        refusal      TEXT,
        CHECK ((status = 'running') = (finished_at IS NULL)),
        CHECK ((status = 'refused') = (refusal_code IS NOT NULL))
      ) STRICT;
      CREATE INDEX purge_runs_started ON purge_runs(started_at, id);

      CREATE TABLE purge_run_items (
        run_id      TEXT NOT NULL REFERENCES purge_runs(id),
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        outcome     TEXT NOT NULL CHECK (outcome IN ('announced', 'purged', 'skipped')),
        reason      TEXT,
        bytes_freed INTEGER NOT NULL DEFAULT 0,
        at          TEXT NOT NULL,
        PRIMARY KEY (run_id, evidence_id)
      ) STRICT, WITHOUT ROWID;

      ALTER TABLE evidence ADD COLUMN purge_announced_at TEXT;
      ALTER TABLE evidence ADD COLUMN purge_due_at TEXT;
      ALTER TABLE evidence ADD COLUMN purged_at TEXT;
      ALTER TABLE evidence ADD COLUMN purge_run_id TEXT;
      CREATE INDEX evidence_pending_purge ON evidence(purge_due_at, id) WHERE purge_announced_at IS NOT NULL AND status = 'live';
      CREATE INDEX evidence_live_recorded ON evidence(recorded_at, id) WHERE status = 'live';
    `);
  },
};
