import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns } from '../../../test/helpers/migrations.js';
import { m019 } from './019-password-must-change.js';
import { migrations } from './index.js';

describe('migration 019 (a password someone else set is changed at the next sign-in, issue 19)', () => {
  it('is migration 19 in the list', () => {
    expect(m019).toMatchObject({ version: 19, name: 'password-must-change' });
    expect(migrations[18]).toBe(m019);
  });

  it('keeps the users of before as they were, none asked to change, and takes only 0 or 1', () => {
    const db = catalogAt(18);
    db.prepare(
      "INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by, password_hash, password_set_at) VALUES ('u1', '王科长', 'supervisor', '350200', ?, 't0', 't0', 'cli:root', 'scrypt$x', 't0')",
    ).run('a'.repeat(64));
    const before = db.prepare('SELECT * FROM users').all() as Array<Record<string, unknown>>;
    applyMigration(db, 19);
    expect(db.prepare('SELECT * FROM users').all()).toEqual(before.map((r) => ({ ...r, password_must_change: 0 })));
    expect(columns(db, 'users').at(-1)).toEqual({ name: 'password_must_change', type: 'INTEGER', notnull: 1, dflt_value: '0' });
    expect(() => db.prepare("UPDATE users SET password_must_change = 2 WHERE id = 'u1'").run()).toThrow(/CHECK/);
    db.prepare("UPDATE users SET password_must_change = 1 WHERE id = 'u1'").run();
  });
});
