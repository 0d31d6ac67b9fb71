import type { Migration } from './types.js';

/**
 * The device registry (status per recorder, the rules' Art. 14) and the dock history
 * with each pre-duty health snapshot (Art. 4).
 */
export const m004: Migration = {
  version: 4,
  name: 'devices',
  up(db) {
    db.exec(`
      ALTER TABLE recorders ADD COLUMN status TEXT NOT NULL DEFAULT 'in-service'
        CHECK (status IN ('in-service', 'reported-damaged', 'in-repair', 'retired'));
      ALTER TABLE recorders ADD COLUMN status_changed_at TEXT;
      ALTER TABLE recorders ADD COLUMN status_note TEXT;

      CREATE TABLE docks (
        id                  TEXT PRIMARY KEY,
        recorder_serial     TEXT REFERENCES recorders(serial),
        location            TEXT NOT NULL,
        docked_at           TEXT NOT NULL,
        undocked_at         TEXT,
        battery_percent     REAL,
        device_clock        TEXT,
        clock_drift_ms      INTEGER,
        storage_total_bytes INTEGER,
        storage_free_bytes  INTEGER,
        verdict             TEXT CHECK (verdict IN ('ready', 'not-ready')),
        reasons             TEXT NOT NULL DEFAULT '[]',
        clock_synced_at     TEXT,
        session_status      TEXT,
        files_ingested      INTEGER NOT NULL DEFAULT 0,
        files_failed        INTEGER NOT NULL DEFAULT 0,
        bytes_ingested      INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX docks_recorder ON docks(recorder_serial, docked_at);
    `);
  },
};
