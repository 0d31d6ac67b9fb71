import { mkdtempSync, readdirSync, readlinkSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, scratchConnection, type Db } from './db.js';

describe('openDatabase', () => {
  it('makes a new catalog, and its log files, readable by the owner and group only (what custody doctor asks)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'custody-db-')), 'catalog.db');
    const db = openDatabase(file);
    db.prepare('CREATE TABLE t (x INTEGER) STRICT').run();
    for (const f of [file, `${file}-wal`]) expect(statSync(f).mode & 0o777, f).toBe(0o640);
    db.close();
  });

  it('leaves an existing catalog\'s mode as its owner set it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'custody-db-')), 'catalog.db');
    writeFileSync(file, '');
    chmodSync(file, 0o600);
    openDatabase(file).close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

/** This process's open files that are SQLite temporary files (opened, then unlinked at once). */
function sqliteTempFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (/etilqs_/.test(target)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * A transaction as an ingest's group commit makes one: a row inserted into a table with
 * many indexes (the evidence table has 13) and a trigger (the evidence table's playback
 * trigger; its condition need not hold). A trigger makes SQLite journal the statement so
 * that it alone can be undone; touching a page of each of 17 b-trees, that journal is
 * past the 64 KiB SQLite keeps in memory by default. Returns the temporary files open
 * at the end of the transaction, before it commits.
 */
function groupCommitLike(db: Db): string[] {
  const cols = Array.from({ length: 16 }, (_, i) => `c${i}`);
  db.exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, ${cols.map((c) => `${c} TEXT NOT NULL`).join(', ')}, UNIQUE (c0))`);
  for (const c of cols.slice(1)) db.exec(`CREATE INDEX IF NOT EXISTS items_${c} ON items (${c})`);
  db.exec(`CREATE TABLE IF NOT EXISTS side (x INTEGER);
    CREATE TRIGGER IF NOT EXISTS items_side AFTER INSERT ON items WHEN NEW.c1 IS NULL BEGIN INSERT INTO side VALUES (NEW.id); END`);
  const insert = db.prepare(`INSERT INTO items (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  const row = (): string[] => cols.map((c) => `${c}-${Math.random()}`);
  insert.run(...row()); // the b-trees' pages exist before the transaction
  let open: string[] = [];
  db.transaction(() => {
    insert.run(...row());
    open = sqliteTempFiles();
  }).immediate();
  return open;
}

describe('temporary storage', () => {
  const file = (): string => join(mkdtempSync(join(tmpdir(), 'custody-db-')), 'catalog.db');

  it('keeps a writing transaction\'s statement journals in memory, where SQLite would write them to a temporary file', () => {
    const db = openDatabase(file());
    expect(db.pragma('temp_store', { simple: true })).toBe(2); // MEMORY
    expect(groupCommitLike(db)).toEqual([]);
    // The same transaction with SQLite's default opens a temporary file (the check can fail).
    db.pragma('temp_store = DEFAULT');
    expect(groupCommitLike(db).length).toBeGreaterThan(0);
    db.close();
  });

  it('makes large temporary tables on a read-only connection of the same file, whose temporary storage spills to disk', () => {
    const f = file();
    const db = openDatabase(f);
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('committed')");
    const scratch = scratchConnection(db);
    expect(scratch.db).not.toBe(db);
    expect(scratch.db.readonly).toBe(true);
    expect(scratch.db.name).toBe(f);
    expect(scratch.db.pragma('temp_store', { simple: true })).toBe(0); // DEFAULT: a file past the cache
    expect(scratch.db.prepare('SELECT x FROM t').pluck().all()).toEqual(['committed']);
    scratch.db.exec('CREATE TABLE temp.big (y TEXT)');
    expect(() => db.prepare('SELECT * FROM temp.big').all()).toThrow(/no such table/);
    scratch.close();
    expect(scratch.db.open).toBe(false);
    expect(db.open).toBe(true);
    db.close();
  });

  it('uses the connection itself where another could not see what it reads: in a transaction, in memory, or read-only already', () => {
    const db = openDatabase(file());
    db.exec('CREATE TABLE t (x TEXT)');
    db.transaction(() => {
      db.prepare("INSERT INTO t VALUES ('not yet committed')").run();
      const scratch = scratchConnection(db);
      expect(scratch.db).toBe(db);
      expect(scratch.db.prepare('SELECT x FROM t').pluck().all()).toEqual(['not yet committed']);
      scratch.close();
      expect(db.open).toBe(true);
    })();
    const memory = openDatabase(':memory:');
    expect(scratchConnection(memory).db).toBe(memory);
    const readonly = openDatabase(db.name, { readonly: true });
    expect(scratchConnection(readonly).db).toBe(readonly);
    for (const d of [db, memory, readonly]) d.close();
  });
});
