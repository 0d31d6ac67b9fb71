import type { Migration } from './types.js';

/**
 * How a dock ended (issue 21): `undock_reason` (removed, unmounted, usb-detach,
 * recorder-gone, custody-stopped) and `pulled`, set when the recorder went while its
 * check or session was still running, so the dock board can say "pulled" rather than
 * "done". Rows from before this migration keep NULL and 0: how they ended was not kept.
 */
export const m009: Migration = {
  version: 9,
  name: 'dock-undock',
  up(db) {
    db.exec(`
      ALTER TABLE docks ADD COLUMN undock_reason TEXT;
      ALTER TABLE docks ADD COLUMN pulled INTEGER NOT NULL DEFAULT 0 CHECK (pulled IN (0, 1));
      CREATE INDEX docks_open ON docks(docked_at) WHERE undocked_at IS NULL;
    `);
  },
};
