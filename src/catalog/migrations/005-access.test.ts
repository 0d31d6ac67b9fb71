import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { catalogAt } from '../../../test/helpers/migrations.js';
import { migrate, schemaVersion } from '../db.js';
import { migrations } from './index.js';

describe('migration 005 (access)', () => {
  function catalogAtVersion4(): Database.Database {
    const db = catalogAt(4);
    db.prepare("INSERT INTO recorders (serial, first_seen, last_seen) VALUES ('R1', 't', 't')").run();
    const insert = db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, unit, source_path, source_name, source_mtime_ms,
      recorded_start, recorded_source, recorded_start_corrected, ingested_at, session_id) VALUES (?, ?, 1, 'video', 'R1', 'U1', 'a', 'a', 0, ?, 'filename', ?, 't', 's')`);
    insert.run('e1', 'a'.repeat(64), '2026-11-20T00:00:00.000Z', null);
    insert.run('e2', 'b'.repeat(64), '2026-11-20T00:00:00.000Z', '2026-11-19T23:59:00.000Z');
    return db;
  }

  it('applies on a version-4 catalog with evidence, and recorded_at is the drift-corrected start when known', () => {
    const db = catalogAtVersion4();
    migrate(db, migrations, 5);
    expect(schemaVersion(db)).toBe(5);
    expect(migrations[4]).toMatchObject({ version: 5, name: 'access' });
    expect(db.prepare('SELECT id, recorded_at FROM evidence ORDER BY id').all()).toEqual([
      { id: 'e1', recorded_at: '2026-11-20T00:00:00.000Z' },
      { id: 'e2', recorded_at: '2026-11-19T23:59:00.000Z' },
    ]);
    // A virtual column: it follows the row and cannot be written.
    db.prepare("UPDATE evidence SET recorded_start_corrected = '2026-11-19T00:00:00.000Z' WHERE id = 'e1'").run();
    expect(db.prepare("SELECT recorded_at FROM evidence WHERE id = 'e1'").get()).toEqual({ recorded_at: '2026-11-19T00:00:00.000Z' });
    expect(() => db.prepare("UPDATE evidence SET recorded_at = 'x'").run()).toThrow(/generated column/);
    db.close();
  });

  it('checks users, requests and refusals', () => {
    const db = catalogAtVersion4();
    migrate(db, migrations, 5);
    const user = db.prepare(
      "INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by) VALUES (?, 'N', ?, NULL, ?, 't', 't', 'test')",
    );
    user.run('u1', 'supervisor', 'c'.repeat(64));
    user.run('u2', 'operator', 'd'.repeat(64));
    expect(() => user.run('u3', 'chief', 'e'.repeat(64))).toThrow(/CHECK/);
    expect(() => user.run('u4', 'operator', 'c'.repeat(64))).toThrow(/UNIQUE/);
    expect(() => user.run('u5', 'operator', 'short')).toThrow(/CHECK/);

    db.prepare("INSERT INTO access_requests (id, requester_id, reason, created_at) VALUES ('r1', 'u2', 'why', 't')").run();
    db.prepare("INSERT INTO access_request_items (request_id, evidence_id) VALUES ('r1', 'e1')").run();
    expect(() => db.prepare("INSERT INTO access_request_items (request_id, evidence_id) VALUES ('r1', 'nope')").run()).toThrow(/FOREIGN KEY/);
    // Approved needs a decider, a time and an expiry; the decider is never the requester.
    expect(() => db.prepare("UPDATE access_requests SET status = 'approved' WHERE id = 'r1'").run()).toThrow(/CHECK/);
    expect(() =>
      db.prepare("UPDATE access_requests SET status = 'approved', decided_by = 'u2', decided_at = 't', expires_at = 't' WHERE id = 'r1'").run(),
    ).toThrow(/CHECK/);
    db.prepare("UPDATE access_requests SET status = 'approved', decided_by = 'u1', decided_at = 't', expires_at = 't' WHERE id = 'r1'").run();

    expect(() => db.prepare("INSERT INTO auth_failures (at, ip, reason, method, url) VALUES ('t', 'ip', 'guess', 'GET', '/')").run()).toThrow(/CHECK/);
    db.close();
  });
});
