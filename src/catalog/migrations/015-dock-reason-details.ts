import type { Migration } from './types.js';

/**
 * The pre-duty check's reasons as codes and figures (issue 15).
 * - `docks.reason_details`: a JSON array of `{ code, message, params }`, one per
 *   reason, in the order of `reasons` (whose sentences it repeats, so the column of
 *   strings stays what scripts read). The figures are what the sentence was made of
 *   (src/devices/health-check.ts, HealthReasonParams), so a reader need not parse it.
 * Rows from before keep NULL: their codes and figures were not kept with the dock, and
 * are not invented; they read back as their sentences with code null.
 */
export const m015: Migration = {
  version: 15,
  name: 'dock-reason-details',
  up(db) {
    db.exec(`
      ALTER TABLE docks ADD COLUMN reason_details TEXT
        CHECK (reason_details IS NULL OR (json_valid(reason_details) AND json_type(reason_details) = 'array'));
    `);
  },
};
