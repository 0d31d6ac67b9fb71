import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, tables, triggers } from '../../../test/helpers/migrations.js';
import { m001 } from './001-ledger.js';
import { migrations } from './index.js';

describe('migration 001 (ledger)', () => {
  it('is migration 1 in the list', () => {
    expect(m001).toMatchObject({ version: 1, name: 'ledger' });
    expect(migrations[0]).toBe(m001);
  });

  it('creates the ledger, its segments and meta, STRICT, with the indexes the ledger is read by', () => {
    const db = catalogAt(0);
    applyMigration(db, 1);
    expect(tables(db)).toEqual(['ledger', 'ledger_segments', 'meta']);
    for (const t of ['ledger', 'ledger_segments', 'meta']) expect(isStrict(db, t), t).toBe(true);
    expect(columns(db, 'ledger').map((c) => c.name)).toEqual(['seq', 'time', 'type', 'actor', 'subject', 'data', 'prev', 'hash']);
    expect(indexes(db, 'ledger')).toEqual(['ledger_subject', 'ledger_type']);
    expect(triggers(db, 'ledger')).toEqual(['ledger_no_delete', 'ledger_no_update']);
  });

  it('makes the ledger append-only and refuses malformed hashes and sequence numbers', () => {
    const db = catalogAt(1);
    db.prepare("INSERT INTO ledger VALUES (1, 't', 'a.b', 'x', NULL, '{}', ?, ?)").run('0'.repeat(64), 'a'.repeat(64));
    expect(() => db.prepare("UPDATE ledger SET data = '{\"x\":1}'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger').run()).toThrow(/append-only/);
    expect(() => db.prepare("INSERT INTO ledger VALUES (2, 't', 'a.b', 'x', NULL, '{}', 'short', ?)").run('b'.repeat(64))).toThrow(/CHECK/);
    expect(() => db.prepare("INSERT INTO ledger VALUES (0, 't', 'a.b', 'x', NULL, '{}', ?, ?)").run('0'.repeat(64), 'c'.repeat(64))).toThrow(/CHECK/);
    // The same hash twice is refused: each entry's hash is unique.
    expect(() => db.prepare("INSERT INTO ledger VALUES (2, 't', 'a.b', 'x', NULL, '{}', ?, ?)").run('a'.repeat(64), 'a'.repeat(64))).toThrow(/UNIQUE/);
    expect(db.prepare('SELECT count(*) AS n FROM ledger').get()).toEqual({ n: 1 });
  });

  it('keeps segments in order (a range ends at or after its start; no two share an end or a key) and meta strict', () => {
    const db = catalogAt(1);
    const seg = db.prepare("INSERT INTO ledger_segments VALUES (?, ?, ?, ?, 10, 't')");
    seg.run(1, 100, 'ledger/segments/1-100.jsonl', 'a'.repeat(64));
    expect(() => seg.run(200, 150, 'ledger/segments/200-150.jsonl', 'b'.repeat(64))).toThrow(/CHECK/);
    expect(() => seg.run(101, 100, 'ledger/segments/x.jsonl', 'b'.repeat(64))).toThrow(/UNIQUE|CHECK/);
    expect(() => seg.run(101, 200, 'ledger/segments/1-100.jsonl', 'b'.repeat(64))).toThrow(/UNIQUE/);
    // meta is STRICT too: a value is text, present.
    expect(() => db.prepare("INSERT INTO meta VALUES ('k', x'00')").run()).toThrow(/cannot store BLOB value in TEXT column/);
    expect(() => db.prepare("INSERT INTO meta VALUES ('k', NULL)").run()).toThrow(/NOT NULL/);
  });
});
