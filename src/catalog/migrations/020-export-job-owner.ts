import type { Migration } from './types.js';

/**
 * Which process runs an export job, so that only its own process's end interrupts it.
 * - `export_jobs.owner`: `<pid>-<start>` of the process that queued and runs the job
 *   (the start time from /proc, as the vault's temp files are owned; `<pid>-0` where
 *   there is no /proc). A process that starts its API interrupts only the queued or
 *   running jobs whose owner is gone: a `custody serve` started beside a running daemon
 *   no longer marks the daemon's export interrupted.
 * Jobs of before have no owner (NULL): taken as a gone owner's.
 */
export const m020: Migration = {
  version: 20,
  name: 'export-job-owner',
  up(db) {
    db.exec(`ALTER TABLE export_jobs ADD COLUMN owner TEXT;`);
  },
};
