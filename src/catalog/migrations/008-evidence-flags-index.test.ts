import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, indexes, queryPlan, seed } from '../../../test/helpers/migrations.js';
import { m008 } from './008-evidence-flags-index.js';
import { migrations } from './index.js';

describe('migration 008 (flags by evidence)', () => {
  it('is migration 8 in the list', () => {
    expect(m008).toMatchObject({ version: 8, name: 'evidence-flags-index' });
    expect(migrations[7]).toBe(m008);
  });

  it('indexes the flags of before by the evidence they name, and the query for an item uses it', () => {
    const db = catalogAt(7);
    seed.recorder(db, 'R1');
    seed.evidence(db, 'e1', 'R1');
    db.prepare("INSERT INTO flags (id, rule, dedupe_key, evidence_id, seen, summary, raised_at, due_by) VALUES ('f1', 'late-upload', 'k1', 'e1', '{}', 's', 't', 't')").run();
    db.prepare("INSERT INTO flags (id, rule, dedupe_key, recorder_serial, seen, summary, raised_at, due_by) VALUES ('f2', 'repair-overdue', 'k2', 'R1', '{}', 's', 't', 't')").run();
    applyMigration(db, 8);
    expect(indexes(db, 'flags')).toContain('flags_evidence');
    expect(queryPlan(db, "SELECT id FROM flags WHERE evidence_id = 'e1' AND state <> 'resolved'")).toMatch(/USING INDEX flags_evidence/);
    expect(db.prepare("SELECT id FROM flags WHERE evidence_id = 'e1'").all()).toEqual([{ id: 'f1' }]);
    expect(db.prepare('SELECT count(*) AS n FROM flags').get()).toEqual({ n: 2 });
  });
});
