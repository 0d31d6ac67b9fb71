import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt } from '../../../test/helpers/migrations.js';
import { m020 } from './020-export-job-owner.js';
import { migrations } from './index.js';

describe('migration 020 (the process that runs an export job)', () => {
  it('is migration 20 in the list', () => {
    expect(m020).toMatchObject({ version: 20, name: 'export-job-owner' });
    expect(migrations[19]).toBe(m020);
  });

  it('adds an owner to export jobs; jobs of before have none', () => {
    const db = catalogAt(19);
    const cols = () => (db.prepare('PRAGMA table_info(export_jobs)').all() as Array<{ name: string }>).map((c) => c.name);
    expect(cols()).not.toContain('owner');
    applyMigration(db, 20);
    expect(cols()).toContain('owner');
  });
});
