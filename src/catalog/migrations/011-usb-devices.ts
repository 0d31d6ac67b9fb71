import type { Migration } from './types.js';

/**
 * Real recorders (issue 16).
 * - `docks.health_state`: the honest verdict, ready / not-ready / unchecked (nothing
 *   could read battery or clock); `verdict` stays what the dock counts as for duty.
 * - `docks.clock_drift_method`: how the drift was found (read from the recorder, or
 *   estimated from its newest file); NULL where none was found.
 * - `docks.identity_conflicts`: where files or the USB serial named the recorder
 *   otherwise than the recorder itself (JSON), the device being believed.
 * - `docks.clock_sync_error`: why the clock could not be set after a complete session.
 * - `usb_devices`: every USB device seen attached while the daemon ran, so a station
 *   can learn a model it has no profile for (`custody devices unknown`, `learn`).
 * Rows from before keep NULL: what was not recorded is not invented.
 */
export const m011: Migration = {
  version: 11,
  name: 'usb-devices',
  up(db) {
    db.exec(`
      ALTER TABLE docks ADD COLUMN health_state TEXT CHECK (health_state IN ('ready', 'not-ready', 'unchecked'));
      ALTER TABLE docks ADD COLUMN clock_drift_method TEXT
        CHECK (clock_drift_method IN ('device-clock', 'status-file', 'newest-file-estimate'));
      ALTER TABLE docks ADD COLUMN identity_conflicts TEXT CHECK (identity_conflicts IS NULL OR json_valid(identity_conflicts));
      ALTER TABLE docks ADD COLUMN clock_sync_error TEXT;

      CREATE TABLE usb_devices (
        vendor_id         INTEGER NOT NULL CHECK (vendor_id BETWEEN 0 AND 65535),
        product_id        INTEGER NOT NULL CHECK (product_id BETWEEN 0 AND 65535),
        -- The iSerial string; '' when the device has none (a key cannot be NULL).
        serial            TEXT NOT NULL DEFAULT '',
        manufacturer      TEXT,
        product           TEXT,
        interface_classes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(interface_classes)),
        first_seen        TEXT NOT NULL,
        last_seen         TEXT NOT NULL,
        times_seen        INTEGER NOT NULL DEFAULT 1 CHECK (times_seen >= 1),
        PRIMARY KEY (vendor_id, product_id, serial)
      ) STRICT;
      CREATE INDEX usb_devices_seen ON usb_devices(last_seen);
    `);
  },
};
