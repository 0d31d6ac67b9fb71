import type { Migration } from './types.js';

/** Recorders, evidence items, and files that failed to ingest and wait for a retry. */
export const m002: Migration = {
  version: 2,
  name: 'evidence',
  up(db) {
    db.exec(`
      CREATE TABLE recorders (
        serial     TEXT PRIMARY KEY,
        model      TEXT,
        officer    TEXT,
        unit       TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL
      ) STRICT;

      CREATE TABLE evidence (
        id               TEXT PRIMARY KEY,
        sha256           TEXT NOT NULL CHECK (length(sha256) = 64),
        size             INTEGER NOT NULL CHECK (size >= 0),
        media_type       TEXT NOT NULL CHECK (media_type IN ('video', 'audio', 'photo')),
        recorder_serial  TEXT NOT NULL REFERENCES recorders(serial),
        officer          TEXT,
        unit             TEXT,
        source_path      TEXT NOT NULL,
        source_name      TEXT NOT NULL,
        source_mtime_ms  INTEGER NOT NULL,
        recorded_start   TEXT NOT NULL,
        recorded_end     TEXT,
        recorded_source  TEXT NOT NULL CHECK (recorded_source IN ('metadata', 'filename', 'mtime')),
        clock_drift_ms   INTEGER,
        recorded_start_corrected TEXT,
        recorded_end_corrected   TEXT,
        ingested_at      TEXT NOT NULL,
        session_id       TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'purged')),
        wiped_at         TEXT,
        duration_ms      INTEGER,
        media_json       TEXT,
        thumbnail_sha256 TEXT
      ) STRICT;
      CREATE INDEX evidence_source ON evidence(recorder_serial, source_path);
      CREATE INDEX evidence_sha ON evidence(sha256);
      CREATE INDEX evidence_recorded ON evidence(recorded_start);
      CREATE INDEX evidence_officer ON evidence(officer, recorded_start);

      CREATE TABLE ingest_failures (
        recorder_serial TEXT NOT NULL,
        source_path     TEXT NOT NULL,
        code            TEXT NOT NULL,
        message         TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 1,
        first_failed_at TEXT NOT NULL,
        last_failed_at  TEXT NOT NULL,
        PRIMARY KEY (recorder_serial, source_path)
      ) STRICT;
    `);
  },
};
