import type { Migration } from './types.js';

/**
 * Who may use the HTTP API and what they were allowed to see (the rules' Art. 10 and
 * 13), and the indexes the evidence search needs.
 *
 * - `users`: one API token per user, stored only as the SHA-256 of the token.
 * - `access_requests` / `access_request_items`: a request to view footage, decided by
 *   someone other than the requester (the database refuses a self-decision too); an
 *   approved request is a grant until `expires_at`.
 * - `auth_failures`: requests refused before anyone was identified (no, unknown,
 *   revoked or expired token). Denials of identified users go to the ledger as
 *   `access.denied`; these do not, so that anyone able to reach the port cannot grow
 *   the append-only ledger at will (they are rate-limited and pruned instead).
 * - `evidence.recorded_at`: the recording time searches use, the drift-corrected start
 *   when the recorder's clock drift is known, else the recorder's own. A virtual
 *   column, so the index and the query use one expression.
 */
export const m005: Migration = {
  version: 5,
  name: 'access',
  up(db) {
    db.exec(`
      CREATE TABLE users (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        role             TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'archivist', 'auditor', 'admin')),
        unit             TEXT CHECK (unit IS NULL OR length(unit) BETWEEN 1 AND 64),
        token_hash       TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
        token_issued_at  TEXT NOT NULL,
        token_expires_at TEXT,
        created_at       TEXT NOT NULL,
        created_by       TEXT NOT NULL,
        revoked_at       TEXT,
        revoked_by       TEXT,
        CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
      ) STRICT;

      CREATE TABLE access_requests (
        id            TEXT PRIMARY KEY,
        requester_id  TEXT NOT NULL REFERENCES users(id),
        reason        TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        created_at    TEXT NOT NULL,
        decided_by    TEXT REFERENCES users(id),
        decided_at    TEXT,
        decision_note TEXT,
        expires_at    TEXT,
        expired_at    TEXT,
        CHECK ((status = 'pending') = (decided_at IS NULL)),
        CHECK ((decided_at IS NULL) = (decided_by IS NULL)),
        CHECK (status NOT IN ('approved', 'expired') OR expires_at IS NOT NULL),
        CHECK ((status = 'expired') = (expired_at IS NOT NULL)),
        -- Art. 13: the leader who consents is not the one who asks.
        CHECK (decided_by IS NULL OR decided_by <> requester_id)
      ) STRICT;
      CREATE INDEX access_requests_requester ON access_requests(requester_id, created_at, id);
      CREATE INDEX access_requests_pending ON access_requests(created_at, id) WHERE status = 'pending';
      CREATE INDEX access_requests_approved ON access_requests(expires_at) WHERE status = 'approved';

      CREATE TABLE access_request_items (
        request_id  TEXT NOT NULL REFERENCES access_requests(id),
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        PRIMARY KEY (request_id, evidence_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX access_request_items_evidence ON access_request_items(evidence_id, request_id);

      CREATE TABLE auth_failures (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        ip      TEXT NOT NULL,
        reason  TEXT NOT NULL CHECK (reason IN ('missing', 'malformed', 'unknown', 'revoked', 'expired', 'rate-limited')),
        method  TEXT NOT NULL,
        url     TEXT NOT NULL,
        -- The user whose revoked or expired token was presented, when known.
        user_id TEXT
      ) STRICT;
      CREATE INDEX auth_failures_at ON auth_failures(at);

      ALTER TABLE evidence ADD COLUMN recorded_at TEXT
        GENERATED ALWAYS AS (coalesce(recorded_start_corrected, recorded_start)) VIRTUAL;
      -- GET /evidence: newest first, by recording or ingest time, narrowed by officer,
      -- unit (also every unit-scoped caller) or recorder; id breaks ties for the cursor.
      CREATE INDEX evidence_time ON evidence(recorded_at, id);
      CREATE INDEX evidence_officer_time ON evidence(officer, recorded_at, id);
      CREATE INDEX evidence_unit_time ON evidence(unit, recorded_at, id);
      CREATE INDEX evidence_recorder_time ON evidence(recorder_serial, recorded_at, id);
      CREATE INDEX evidence_ingested ON evidence(ingested_at, id);
      CREATE INDEX evidence_officer_ingested ON evidence(officer, ingested_at, id);
      CREATE INDEX evidence_unit_ingested ON evidence(unit, ingested_at, id);
      CREATE INDEX evidence_recorder_ingested ON evidence(recorder_serial, ingested_at, id);

      CREATE INDEX recorders_unit ON recorders(unit, serial);
    `);
  },
};
