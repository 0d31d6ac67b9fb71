import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const objectPath = (home: string, sha: string): string => join(home, 'vault', 'objects', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha);

/**
 * The built CLI: cases and holds, `custody purge` (dry run, guard, run), and
 * `custody verify` telling a purged object from a missing one (issue 7).
 */
describe('custody cases, custody purge and custody verify (e2e, issue 7)', () => {
  it('protects a case, purges only the unheld expired item, and verify tells purged from missing', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const rec = join(dir, 'rec');
    // Recorded in January 2026 (file names are local time): their 6 months are long over.
    await writeTree(rec, {
      'DCIM/ZFY001_20260110083000_0001.MP4': 20_000,
      'DCIM/ZFY001_20260110090000_0002.MP4': 30_000,
      'DCIM/ZFY001_20260110093000_0003.MP4': 40_000,
    });
    const ingest = await runCli(['ingest', rec, '--serial', 'ZFY001', '--officer', '0417', '--unit', 'U1', '--no-follow-up', '--json', '--home', home]);
    expect(ingest.code, ingest.stderr).toBe(0);
    const items = (JSON.parse(ingest.stdout) as { items: { evidenceId: string; sha256: string; path: string }[] }).items
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((i) => ({ id: i.evidenceId, sha256: i.sha256 }));
    expect(items).toHaveLength(3);
    const [kept, gone, alsoGone] = items as [(typeof items)[0], (typeof items)[0], (typeof items)[0]];
    const env = { CUSTODY_RETENTION_MIN_DAYS_AFTER_INGEST: '0', CUSTODY_RETENTION_NOTICE_DAYS: '0' };
    const cli = (args: string[]) => runCli([...args, '--home', home], env);

    // A typed name is no actor (issue 13): --by is refused, and the account alone is recorded.
    expect((await cli(['cases', 'create', '--number', 'XM-2026-0041', '--name', 'Typed', '--by', 'li'])).code).toBe(2);
    const created = await cli(['cases', 'create', '--number', 'XM-2026-0042', '--name', 'Market dispute', '--unit', 'U1', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect((await cli(['cases', 'link', 'XM-2026-0042', kept.id])).code).toBe(0);
    expect((await cli(['cases', 'hold', 'XM-2026-0042', '--reason', 'other'])).code).toBe(2); // other needs a text
    expect((await cli(['cases', 'hold', 'XM-2026-0042', '--reason', 'dispute', '--by', 'li'])).code).toBe(2);
    const hold = JSON.parse((await cli(['cases', 'hold', 'XM-2026-0042', '--reason', 'dispute', '--json'])).stdout) as { id: string };
    const show = JSON.parse((await cli(['cases', 'show', 'XM-2026-0042', '--json'])).stdout) as { evidence: { id: string; retention: { state: string } }[] };
    expect(show.evidence).toEqual([expect.objectContaining({ id: kept.id, retention: expect.objectContaining({ state: 'held' }) })]);

    // 2 of 3 would go: over the default 10 % the run refuses (exit 1), and changes nothing.
    const refused = await cli(['purge', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ status: 'refused', refusal: { code: 'PURGE_TOO_MUCH' } });
    const dry = await cli(['purge', '--dry-run', '--force', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, purged: 2, skipped: 1, bytesFreed: 70_000 });
    expect(existsSync(objectPath(home, gone.sha256))).toBe(true);

    const run = await cli(['purge', '--force', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', purged: 2, skipped: 1, bytesFreed: 70_000 });
    expect(existsSync(objectPath(home, gone.sha256))).toBe(false);
    expect(existsSync(objectPath(home, kept.sha256))).toBe(true);

    const verify = await cli(['verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, purged: 2, objects: 3 });

    // One format for CLI actors (issue 13): cli:<os-user> for init, ingest, cases and the purge run
    // alike, and nothing typed at the keyboard is added.
    const db = new Database(join(home, 'catalog.db'), { readonly: true });
    const actors = db.prepare('SELECT type, actor FROM ledger ORDER BY seq').all() as { type: string; actor: string }[];
    const purgeRuns = db.prepare('SELECT DISTINCT actor FROM purge_runs').all() as { actor: string }[];
    db.close();
    const me = `cli:${userInfo().username}`;
    const actorOf = (type: string): string[] => [...new Set(actors.filter((a) => a.type === type).map((a) => a.actor))];
    expect(actorOf('station.initialized')).toEqual([me]);
    expect(actorOf('evidence.ingested')).toEqual([me]);
    expect(actorOf('case.created')).toEqual([me]);
    expect(actorOf('hold.placed')).toEqual([me]);
    expect(actorOf('evidence.purged')).toEqual([me]);
    expect(purgeRuns).toEqual([{ actor: me }]);

    // A release needs a second person, each proven by their own token (issue 14); after it the item goes too.
    const li = JSON.parse((await cli(['users', 'add', '--name', 'Li', '--role', 'supervisor', '--json'])).stdout) as { token: string };
    const wang = JSON.parse((await cli(['users', 'add', '--name', 'Wang', '--role', 'supervisor', '--json'])).stdout) as { token: string };
    const as = (token: string, args: string[]) => runCli([...args, '--home', home], { ...env, CUSTODY_TOKEN: token });
    expect((await as(li.token, ['cases', 'release-request', hold.id, '--reason', 'complaint withdrawn'])).code).toBe(0);
    const self = await as(li.token, ['cases', 'release-approve', hold.id]);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/someone other than/);
    expect((await cli(['cases', 'release-approve', hold.id, '--by', 'wang'])).code).toBe(2);
    expect((await as(wang.token, ['cases', 'release-approve', hold.id])).code).toBe(0);

    // A deleted object is missing, not purged.
    await rm(objectPath(home, kept.sha256));
    const broken = await cli(['verify', '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, purged: 2, problems: [expect.objectContaining({ code: 'OBJECT_MISSING' })] });
    // …and the purge refuses to run on a vault that does not verify, even forced.
    expect(JSON.parse((await cli(['purge', '--force', '--json'])).stdout)).toMatchObject({ status: 'refused', refusal: { code: 'PURGE_LEDGER_INVALID' } });
    expect(alsoGone.id).not.toBe(kept.id);
  }, 60_000);
});
