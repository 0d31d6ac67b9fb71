import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('001 creates an append-only ledger', () => {
    const db = new Database(dbFile());
    migrate(db, migrations, 1);
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).toEqual(expect.arrayContaining(['ledger', 'ledger_segments', 'meta']));
    db.prepare("INSERT INTO ledger VALUES (1, 't', 'a.b', 'x', NULL, '{}', ?, ?)").run('0'.repeat(64), 'a'.repeat(64));
    expect(() => db.prepare("UPDATE ledger SET data = '{\"x\":1}'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger').run()).toThrow(/append-only/);
    expect(() => db.prepare("INSERT INTO ledger VALUES (2, 't', 'a.b', 'x', NULL, '{}', 'short', ?)").run('b'.repeat(64))).toThrow(/CHECK/);
    db.close();
  });

  it('002 adds evidence, recorders and ingest failures with strict types', () => {
    const db = new Database(dbFile());
    db.pragma('foreign_keys = ON');
    migrate(db, migrations, 1);
    migrate(db, migrations, 2);
    expect(schemaVersion(db)).toBe(2);
    expect(tables(db)).toEqual(expect.arrayContaining(['evidence', 'recorders', 'ingest_failures']));
    // The evidence row must name a known recorder.
    expect(() =>
      db
        .prepare(
          `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, source_path, source_name, source_mtime_ms,
           recorded_start, recorded_source, ingested_at, session_id) VALUES ('e', ?, 1, 'video', 'nope', 'p', 'n', 0, 't', 'mtime', 't', 's')`,
        )
        .run('a'.repeat(64)),
    ).toThrow(/FOREIGN KEY/);
    // STRICT: a text size is refused.
    db.prepare("INSERT INTO recorders VALUES ('R1', NULL, NULL, NULL, 't', 't')").run();
    expect(() =>
      db
        .prepare(
          `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, source_path, source_name, source_mtime_ms,
           recorded_start, recorded_source, ingested_at, session_id) VALUES ('e', ?, 'big', 'video', 'R1', 'p', 'n', 0, 't', 'mtime', 't', 's')`,
        )
        .run('a'.repeat(64)),
    ).toThrow(/cannot store TEXT value in INTEGER column/);
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

describe('migration 004 (devices)', () => {
  it('adds a status to every recorder, existing ones in service, and a dock history', () => {
    const db = new Database(dbFile());
    db.pragma('foreign_keys = ON');
    migrate(db, migrations, 3);
    db.prepare("INSERT INTO recorders (serial, first_seen, last_seen) VALUES ('OLD', 't', 't')").run();
    migrate(db, migrations, 4);
    expect(schemaVersion(db)).toBe(4);
    expect(db.prepare("SELECT status FROM recorders WHERE serial = 'OLD'").get()).toEqual({ status: 'in-service' });
    expect(() => db.prepare("UPDATE recorders SET status = 'lost'").run()).toThrow(/CHECK/);
    db.prepare("INSERT INTO docks (id, recorder_serial, location, docked_at, verdict) VALUES ('d1', 'OLD', '/media/x', 't', 'ready')").run();
    expect(() => db.prepare("INSERT INTO docks (id, recorder_serial, location, docked_at) VALUES ('d2', 'NOPE', '/m', 't')").run()).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("INSERT INTO docks (id, location, docked_at, verdict) VALUES ('d3', '/m', 't', 'maybe')").run()).toThrow(/CHECK/);
    db.close();
  });
});

describe('migration 008 (flags by evidence)', () => {
  it('indexes flags by the evidence they name', () => {
    const db = new Database(dbFile());
    migrate(db, migrations, 7);
    migrate(db, migrations, 8);
    expect(schemaVersion(db)).toBe(8);
    const plan = db
      .prepare<[], { detail: string }>("EXPLAIN QUERY PLAN SELECT id FROM flags WHERE evidence_id = 'x' AND state <> 'resolved'")
      .all()
      .map((r) => r.detail)
      .join(' ');
    expect(plan).toMatch(/USING INDEX flags_evidence/);
    db.close();
  });
});
