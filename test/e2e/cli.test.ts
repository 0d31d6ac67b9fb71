import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, runCliOnTerminal } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

describe('custody CLI', () => {
  it('exits 2 with one clear line for usage and configuration errors', async () => {
    const dir = await tempDir();
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);

    const noHome = await runCli(['verify', '--home', join(dir, 'nowhere')]);
    expect(noHome.code).toBe(2);
    expect(noHome.stderr.trim()).toBe(`custody: no custody home at ${join(dir, 'nowhere')} (run: custody init --home ${join(dir, 'nowhere')})`);

    const cfg = join(dir, 'bad.yaml');
    await writeFile(cfg, 'api:\n  port: -1\nvault:\n  kind: tape\n');
    const bad = await runCli(['init', '--home', join(dir, 'h'), '--config', cfg]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/api\.port/);
    expect(bad.stderr).toMatch(/vault\.kind/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const env = await runCli(['init', '--home', join(dir, 'h2')], { CUSTODY_API_PORT: 'eighty' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/CUSTODY_API_PORT: expected a number/);
  });

  it('init is idempotent and refuses a vault whose ledger does not verify', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const first = await runCli(['--json', 'init', '--home', home]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ initialised: true, configCreated: true, vault: { kind: 'fs' } });
    const second = await runCli(['init', '--json'], { CUSTODY_HOME: home });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ initialised: false, configCreated: false, stationKey: JSON.parse(first.stdout).stationKey });

    // Someone with the database edits history.
    const db = new Database(join(home, 'catalog.db'));
    db.exec('DROP TRIGGER ledger_no_update');
    db.prepare(`UPDATE ledger SET data = json_set(data, '$.vault.location', '/elsewhere') WHERE seq = 1`).run();
    db.close();
    const third = await runCli(['init', '--home', home]);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/refusing to initialise: the existing ledger does not verify/);
  });

  it('ingests a folder given on the command line and reports per-file failures with exit 1', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'DCIM/a.mp4': 1000, 'RECORD/录音 1.wav': 500, 'empty.jpg': 0 });
    const res = await runCli(['ingest', rec, '--serial', 'Z1', '--officer', '0001', '--unit', 'U9', '--no-follow-up', '--json', '--home', home]);
    expect(res.code).toBe(1);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ ingested: 2, skipped: 0, failed: 1, bytes: 1500 });
    expect(out.items.map((i: { path: string }) => i.path).sort()).toEqual(['DCIM/a.mp4', 'RECORD/录音 1.wav']);
    expect(Object.keys(out.items[0]).sort()).toEqual(['evidenceId', 'path', 'recordedAt', 'sha256', 'size', 'wiped']);
    expect(out.errors).toEqual([expect.objectContaining({ path: 'empty.jpg', code: 'SOURCE_EMPTY' })]);

    const again = await runCli(['ingest', rec, '--serial', 'Z1', '--no-follow-up', '--home', home]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/0 ingested, 2 skipped, 1 failed/);

    const notDir = await runCli(['ingest', join(dir, 'missing'), '--home', home]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr.trim()).toBe(`custody: not a folder: ${join(dir, 'missing')}`);

    const noSerial = await runCli(['ingest', rec, '--home', home, '--json']);
    expect(noSerial.code).toBe(1);
    expect(JSON.parse(noSerial.stdout).errors[0]).toMatchObject({ code: 'RECORDER_UNIDENTIFIED' });
  });

  it('simulates a recorder and ingests it, with probes and thumbnails, and the vault verifies', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const sim = await runCli(['simulate', 'recorder', '--out', join(dir, 'rec'), '--serial', 'ZFY42', '--officer', '7', '--clips', '2', '--seconds', '2', '--json', '--home', home]);
    expect(sim.code).toBe(0);
    const ing = await runCli(['ingest', join(dir, 'rec'), '--home', home, '--json']);
    expect(ing.code).toBe(0);
    const out = JSON.parse(ing.stdout);
    expect(out).toMatchObject({ ingested: 5, failed: 0, serial: 'ZFY42' });
    const ver = await runCli(['verify', '--deep', '--json', '--home', home]);
    expect(ver.code).toBe(0);
    // The one-shot ingest sealed what it added into the vault.
    expect(JSON.parse(ver.stdout)).toMatchObject({ ok: true, objects: 5, unsealed: 0 });
    expect(JSON.parse(ver.stdout).segments).toBeGreaterThanOrEqual(1);

    // Everything custody wrote (clips, photos, audio, thumbnails) is named by an entry;
    // a photo put into the vault by hand is not: listed, and no failure.
    const stray = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('a photo no entry names')]);
    const sha = createHash('sha256').update(stray).digest('hex');
    const strayFile = join(home, 'vault', 'objects', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha);
    await mkdir(dirname(strayFile), { recursive: true });
    await writeFile(strayFile, stray);
    const unclaimed = await runCli(['verify', '--unclaimed', '--json', '--home', home]);
    expect(unclaimed.code).toBe(0);
    expect(JSON.parse(unclaimed.stdout)).toMatchObject({
      ok: true,
      unclaimed: { count: 1, bytes: stray.length, objects: [{ sha256: sha, size: stray.length, kind: 'photo' }] },
    });
    expect(JSON.parse(unclaimed.stdout).unclaimed.scanned).toBeGreaterThan(5);
    const text = await runCli(['verify', '--unclaimed', '--home', home]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`unclaimed: 1 object\\(s\\).*\\n.*${sha}  ${stray.length} bytes  photo`));
    // On a terminal the listing says how far it has got, then clears its line.
    const scanned = JSON.parse(unclaimed.stdout).unclaimed.scanned as number;
    const tty = await runCliOnTerminal(['verify', '--unclaimed', '--home', home]);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain(`\r listing the vault: ${scanned} objects\r\x1b[K`);
    expect(tty.stdout).toMatch(/unclaimed: 1 object\(s\)/);
    expect(await readFile(strayFile)).toEqual(stray);
  });
});
