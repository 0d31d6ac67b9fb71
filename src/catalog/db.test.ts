import { mkdtempSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './db.js';

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
