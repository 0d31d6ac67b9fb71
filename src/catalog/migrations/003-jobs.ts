import type { Migration } from './types.js';

/**
 * The in-process job runner's queue (src/jobs/sqlite-runner.ts). A row is a job;
 * `status` moves pending → running → done | failed, or back to pending for a retry
 * or after a crash. Times: `run_after` is epoch milliseconds (compared on every
 * poll); created_at / updated_at are RFC 3339 like the rest of the catalog.
 */
export const m003: Migration = {
  version: 3,
  name: 'jobs',
  up(db) {
    db.exec(`
      CREATE TABLE jobs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL CHECK (length(name) > 0),
        payload    TEXT NOT NULL CHECK (json_valid(payload)),
        dedupe_key TEXT CHECK (dedupe_key IS NULL OR length(dedupe_key) > 0),
        status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        run_after  INTEGER NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;

      -- One live job per key: done and failed jobs free their key.
      CREATE UNIQUE INDEX jobs_live_key ON jobs(dedupe_key)
        WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running');
      -- The poll: the oldest due pending jobs first.
      CREATE INDEX jobs_due ON jobs(run_after, id) WHERE status = 'pending';
      -- Stats and pruning.
      CREATE INDEX jobs_status ON jobs(status, updated_at);
    `);
  },
};
