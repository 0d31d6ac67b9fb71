import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { migrate, schemaVersion } from '../../src/catalog/db.js';
import { migrations } from '../../src/catalog/migrations/index.js';

/**
 * Shared helpers for the catalog migration tests (src/catalog/migrations/NNN-*.test.ts):
 * a real SQLite file at a given schema version, one migration applied as custody
 * applies it, the schema read back, and rows seeded with only the columns every
 * version since 002 has.
 */

const open: Database.Database[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A new catalog file (closed and removed after the test), foreign keys on, at `version` (0: empty). */
export function catalogAt(version: number): Database.Database {
  const dir = mkdtempSync(join(tmpdir(), `custody-mig${version}-`));
  dirs.push(dir);
  const db = new Database(join(dir, 'catalog.db'));
  open.push(db);
  db.pragma('foreign_keys = ON');
  if (version > 0) migrate(db, migrations, version);
  if (schemaVersion(db) !== version) throw new Error(`catalog is at ${schemaVersion(db)}, not ${version}`);
  return db;
}

/** Apply migration `version` to a catalog one version older, as custody does (one transaction, user_version). */
export function applyMigration(db: Database.Database, version: number): void {
  if (schemaVersion(db) !== version - 1) throw new Error(`migration ${version} needs a catalog at ${version - 1}, not ${schemaVersion(db)}`);
  migrate(db, migrations, version);
}

function names(db: Database.Database, type: 'table' | 'index' | 'trigger', table?: string): string[] {
  return db
    .prepare<[string, string | null, string | null], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = ? AND (? IS NULL OR tbl_name = ?) AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all(type, table ?? null, table ?? null)
    .map((r) => r.name);
}

export const tables = (db: Database.Database): string[] => names(db, 'table');
export const indexes = (db: Database.Database, table?: string): string[] => names(db, 'index', table);
export const triggers = (db: Database.Database, table?: string): string[] => names(db, 'trigger', table);

/** The columns of a table, with their declared type, NOT NULL and default. */
export function columns(db: Database.Database, table: string): Array<{ name: string; type: string; notnull: number; dflt_value: string | null }> {
  return db.prepare<[], { name: string; type: string; notnull: number; dflt_value: string | null }>(`SELECT name, type, "notnull", dflt_value FROM pragma_table_info('${table}')`).all();
}

/** Whether a table was created STRICT. */
export function isStrict(db: Database.Database, table: string): boolean {
  const row = db.prepare<[string], { strict: number }>('SELECT strict FROM pragma_table_list WHERE name = ?').get(table);
  return row?.strict === 1;
}

/** SQLite's plan for a query, as one line. */
export function queryPlan(db: Database.Database, sql: string): string {
  return db
    .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all()
    .map((r) => r.detail)
    .join(' | ');
}

/** Rows with only the columns of migration 002 (and the users of 005), for any later version. */
export const seed = {
  recorder(db: Database.Database, serial: string): void {
    db.prepare("INSERT INTO recorders (serial, first_seen, last_seen) VALUES (?, 't', 't')").run(serial);
  },
  evidence(db: Database.Database, id: string, serial: string, extra: { unit?: string; officer?: string } = {}): void {
    db.prepare(
      `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms,
        recorded_start, recorded_source, ingested_at, session_id) VALUES (?, ?, 1, 'video', ?, ?, ?, ?, ?, 0, 't', 'filename', 't', 's')`,
    ).run(id, id.padEnd(64, '0').slice(0, 64), serial, extra.officer ?? null, extra.unit ?? null, `DCIM/${id}.MP4`, `${id}.MP4`);
  },
  user(db: Database.Database, id: string, role: string): void {
    db.prepare("INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by) VALUES (?, 'N', ?, NULL, ?, 't', 't', 'test')").run(
      id,
      role,
      id.padEnd(64, 'f').slice(0, 64),
    );
  },
};
