import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { CustodyError, errorMessage } from '../core/index.js';
import { migrations, type Migration } from './migrations/index.js';

export type Db = Database.Database;

/**
 * Open (creating if needed) a catalog database with the pragmas custody relies on,
 * and bring its schema up to date.
 */
export function openDatabase(file: string, opts: { readonly?: boolean; migrate?: boolean } = {}): Db {
  if (!opts.readonly) {
    mkdirSync(dirname(file), { recursive: true });
    // A new catalog is made readable by the service's group only (0640, as custody doctor
    // expects): SQLite would create it 0644 under the usual umask, and its -wal and -shm
    // files take the catalog's mode.
    try {
      if (file !== ':memory:') closeSync(openSync(file, 'wx', 0o640));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CustodyError('CATALOG_OPEN_FAILED', `cannot create catalog ${file}: ${errorMessage(e)}`, { cause: e });
      }
    }
  }
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    throw new CustodyError('CATALOG_OPEN_FAILED', `cannot open catalog ${file}: ${errorMessage(e)}`, { cause: e });
  }
  try {
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    db.pragma('synchronous = FULL');
    // Inside a transaction SQLite journals each statement that may need undoing alone
    // (an insert into a table with a trigger, as the evidence table has), page by page.
    // It keeps that journal in memory up to 64 KiB, then in a temporary file: with the
    // evidence table's 13 indexes, every group commit of an ingest created one in
    // /var/tmp and wrote it 4 KiB at a time. In memory it holds only the pages one
    // statement changes. Large temporary tables are made on read-only connections
    // instead (scratchConnection).
    if (!opts.readonly) db.pragma('temp_store = MEMORY');
    if (opts.migrate !== false && !opts.readonly) migrate(db);
  } catch (e) {
    db.close();
    if (e instanceof CustodyError) throw e;
    throw new CustodyError('CATALOG_OPEN_FAILED', `cannot use catalog ${file}: ${errorMessage(e)}`, { cause: e });
  }
  return db;
}

/**
 * A connection for large temporary tables and sorts (verify's references, the vault's
 * listing against the ledger): read-only, on the catalog's file, where SQLite keeps
 * temporary storage on disk past a small cache. A writable connection keeps its
 * temporary storage in memory (openDatabase), which would hold such a table whole. The
 * connection given is used itself when it has no file, is read-only already, or is in a
 * transaction (another connection would not see its uncommitted rows); `close` closes
 * only a connection opened here.
 */
export function scratchConnection(db: Db): { db: Db; close: () => void } {
  if (db.memory || db.readonly || db.inTransaction) return { db, close: () => undefined };
  const scratch = openDatabase(db.name, { readonly: true });
  return { db: scratch, close: () => scratch.close() };
}

/** Run fn with a scratch connection (scratchConnection), closed when fn settles. */
export async function withScratchConnection<T>(db: Db, fn: (scratch: Db) => Promise<T>): Promise<T> {
  const scratch = scratchConnection(db);
  try {
    return await fn(scratch.db);
  } finally {
    scratch.close();
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Apply every migration newer than the database's user_version. Each runs in one
 * synchronous transaction that also bumps user_version, so a crash leaves the
 * schema at a whole version.
 */
export function migrate(db: Db, list: readonly Migration[] = migrations, target?: number): void {
  const current = schemaVersion(db);
  const latest = list.length;
  if (current > latest) {
    throw new CustodyError(
      'CATALOG_TOO_NEW',
      `catalog schema version ${current} is newer than this custody understands (${latest}); upgrade custody`,
    );
  }
  for (const m of list) {
    if (m.version <= current) continue;
    if (target !== undefined && m.version > target) break;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
