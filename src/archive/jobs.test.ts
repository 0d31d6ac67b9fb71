import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { processTag, silentLogger } from '../core/index.js';
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

describe('ExportJobs.recover', () => {
  it("interrupts the jobs of processes that are gone, and leaves a running process's job to it", async () => {
    const catalog = Catalog.open(join(mkdtempSync(join(tmpdir(), 'custody-export-jobs-')), 'catalog.db'));
    const db = catalog.db;
    db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES ('case-a', 'A-1', '甲案', '350200', '2026-12-01T00:00:00Z', 'cli:test')").run();
    const addJob = db.prepare(
      "INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, created_at, started_at, owner) VALUES (?, 'case-a', 'user:1', '档案室', '[]', 0, 'running', '[]', '2026-12-01T01:00:00.000Z', '2026-12-01T01:00:01.000Z', ?)",
    );
    // A daemon still running its export (another live process), one that exited, one
    // whose pid is now someone else's, and a job of before owners were recorded.
    const daemon = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    try {
      addJob.run('job-live', processTag(daemon.pid!));
      addJob.run('job-gone', processTag(gone.pid!));
      addJob.run('job-reused', `${daemon.pid!}-1`);
      addJob.run('job-old', null);
      const jobs = new ExportJobs({ catalog, archive: () => Promise.reject(new Error('not used')), log: silentLogger, copies: 2 });
      expect(jobs.recover('custody:api')).toBe(3);
      const status = (id: string) => (db.prepare('SELECT status FROM export_jobs WHERE id = ?').get(id) as { status: string }).status;
      expect(status('job-live')).toBe('running');
      expect(['job-gone', 'job-reused', 'job-old'].map(status)).toEqual(['interrupted', 'interrupted', 'interrupted']);
      const ledgered = db.prepare("SELECT json_extract(data, '$.exportId') AS id FROM ledger WHERE type = 'export.interrupted' ORDER BY seq").all() as Array<{ id: string }>;
      expect(ledgered.map((r) => r.id).sort()).toEqual(['job-gone', 'job-old', 'job-reused']);
    } finally {
      daemon.kill();
      catalog.close();
    }
  });
});
