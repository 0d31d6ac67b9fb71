import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, indexes, queryPlan, seed } from '../../../test/helpers/migrations.js';
import { m017 } from './017-evidence-unwiped.js';
import { migrations } from './index.js';

describe('migration 017 (a recorder\'s unwiped items, issue 17)', () => {
  it('is migration 17 in the list', () => {
    expect(m017).toMatchObject({ version: 17, name: 'evidence-unwiped' });
    expect(migrations[16]).toBe(m017);
  });

  it('indexes the items of before not yet wiped, and the open-intents query uses it', () => {
    const db = catalogAt(16);
    seed.recorder(db, 'R1');
    seed.evidence(db, 'e1', 'R1');
    seed.evidence(db, 'e2', 'R1');
    db.prepare("UPDATE evidence SET wiped_at = '2026-12-01T00:00:00.000Z' WHERE id = 'e1'").run();
    applyMigration(db, 17);
    expect(indexes(db, 'evidence')).toContain('evidence_unwiped');
    expect(queryPlan(db, "SELECT id FROM evidence WHERE recorder_serial = 'R1' AND wiped_at IS NULL")).toMatch(/USING INDEX evidence_unwiped/);
    expect(db.prepare("SELECT id FROM evidence INDEXED BY evidence_unwiped WHERE recorder_serial = 'R1' AND wiped_at IS NULL").all()).toEqual([{ id: 'e2' }]);
  });
});
