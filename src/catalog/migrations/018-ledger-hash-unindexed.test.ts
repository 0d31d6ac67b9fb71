import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, triggers } from '../../../test/helpers/migrations.js';
import { m018 } from './018-ledger-hash-unindexed.js';
import { migrations } from './index.js';

const row = (seq: number): unknown[] => [seq, `2026-12-02T00:00:0${seq}.000Z`, 'evidence.wiped', 't', seq % 2 ? `s${seq}` : null, `{"i":${seq}}`, String(seq - 1).padStart(64, '0'), String(seq).padStart(64, 'f')];

describe('migration 018 (the ledger without the index on hash, issue 18)', () => {
  it('is migration 18 in the list', () => {
    expect(m018).toMatchObject({ version: 18, name: 'ledger-hash-unindexed' });
    expect(migrations[17]).toBe(m018);
  });

  it('keeps every entry, the columns, STRICT, the indexes readers use and the append-only triggers; drops only the index on hash', () => {
    const db = catalogAt(17);
    const insert = db.prepare('INSERT INTO ledger (seq, time, type, actor, subject, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (let s = 1; s <= 5; s++) insert.run(...row(s));
    const before = db.prepare('SELECT * FROM ledger ORDER BY seq').all();
    const cols = columns(db, 'ledger');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND name LIKE 'sqlite_autoindex_ledger%'").get()).toEqual({ n: 1 });

    applyMigration(db, 18);
    expect(db.prepare('SELECT * FROM ledger ORDER BY seq').all()).toEqual(before);
    expect(columns(db, 'ledger')).toEqual(cols);
    expect(isStrict(db, 'ledger')).toBe(true);
    expect(indexes(db, 'ledger')).toEqual(['ledger_subject', 'ledger_type']);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND name LIKE 'sqlite_autoindex_ledger%'").get()).toEqual({ n: 0 });
    expect(triggers(db, 'ledger').sort()).toEqual(['ledger_no_delete', 'ledger_no_update']);
    expect(() => db.prepare('UPDATE ledger SET actor = ? WHERE seq = 1').run('x')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger WHERE seq = 1').run()).toThrow(/append-only/);
    // The checks stay: a hash of the wrong length is refused, and appends go on.
    expect(() => insert.run(...row(6).slice(0, 7), 'short')).toThrow(/CHECK/);
    insert.run(...row(6));
    expect(db.prepare('SELECT max(seq) AS n FROM ledger').get()).toEqual({ n: 6 });
  });
});
