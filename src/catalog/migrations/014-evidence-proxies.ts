import type { Migration } from './types.js';

/**
 * Browser-playable proxies (issue 15): one row per evidence item whose original a
 * browser cannot play (H.265, AVI, MKV, MPEG-TS, AMR, …), made by the
 * `evidence.proxy` follow-up and stored in the vault as a derived content object
 * beside the original (which is never touched).
 * - `status`: pending (queued or running, or retrying after `error`), ready (the
 *   proxy object is stored: `proxy_sha256`, `size`, codecs and size are what ffprobe
 *   read back), failed (out of attempts, or input that cannot succeed: `error`).
 * - `source_sha256`: the original the proxy was made from, as ledgered.
 * A ready row always names its object; a row of another status names none.
 */
export const m014: Migration = {
  version: 14,
  name: 'evidence-proxies',
  up(db) {
    db.exec(`
      CREATE TABLE evidence_proxies (
        evidence_id   TEXT PRIMARY KEY REFERENCES evidence(id),
        source_sha256 TEXT NOT NULL CHECK (length(source_sha256) = 64),
        kind          TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'photo')),
        status        TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
        reason        TEXT NOT NULL,
        proxy_sha256  TEXT CHECK (proxy_sha256 IS NULL OR length(proxy_sha256) = 64),
        size          INTEGER CHECK (size IS NULL OR size >= 0),
        container     TEXT CHECK (container IS NULL OR container IN ('mp4', 'm4a', 'jpeg')),
        video_codec   TEXT,
        audio_codec   TEXT,
        width         INTEGER CHECK (width IS NULL OR width > 0),
        height        INTEGER CHECK (height IS NULL OR height > 0),
        duration_ms   INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0),
        attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        error         TEXT CHECK (error IS NULL OR json_valid(error)),
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        CHECK ((status = 'ready') = (proxy_sha256 IS NOT NULL AND size IS NOT NULL AND container IS NOT NULL))
      ) STRICT;
      -- custody verify walks the ready proxies; the sweep finds the pending ones.
      CREATE INDEX evidence_proxies_status ON evidence_proxies(status);
    `);
  },
};
