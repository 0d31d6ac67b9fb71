import type { Migration } from './types.js';

/**
 * Compliance (issue 6; the rules' Art. 9, 14 and 16): who had which recorder, and the
 * flags raised when footage is late or missing, recording stopped, a clock was off or
 * a damaged recorder was not handed in.
 *
 * - `officers`: officer number, name, unit; `user_id` links the officer's own API user,
 *   if any, so that nobody approves the resolution of a flag about themselves.
 * - `assignments`: a recorder checked out to an officer from `starts_at` to `ends_at`
 *   (a shift). The serial is not a foreign key: a duty roster may name a recorder that
 *   has never been docked, and "never docked" is exactly what missing-upload reports.
 * - `flags`: one row per finding. `dedupe_key` (rule + subject + window) is unique, so
 *   a scan that runs again raises nothing twice. A flag is `open`, `escalated` once its
 *   `due_by` has passed unresolved, or `resolved` with a written reason and an approver.
 *   The database refuses a resolution without both, and (by trigger) one approved by
 *   the officer the flag is about.
 */
export const m007: Migration = {
  version: 7,
  name: 'compliance',
  up(db) {
    db.exec(`
      CREATE TABLE officers (
        number     TEXT PRIMARY KEY CHECK (length(number) BETWEEN 1 AND 32),
        name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        unit       TEXT CHECK (unit IS NULL OR length(unit) BETWEEN 1 AND 64),
        user_id    TEXT REFERENCES users(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX officers_unit ON officers(unit, number);

      CREATE TABLE assignments (
        id              TEXT PRIMARY KEY,
        officer         TEXT NOT NULL REFERENCES officers(number),
        recorder_serial TEXT NOT NULL CHECK (length(recorder_serial) BETWEEN 1 AND 64),
        -- The officer's unit when the assignment was made (officers may move).
        unit            TEXT,
        starts_at       TEXT NOT NULL,
        ends_at         TEXT,
        source          TEXT NOT NULL CHECK (source IN ('manual', 'import')),
        created_at      TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        ended_by        TEXT,
        CHECK (ends_at IS NULL OR ends_at > starts_at)
      ) STRICT;
      CREATE INDEX assignments_recorder ON assignments(recorder_serial, starts_at);
      CREATE INDEX assignments_officer ON assignments(officer, starts_at);
      CREATE INDEX assignments_unit ON assignments(unit, starts_at);
      CREATE INDEX assignments_ends ON assignments(ends_at);

      CREATE TABLE flags (
        id              TEXT PRIMARY KEY,
        rule            TEXT NOT NULL CHECK (rule IN ('late-upload', 'missing-upload', 'sequence-gap', 'recording-gap',
                                                      'clock-drift', 'repair-overdue', 'attribution-conflict')),
        dedupe_key      TEXT NOT NULL UNIQUE,
        -- The subject: whichever of these the finding is about.
        officer         TEXT,
        recorder_serial TEXT,
        evidence_id     TEXT REFERENCES evidence(id),
        assignment_id   TEXT REFERENCES assignments(id),
        dock_id         TEXT REFERENCES docks(id),
        unit            TEXT,
        -- What was seen (JSON object) and one sentence saying it.
        seen            TEXT NOT NULL CHECK (json_valid(seen)),
        summary         TEXT NOT NULL,
        raised_at       TEXT NOT NULL,
        due_by          TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'escalated', 'resolved')),
        escalated_at    TEXT,
        resolved_at     TEXT,
        resolved_by     TEXT,
        approved_by     TEXT REFERENCES users(id),
        resolution      TEXT CHECK (resolution IS NULL OR length(trim(resolution)) BETWEEN 1 AND 4000),
        CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
        CHECK (resolved_at IS NULL OR (resolved_by IS NOT NULL AND approved_by IS NOT NULL AND resolution IS NOT NULL)),
        CHECK (state <> 'escalated' OR escalated_at IS NOT NULL)
      ) STRICT;
      CREATE INDEX flags_state ON flags(state, due_by);
      CREATE INDEX flags_rule ON flags(rule, raised_at, id);
      CREATE INDEX flags_unit ON flags(unit, raised_at, id);
      CREATE INDEX flags_officer ON flags(officer, raised_at, id);
      CREATE INDEX flags_raised ON flags(raised_at, id);

      -- Art. 16: the leader approves; nobody approves a flag about themselves.
      CREATE TRIGGER flags_no_self_approval BEFORE UPDATE OF approved_by ON flags
        WHEN NEW.approved_by IS NOT NULL AND NEW.officer IS NOT NULL
          AND EXISTS (SELECT 1 FROM officers WHERE number = NEW.officer AND user_id = NEW.approved_by)
      BEGIN
        SELECT RAISE(ABORT, 'a flag may not be approved by the officer it is about');
      END;
    `);
  },
};
