import type { Migration } from './types.js';

/**
 * Archival exports as jobs (issue 19): the API starts an export and answers at once; the
 * export runs in the daemon, and this row is what its status endpoint reads.
 *
 * - `status`: queued → running → done (every copy written and verified as read back) |
 *   failed (the export ran and a copy failed, or it was refused when it started:
 *   `error`) | interrupted (the daemon stopped while it was queued or running; set when
 *   the daemon starts again, never resumed: whatever a copy had written is a hidden
 *   `.partial` folder or an unrecorded copy, and nothing is reported good).
 * - `progress`: JSON, one object per copy (phase, files and bytes written, files
 *   checked as read back), updated while the export runs.
 * - `result`: JSON, the export's result (as the CLI's --json) once it ran; a copy is
 *   reported good there only after it verified as read back.
 */
export const m016: Migration = {
  version: 16,
  name: 'export-jobs',
  up(db) {
    db.exec(`
      CREATE TABLE export_jobs (
        id           TEXT PRIMARY KEY,
        case_id      TEXT NOT NULL REFERENCES cases(id),
        actor        TEXT NOT NULL,
        maker        TEXT NOT NULL CHECK (length(maker) BETWEEN 1 AND 100),
        destinations TEXT NOT NULL CHECK (json_valid(destinations)),
        iso          INTEGER NOT NULL CHECK (iso IN (0, 1)),
        status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
        progress     TEXT NOT NULL CHECK (json_valid(progress)),
        result       TEXT CHECK (result IS NULL OR json_valid(result)),
        error        TEXT CHECK (error IS NULL OR json_valid(error)),
        created_at   TEXT NOT NULL,
        started_at   TEXT,
        finished_at  TEXT,
        CHECK ((status = 'done') <= (result IS NOT NULL)),
        CHECK ((status IN ('queued', 'running')) = (finished_at IS NULL))
      ) STRICT;
      CREATE INDEX export_jobs_case ON export_jobs(case_id, created_at);
      CREATE INDEX export_jobs_status ON export_jobs(status);
    `);
  },
};
