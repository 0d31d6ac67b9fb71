import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { catalogAt } from '../../../test/helpers/migrations.js';
import { migrate, schemaVersion } from '../db.js';
import { migrations } from './index.js';

describe('migration 003 (jobs)', () => {
  /** A catalog file left at schema version 2, as custody before the job runner wrote it. */
  function catalogAtVersion2(): Database.Database {
    const db = catalogAt(2);
    expect(schemaVersion(db)).toBe(2);
    return db;
  }

  const insert = (db: Database.Database, key: string | null, status: string): void => {
    db.prepare(
      `INSERT INTO jobs (name, payload, dedupe_key, status, run_after, created_at, updated_at)
       VALUES ('media.probe', '{"evidenceId":"e1"}', ?, ?, 0, 't', 't')`,
    ).run(key, status);
  };

  it('applies on a version-2 catalog, bumps user_version and gives a usable table', () => {
    const db = catalogAtVersion2();
    migrate(db, migrations, 3);
    expect(schemaVersion(db)).toBe(3);
    expect(migrations[2]).toMatchObject({ version: 3, name: 'jobs' });

    insert(db, 'probe:e1', 'pending');
    const row = db.prepare('SELECT * FROM jobs').get();
    expect(row).toEqual({
      id: 1,
      name: 'media.probe',
      payload: '{"evidenceId":"e1"}',
      dedupe_key: 'probe:e1',
      status: 'pending',
      attempts: 0,
      run_after: 0,
      last_error: null,
      created_at: 't',
      updated_at: 't',
    });
    db.close();
  });

  it('allows one live job per key; done and failed jobs free the key', () => {
    const db = catalogAtVersion2();
    migrate(db);
    insert(db, 'k', 'done');
    insert(db, 'k', 'failed');
    insert(db, 'k', 'pending');
    expect(() => insert(db, 'k', 'pending')).toThrow(/UNIQUE/);
    expect(() => insert(db, 'k', 'running')).toThrow(/UNIQUE/);
    // Jobs without a key never collide.
    insert(db, null, 'pending');
    insert(db, null, 'pending');
    db.close();
  });

  it('is STRICT and checks status, payload and attempts', () => {
    const db = catalogAtVersion2();
    migrate(db);
    expect(() => insert(db, null, 'sleeping')).toThrow(/CHECK/);
    expect(() =>
      db.prepare(`INSERT INTO jobs (name, payload, run_after, created_at, updated_at) VALUES ('x', 'not json', 0, 't', 't')`).run(),
    ).toThrow(/CHECK/);
    expect(() =>
      db.prepare(`INSERT INTO jobs (name, payload, run_after, created_at, updated_at) VALUES ('x', '{}', 'soon', 't', 't')`).run(),
    ).toThrow(/cannot store TEXT value in INTEGER column/);
    expect(() =>
      db.prepare(`INSERT INTO jobs (name, payload, attempts, run_after, created_at, updated_at) VALUES ('x', '{}', -1, 0, 't', 't')`).run(),
    ).toThrow(/CHECK/);
    db.close();
  });
});
