import Database from 'better-sqlite3';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from './db.js';
import { migrations } from './migrations/index.js';

function dbFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'custody-mig-')), 'catalog.db');
}

function tables(db: Database.Database): string[] {
  return db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name);
}

describe('catalog migrations', () => {
  it('opens with WAL, foreign keys and the latest schema', () => {
    const db = openDatabase(dbFile());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(schemaVersion(db)).toBe(migrations.length);
    db.close();
  });

  it('applies each migration once and refuses a catalog newer than this custody', () => {
    const file = dbFile();
    openDatabase(file).close();
    const db = openDatabase(file); // re-open: nothing re-applied
    expect(schemaVersion(db)).toBe(migrations.length);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer than this custody understands/);
  });

  it('rolls a failing migration back whole', () => {
    const db = new Database(dbFile());
    const broken = [
      { version: 1, name: 'ok', up: (d: Database.Database) => d.exec('CREATE TABLE a (x INTEGER) STRICT') },
      { version: 2, name: 'broken', up: (d: Database.Database) => d.exec('CREATE TABLE b (x INTEGER) STRICT; CREATE TABLE a (y INTEGER)') },
    ];
    expect(() => migrate(db, broken)).toThrow(/already exists/);
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).toEqual(['a']);
    db.close();
  });
});

// Issue 13: every migration is tested on its own, beside it (migrations/NNN-name.test.ts),
// with the shared helpers of test/helpers/migrations.ts.
describe('each migration', () => {
  it('has its own test file', () => {
    const dir = fileURLToPath(new URL('./migrations/', import.meta.url));
    const missing = migrations.map((m) => `${String(m.version).padStart(3, '0')}-${m.name}.test.ts`).filter((f) => !existsSync(join(dir, f)));
    expect(missing).toEqual([]);
  });
});
