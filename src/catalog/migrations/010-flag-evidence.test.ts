import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, indexes, isStrict, queryPlan, seed, triggers } from '../../../test/helpers/migrations.js';
import { m010 } from './010-flag-evidence.js';
import { migrations } from './index.js';

const flag = "INSERT INTO flags (id, rule, dedupe_key, evidence_id, seen, summary, raised_at, due_by) VALUES (?, 'late-upload', ?, ?, '{}', 's', 't', 't')";

describe('migration 010 (every item a flag names, issue 13)', () => {
  it('is migration 10 in the list', () => {
    expect(m010).toMatchObject({ version: 10, name: 'flag-evidence' });
    expect(migrations[9]).toBe(m010);
  });

  it('links every flag of before to the item it names; flags about no item stay unlinked', () => {
    const db = catalogAt(9);
    seed.recorder(db, 'R1');
    seed.evidence(db, 'e1', 'R1');
    seed.evidence(db, 'e2', 'R1');
    db.prepare(flag).run('f1', 'k1', 'e1');
    db.prepare(flag).run('f2', 'k2', 'e2');
    db.prepare(flag).run('f3', 'k3', null);
    applyMigration(db, 10);
    expect(isStrict(db, 'flag_evidence')).toBe(true);
    expect(db.prepare('SELECT flag_id, evidence_id FROM flag_evidence ORDER BY flag_id').all()).toEqual([
      { flag_id: 'f1', evidence_id: 'e1' },
      { flag_id: 'f2', evidence_id: 'e2' },
    ]);
    // The flags of an item and the items of a flag are both found by index.
    expect(indexes(db, 'flag_evidence')).toEqual(['flag_evidence_evidence']);
    expect(queryPlan(db, "SELECT flag_id FROM flag_evidence WHERE evidence_id = 'e1'")).toMatch(/USING COVERING INDEX flag_evidence_evidence/);
    expect(queryPlan(db, "SELECT evidence_id FROM flag_evidence WHERE flag_id = 'f1'")).toMatch(/USING PRIMARY KEY/);
  });

  it('links the item of every new flag, whoever inserts it; more items may be linked, each once, only known ones', () => {
    const db = catalogAt(10);
    expect(triggers(db, 'flags')).toContain('flags_name_evidence');
    seed.recorder(db, 'R1');
    for (const id of ['e1', 'e2', 'e3']) seed.evidence(db, id, 'R1');
    db.prepare(flag).run('f1', 'k1', 'e1');
    const link = db.prepare('INSERT INTO flag_evidence (flag_id, evidence_id) VALUES (?, ?)');
    link.run('f1', 'e2');
    link.run('f1', 'e3');
    expect(() => link.run('f1', 'e2')).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(() => link.run('f1', 'nope')).toThrow(/FOREIGN KEY/);
    expect(() => link.run('nope', 'e1')).toThrow(/FOREIGN KEY/);
    expect(db.prepare("SELECT evidence_id FROM flag_evidence WHERE flag_id = 'f1' ORDER BY 1").all()).toEqual([{ evidence_id: 'e1' }, { evidence_id: 'e2' }, { evidence_id: 'e3' }]);
  });
});
