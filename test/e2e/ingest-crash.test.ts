/**
 * Issue 3 (ingest safety): kill a real custody process mid-ingest, more than once,
 * and check that no partial object is visible, no entry exists for an incomplete
 * file, nothing unverified was wiped, and the next run finishes with no duplicates.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

function ingestedEntries(home: string): Array<{ sha256: string; sourcePath: string }> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db
      .prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'evidence.ingested' ORDER BY seq")
      .all()
      .map((r) => JSON.parse(r.data) as { sha256: string; sourcePath: string });
  } finally {
    db.close();
  }
}

async function checkInvariants(home: string, rec: string, files: Record<string, Buffer>): Promise<number> {
  // Every visible object is whole: its bytes hash to its name.
  const objects = await walk(join(home, 'vault', 'objects'));
  for (const p of objects) {
    expect(sha(await readFile(p))).toBe(p.slice(p.lastIndexOf('/') + 1));
  }
  const entries = ingestedEntries(home);
  const paths = entries.map((e) => e.sourcePath);
  expect(new Set(paths).size).toBe(paths.length); // no duplicates
  for (const e of entries) {
    // An entry exists only for a complete file, whose object is in the vault.
    expect(e.sha256).toBe(sha(files[e.sourcePath]!));
    await stat(join(home, 'vault', 'objects', 'sha256', e.sha256.slice(0, 2), e.sha256.slice(2, 4), e.sha256));
  }
  for (const [rel, content] of Object.entries(files)) {
    const onRecorder = await readFile(join(rec, rel)).catch(() => null);
    if (onRecorder) expect(sha(onRecorder)).toBe(sha(content));
    // Nothing leaves the recorder unless its evidence is committed.
    else expect(paths).toContain(rel);
  }
  const verify = await runCli(['verify', '--home', home, '--json']);
  expect(verify.stderr).toBe('');
  expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  expect(verify.code).toBe(0);
  return entries.length;
}

describe('ingest survives being killed', () => {
  it('kill -9 mid-copy, three times, then a clean run finishes with no duplicates', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const rec = join(dir, 'rec');
    const init = await runCli(['init', '--home', home]);
    expect(init.code).toBe(0);
    const spec: Record<string, number> = {};
    for (let i = 1; i <= 8; i++) spec[`DCIM/100MEDIA/ZFY9_2026112008${String(i).padStart(2, '0')}00_${String(i).padStart(4, '0')}.MP4`] = 24 * 1024 * 1024 + i;
    const files = await writeTree(rec, spec);
    const env = { CUSTODY_INGEST_CONCURRENCY: '1', CUSTODY_INGEST_READ_BUFFER_KB: '64' };
    const tmp = join(home, 'vault', '.tmp');

    let committedBefore = 0;
    for (let round = 0; round < 3; round++) {
      const stale = new Set(await readdir(tmp));
      const child = startCli(['ingest', rec, '--home', home, '--serial', 'ZFY9', '--wipe', '--no-follow-up', '--json'], env);
      const exited = new Promise((r) => child.on('exit', r));
      // Wait until this process is half-way through writing a new temp object.
      await waitFor(`a growing temp file in round ${round}`, async () => {
        for (const name of await readdir(tmp)) {
          if (stale.has(name)) continue;
          const st = await stat(join(tmp, name)).catch(() => null);
          if (st && st.size > 4 * 1024 * 1024) return true;
        }
        return false;
      });
      child.kill('SIGKILL');
      await exited;
      const committed = await checkInvariants(home, rec, files);
      expect(committed).toBeGreaterThanOrEqual(committedBefore);
      committedBefore = committed;
    }
    expect(committedBefore).toBeLessThan(8);

    const final = await runCli(['ingest', rec, '--home', home, '--serial', 'ZFY9', '--wipe', '--no-follow-up', '--json'], env);
    expect(final.code).toBe(0);
    const report = JSON.parse(final.stdout) as { ingested: number; failed: number };
    expect(report.failed).toBe(0);
    expect(report.ingested).toBe(8 - committedBefore);
    expect(await checkInvariants(home, rec, files)).toBe(8);
    // Everything is in the vault and has been wiped from the recorder.
    expect(await walk(rec)).toEqual([]);
    // The copies the three kills interrupted were freed when the next run opened the vault (issue 21).
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe('ingest stops cleanly on SIGTERM', () => {
  it('finishes the copy in flight, records it, takes no new file and reports the stop', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const rec = join(dir, 'rec');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const spec: Record<string, number> = {};
    for (let i = 1; i <= 4; i++) spec[`clip_${i}.mp4`] = 24 * 1024 * 1024 + i;
    const files = await writeTree(rec, spec);
    const child = startCli(['ingest', rec, '--home', home, '--serial', 'T1', '--no-follow-up', '--json'], {
      CUSTODY_INGEST_CONCURRENCY: '1',
      CUSTODY_INGEST_READ_BUFFER_KB: '64',
    });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const tmp = join(home, 'vault', '.tmp');
    await waitFor('a copy in flight', async () => {
      for (const name of await readdir(tmp)) {
        const st = await stat(join(tmp, name)).catch(() => null);
        if (st && st.size > 1024 * 1024) return true;
      }
      return false;
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    const report = JSON.parse(stdout) as { ingested: number; status: string; errors: Array<{ code: string }> };
    expect(report.status).toBe('aborted');
    expect(report.errors.map((e) => e.code)).toContain('SHUTDOWN');
    expect(report.ingested).toBeGreaterThanOrEqual(1);
    expect(report.ingested).toBeLessThan(4);
    expect(await checkInvariants(home, rec, files)).toBe(report.ingested);
    expect(await readdir(tmp)).toEqual([]);
  });
});
