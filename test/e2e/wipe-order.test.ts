/**
 * Issue 17 (wipe order): a process killed after it deleted a file on the recorder and
 * before it committed `evidence.wiped` leaves the wipe in the ledger all the same: its
 * `evidence.wipe-intended` entry was committed before the deletion, and the next session
 * of the recorder finds the file gone and records the wipe (marked resumed).
 *
 * The kill lands exactly in that window: the recorder is the lab's pass-through mount,
 * which deletes the file and then holds the unlink's reply, so the process sits between
 * the unlink and its commit when it is killed. (The kernel lets the killed process go
 * only when the held reply comes; by then its other threads are gone, so nothing after
 * the unlink runs.)
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { Lab, labProblems } from '../lab/lab.js';

const labMissing = await labProblems();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Row {
  type: string;
  subject: string;
  data: { sourcePath?: string; resumed?: boolean };
}

function wipeEntries(home: string): Row[] {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db
      .prepare<[], { type: string; subject: string; data: string }>("SELECT type, subject, data FROM ledger WHERE type IN ('evidence.wipe-intended', 'evidence.wiped') ORDER BY seq")
      .all()
      .map((r) => ({ type: r.type, subject: r.subject, data: JSON.parse(r.data) as Row['data'] }));
  } finally {
    db.close();
  }
}

function evidence(home: string): Array<{ id: string; source_path: string; sha256: string; wiped_at: string | null }> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db.prepare<[], { id: string; source_path: string; sha256: string; wiped_at: string | null }>('SELECT id, source_path, sha256, wiped_at FROM evidence ORDER BY source_path').all();
  } finally {
    db.close();
  }
}

const NAMES = [1, 2, 3].map((i) => `DCIM/100MEDIA/ZFY9_20261120080${i}00_000${i}.MP4`);

if (labMissing.length === 0) describe('every wipe is in the ledger (issue 17)', () => {
  it('killed between the unlink and its commit, the next session records the wipe it finds done', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const card = join(dir, 'card');
    const events = join(dir, 'events');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const files = await writeTree(card, Object.fromEntries(NAMES.map((n, i) => [n, 1024 * 1024 + i])));
    const lab = new Lab(join(dir, 'lab'));
    try {
      const rec = join(dir, 'rec');
      await lab.throttle(card, rec, { holdUnlink: [{ glob: NAMES[1]!, seconds: 4 }], events });
      const args = ['ingest', rec, '--home', home, '--serial', 'ZFY9', '--wipe', '--no-follow-up', '--json'];
      const env = { CUSTODY_INGEST_CONCURRENCY: '1' };
      const child = startCli(args, env);
      const exited = new Promise((r) => child.on('exit', r));
      await waitFor('the second file to be deleted, its reply held', async () => (await readFile(events, 'utf8').catch(() => '')).includes(`unlinked ${NAMES[1]}`), 60_000, 10);
      child.kill('SIGKILL');
      await exited;

      // The crash window: the file is gone from the recorder, `evidence.wiped` is not
      // committed, and the intent says what was being done.
      expect(await readFile(join(card, NAMES[1]!)).catch(() => null)).toBeNull();
      const rows = evidence(home);
      const second = rows.find((r) => r.source_path === NAMES[1])!;
      expect(second.wiped_at).toBeNull();
      const before = wipeEntries(home).filter((e) => e.subject === second.id);
      expect(before.map((e) => e.type)).toEqual(['evidence.wipe-intended']);

      const again = await runCli(args, env);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: 'complete', failed: 0 });

      // Every file left the recorder, and each wipe is in the ledger exactly once, after its intent.
      expect(await readdir(join(card, 'DCIM', '100MEDIA'))).toEqual([]);
      const after = evidence(home);
      expect(after.map((r) => r.source_path)).toEqual(NAMES);
      const entries = wipeEntries(home);
      for (const r of after) {
        expect(r.sha256).toBe(sha(files[r.source_path]!));
        expect(r.wiped_at).not.toBeNull();
        expect(entries.filter((e) => e.subject === r.id).map((e) => e.type)).toEqual(['evidence.wipe-intended', 'evidence.wiped']);
      }
      const resumed = entries.find((e) => e.type === 'evidence.wiped' && e.subject === second.id)!;
      expect(resumed.data).toMatchObject({ sourcePath: NAMES[1], resumed: true });
      expect(entries.filter((e) => e.data.resumed === true)).toHaveLength(1);
    } finally {
      await lab.close();
    }
    const v = await runCli(['verify', '--deep', '--json', '--home', home]);
    expect(v.stderr).toBe('');
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true });
  }, 180_000);
});

if (labMissing.length > 0 && process.env.CI === 'true') {
  describe('the recorder lab (issue 17)', () => {
    it('can run here (CI kills an ingest between its unlink and its commit on a real FUSE mount)', () => {
      throw new Error(`the recorder lab cannot run:\n  - ${labMissing.join('\n  - ')}`);
    });
  });
} else if (labMissing.length > 0) {
  console.warn(`[recorder lab] wipe-order test not run: ${labMissing.join('; ')}. (With CI=true this is a failure.)`);
}
