import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt } from '../../../test/helpers/migrations.js';
import { m013 } from './013-sessions.js';
import { migrations } from './index.js';

const user = (db: ReturnType<typeof catalogAt>, id: string): void => {
  db.prepare(
    `INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by) VALUES (?, ?, 'operator', NULL, ?, 't0', 't0', 'test')`,
  ).run(id, `user ${id}`, id.padEnd(64, '0'));
};

describe('migration 013 (console passwords and sessions, issue 15)', () => {
  it('is migration 13 in the list', () => {
    expect(m013).toMatchObject({ version: 13, name: 'sessions' });
    expect(migrations[12]).toBe(m013);
  });

  it('keeps users (no password) and every refused sign-in, and accepts the bad-password reason only after it', () => {
    const db = catalogAt(12);
    user(db, 'u1');
    db.prepare("INSERT INTO auth_failures (at, ip, reason, method, url, user_id) VALUES ('t1', '10.0.0.1', 'unknown', 'GET', '/api/v1/evidence', NULL)").run();
    db.prepare("INSERT INTO auth_failures (at, ip, reason, method, url, user_id) VALUES ('t2', '10.0.0.2', 'expired', 'GET', '/api/v1/x', 'u1')").run();
    expect(() =>
      db.prepare("INSERT INTO auth_failures (at, ip, reason, method, url) VALUES ('t3', '10.0.0.3', 'bad-password', 'POST', '/api/v1/session')").run(),
    ).toThrow(/CHECK/);
    applyMigration(db, 13);
    expect(db.prepare('SELECT id, password_hash, password_set_at FROM users').all()).toEqual([{ id: 'u1', password_hash: null, password_set_at: null }]);
    expect(db.prepare('SELECT id, at, ip, reason, user_id FROM auth_failures ORDER BY id').all()).toEqual([
      { id: 1, at: 't1', ip: '10.0.0.1', reason: 'unknown', user_id: null },
      { id: 2, at: 't2', ip: '10.0.0.2', reason: 'expired', user_id: 'u1' },
    ]);
    db.prepare("INSERT INTO auth_failures (at, ip, reason, method, url) VALUES ('t3', '10.0.0.3', 'bad-password', 'POST', '/api/v1/session')").run();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'auth_failures_at'").get()).toEqual({ name: 'auth_failures_at' });
    expect(() => db.prepare("UPDATE users SET password_hash = 'plain-text' WHERE id = 'u1'").run()).toThrow(/CHECK/);
  });

  it('sessions belong to a user, store a 64-digit hash, and end with a known reason', () => {
    const db = catalogAt(13);
    user(db, 'u1');
    const insert = db.prepare(
      `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, ip) VALUES (?, ?, 't0', 't0', 't1', 't2', '127.0.0.1')`,
    );
    insert.run('a'.repeat(64), 'u1');
    expect(() => insert.run('b'.repeat(64), 'nobody')).toThrow(/FOREIGN KEY/);
    expect(() => insert.run('short', 'u1')).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE sessions SET ended_at = 't3' WHERE user_id = 'u1'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE sessions SET ended_at = 't3', end_reason = 'bored' WHERE user_id = 'u1'").run()).toThrow(/CHECK/);
    db.prepare("UPDATE sessions SET ended_at = 't3', end_reason = 'signed-out' WHERE user_id = 'u1'").run();
    expect(() =>
      db.prepare(`INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, ip) VALUES (?, 'u1', 't0', 't0', 't9', 't2', 'x')`).run('c'.repeat(64)),
    ).toThrow(/CHECK/);
  });
});
