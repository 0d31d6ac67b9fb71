import type { Migration } from './types.js';

/**
 * Browser sign-in (issue 15): passwords and server-side sessions.
 *
 * - `users.password_hash`: scrypt, in the self-describing form
 *   `scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>` (src/access/passwords.ts); null for a
 *   user who signs in only with a token.
 * - `sessions`: one row per browser sign-in. Only SHA-256 of the cookie's secret is
 *   kept (like tokens). A session ends by sign-out, by its idle or absolute expiry, or
 *   when the user's password changes or the user is revoked; ended rows are kept for
 *   the record and pruned with the refused sign-ins.
 * - `auth_failures` accepts one more reason, `bad-password` (a sign-in whose name or
 *   password is wrong): SQLite cannot widen a CHECK in place, so the table is rebuilt
 *   with every row.
 */
export const m013: Migration = {
  version: 13,
  name: 'sessions',
  up(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN password_hash TEXT CHECK (password_hash IS NULL OR password_hash LIKE 'scrypt$%');
      ALTER TABLE users ADD COLUMN password_set_at TEXT;

      CREATE TABLE sessions (
        id_hash         TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
        user_id         TEXT NOT NULL REFERENCES users(id),
        created_at      TEXT NOT NULL,
        last_seen_at    TEXT NOT NULL,
        idle_expires_at TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        ip              TEXT NOT NULL,
        user_agent      TEXT CHECK (user_agent IS NULL OR length(user_agent) <= 256),
        ended_at        TEXT,
        end_reason      TEXT CHECK (end_reason IN ('signed-out', 'expired', 'password-changed', 'user-revoked')),
        CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
        CHECK (idle_expires_at <= expires_at)
      ) STRICT;
      CREATE INDEX sessions_user_open ON sessions(user_id) WHERE ended_at IS NULL;
      CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;

      CREATE TABLE auth_failures_013 (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        ip      TEXT NOT NULL,
        reason  TEXT NOT NULL CHECK (reason IN ('missing', 'malformed', 'unknown', 'revoked', 'expired', 'rate-limited', 'bad-password')),
        method  TEXT NOT NULL,
        url     TEXT NOT NULL,
        user_id TEXT
      ) STRICT;
      INSERT INTO auth_failures_013 (id, at, ip, reason, method, url, user_id)
        SELECT id, at, ip, reason, method, url, user_id FROM auth_failures;
      DROP TABLE auth_failures;
      ALTER TABLE auth_failures_013 RENAME TO auth_failures;
      CREATE INDEX auth_failures_at ON auth_failures(at);
    `);
  },
};
