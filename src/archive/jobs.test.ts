import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { silentLogger } from '../core/index.js';
import { ExportJobs } from './jobs.js';

describe('ExportJobs.recent', () => {
  it("gives a unit its own newest jobs, not the station's newest filtered down to it", () => {
    const catalog = Catalog.open(join(mkdtempSync(join(tmpdir(), 'custody-export-jobs-')), 'catalog.db'));
    const db = catalog.db;
    const addCase = db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, ?, ?, ?, '2026-12-01T00:00:00Z', 'cli:test')");
    const addJob = db.prepare(
      "INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, created_at, finished_at) VALUES (?, ?, 'user:1', '档案室', '[]', 0, 'failed', '{}', ?, ?)",
    );
    addCase.run('case-a', 'A-1', '甲案', '350200');
    addCase.run('case-b', 'B-1', '乙案', '350300');
    addJob.run('job-a', 'case-a', '2026-12-01T01:00:00.000Z', '2026-12-01T01:00:01.000Z');
    // Newer jobs of another unit, more than the page holds.
    for (let i = 0; i < 5; i++) addJob.run(`job-b${i}`, 'case-b', `2026-12-01T02:00:0${i}.000Z`, `2026-12-01T02:00:0${i}.500Z`);
    const jobs = new ExportJobs({ catalog, archive: () => Promise.reject(new Error('not used')), log: silentLogger, copies: 2 });
    expect(jobs.recent(3, '350200').map((j) => j.id)).toEqual(['job-a']);
    expect(jobs.recent(3, '350300').map((j) => j.id)).toEqual(['job-b4', 'job-b3', 'job-b2']);
    expect(jobs.recent(3).map((j) => j.id)).toEqual(['job-b4', 'job-b3', 'job-b2']);
    catalog.close();
  });
});
