import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, queryPlan, seed } from '../../../test/helpers/migrations.js';
import { m012 } from './012-case-numbers-per-unit.js';
import { migrations } from './index.js';

const kase = 'INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)';

function schemaOf(db: Database.Database, name: string): string {
  return (db.prepare<[string], { sql: string }>('SELECT sql FROM sqlite_master WHERE name = ?').get(name)?.sql ?? '').replace(/\s+/g, ' ');
}

/** A version-11 catalog with cases of two units and the bureau, links, and holds in each state. */
function catalogWithCases(): Database.Database {
  const db = catalogAt(11);
  seed.recorder(db, 'R1');
  for (const id of ['e1', 'e2', 'e3']) seed.evidence(db, id, 'R1', { unit: id === 'e3' ? 'U2' : 'U1' });
  db.prepare(kase).run('c1', '2026-001', '占道经营', 'U1', '2026-11-01T00:00:00Z', 'user:a');
  db.prepare(kase).run('c2', '2026-002', '违法建设', 'U2', '2026-11-02T00:00:00Z', 'user:b');
  db.prepare(kase).run('c3', 'B-1', '全局专项', null, '2026-11-03T00:00:00Z', 'user:c');
  db.prepare('DELETE FROM cases WHERE id = ?').run('c3');
  db.prepare(kase).run('c3', 'B-1', '全局专项', null, '2026-11-03T00:00:00Z', 'user:c'); // a rowid that is not its position
  const link = db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, 't', 'user:a')");
  link.run('c1', 'e1');
  link.run('c1', 'e2');
  link.run('c2', 'e3');
  link.run('c3', 'e1');
  const hold = db.prepare("INSERT INTO holds (id, case_id, reason, reason_text, placed_at, placed_by) VALUES (?, ?, ?, ?, 't', 'user:a')");
  hold.run('h1', 'c1', 'dispute', null);
  hold.run('h2', 'c2', 'other', '媒体关注');
  hold.run('h3', 'c3', 'sensitive', null);
  db.prepare("UPDATE holds SET release_requested_at = 't1', release_requested_by = 'user:a', release_reason = '结案' WHERE id IN ('h2', 'h3')").run();
  db.prepare("UPDATE holds SET released_at = 't2', released_by = 'user:b' WHERE id = 'h3'").run();
  return db;
}

describe('migration 012 (case numbers unique per unit, issue 14)', () => {
  it('is migration 12 in the list', () => {
    expect(m012).toMatchObject({ version: 12, name: 'case-numbers-per-unit' });
    expect(migrations[11]).toBe(m012);
  });

  it('keeps every case, link and hold (rowids too), and the children keep their constraints and foreign keys', () => {
    const db = catalogWithCases();
    const all = (sql: string): unknown[] => db.prepare(sql).all();
    const before = {
      cases: all('SELECT rowid, * FROM cases ORDER BY id'),
      links: all('SELECT * FROM case_evidence ORDER BY case_id, evidence_id'),
      holds: all('SELECT rowid, * FROM holds ORDER BY id'),
      caseColumns: columns(db, 'cases'),
      linkSchema: schemaOf(db, 'case_evidence'),
      holdSchema: schemaOf(db, 'holds'),
      linkIndexes: indexes(db, 'case_evidence'),
      holdIndexes: indexes(db, 'holds'),
    };
    applyMigration(db, 12);
    expect(all('SELECT rowid, * FROM cases ORDER BY id')).toEqual(before.cases);
    expect(all('SELECT * FROM case_evidence ORDER BY case_id, evidence_id')).toEqual(before.links);
    expect(all('SELECT rowid, * FROM holds ORDER BY id')).toEqual(before.holds);
    expect(columns(db, 'cases')).toEqual(before.caseColumns);
    expect(isStrict(db, 'cases')).toBe(true);
    expect(schemaOf(db, 'case_evidence')).toBe(before.linkSchema);
    expect(schemaOf(db, 'holds')).toBe(before.holdSchema);
    expect(indexes(db, 'case_evidence')).toEqual(before.linkIndexes);
    expect(indexes(db, 'holds')).toEqual(before.holdIndexes);
    expect(indexes(db, 'cases')).toEqual(['cases_bureau_number', 'cases_number', 'cases_unit']);
    // Nothing left over, and every reference still resolves.
    expect(all("SELECT name FROM sqlite_temp_master WHERE name LIKE 'm012%'")).toEqual([]);
    expect(all("SELECT name FROM sqlite_master WHERE name LIKE '%cases_new%'")).toEqual([]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(() => db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES ('nope', 'e1', 't', 'u')").run()).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("INSERT INTO holds (id, case_id, reason, placed_at, placed_by) VALUES ('h9', 'nope', 'dispute', 't', 'u')").run()).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("DELETE FROM cases WHERE id = 'c1'").run()).toThrow(/FOREIGN KEY/);
    // The holds' own rules still hold: a release is approved by someone else.
    expect(() => db.prepare("UPDATE holds SET released_at = 't3', released_by = 'user:a' WHERE id = 'h2'").run()).toThrow(/CHECK/);
  });

  it('takes a number once per unit and once among the bureau-wide cases, and finds cases by number through an index', () => {
    const db = catalogWithCases();
    const add = db.prepare(kase);
    // Before, U2's 2026-002 could not be used by U1 at all: the refusal told U1 it existed.
    expect(() => add.run('x0', '2026-002', 'n', 'U1', 't', 'u')).toThrow(/UNIQUE/);
    applyMigration(db, 12);
    add.run('x0', '2026-002', 'n', 'U1', 't', 'u');
    add.run('x1', '2026-001', '另一个', 'U2', 't', 'u');
    add.run('x2', '2026-001', '全局', null, 't', 'u');
    expect(() => add.run('x3', '2026-001', '重复', 'U1', 't', 'u')).toThrow(/UNIQUE/);
    expect(() => add.run('x4', 'B-1', '重复', null, 't', 'u')).toThrow(/UNIQUE/);
    add.run('x5', 'B-1', '科室的', 'U1', 't', 'u');
    expect(() => add.run('x6', '', 'n', 'U1', 't', 'u')).toThrow(/CHECK/);
    expect(db.prepare("SELECT unit FROM cases WHERE number = '2026-001' ORDER BY unit").all()).toEqual([{ unit: null }, { unit: 'U1' }, { unit: 'U2' }]);
    expect(queryPlan(db, "SELECT * FROM cases WHERE unit = 'U1' AND number = '2026-001'")).toMatch(/USING INDEX sqlite_autoindex_cases_\d \(unit=\? AND number=\?\)/);
    expect(queryPlan(db, "SELECT * FROM cases WHERE number = '2026-001'")).toMatch(/USING INDEX cases_number/);
  });

  it('applies to an empty catalog and to one with cases but no links or holds', () => {
    const empty = catalogAt(11);
    applyMigration(empty, 12);
    expect(empty.prepare('SELECT count(*) AS n FROM cases').get()).toEqual({ n: 0 });
    const bare = catalogAt(11);
    bare.prepare(kase).run('c1', 'N-1', 'n', 'U1', 't', 'u');
    applyMigration(bare, 12);
    expect(bare.prepare('SELECT id, number FROM cases').all()).toEqual([{ id: 'c1', number: 'N-1' }]);
  });
});
