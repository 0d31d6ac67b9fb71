import { describe, expect, it } from 'vitest';
import { catalogAt } from '../../../test/helpers/migrations.js';
import { m016 } from './016-export-jobs.js';
import { migrations } from './index.js';

describe('migration 016 (archival exports as jobs, issue 19)', () => {
  it('is migration 16 in the list', () => {
    expect(m016).toMatchObject({ version: 16, name: 'export-jobs' });
    expect(migrations[15]).toBe(m016);
  });

  it('keeps a job consistent: finished exactly when it left queued/running, done only with a result', () => {
    const db = catalogAt(16);
    db.prepare(`INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES ('c1', 'A-1', '案件', 'u1', 't0', 'user:x')`).run();
    const add = db.prepare(
      `INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, result, error, created_at, finished_at)
       VALUES (?, 'c1', 'user:x', '张三', '["/a","/b"]', 0, ?, '[]', ?, NULL, 't0', ?)`,
    );
    add.run('j1', 'queued', null, null);
    add.run('j2', 'done', '{"ok":true}', 't1');
    add.run('j3', 'interrupted', null, 't1');
    expect(() => add.run('j4', 'done', null, 't1')).toThrow(/CHECK/);
    expect(() => add.run('j5', 'running', null, 't1')).toThrow(/CHECK/);
    expect(() => add.run('j6', 'failed', null, null)).toThrow(/CHECK/);
    expect(() => add.run('j7', 'paused', null, null)).toThrow(/CHECK/);
    expect(() => db.prepare(`INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, created_at) VALUES ('j8', 'nope', 'a', 'm', '[]', 0, 'queued', '[]', 't0')`).run()).toThrow(
      /FOREIGN KEY/,
    );
    expect(db.prepare('SELECT id, status FROM export_jobs ORDER BY id').all()).toEqual([
      { id: 'j1', status: 'queued' },
      { id: 'j2', status: 'done' },
      { id: 'j3', status: 'interrupted' },
    ]);
  });
});
