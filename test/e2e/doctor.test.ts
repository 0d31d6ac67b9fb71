import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 20: `custody doctor` as the built CLI — it checks a station, says what to fix in
// both languages, exits 1 while a check fails and 0 once it is fixed.

interface Report {
  ok: boolean;
  home: string;
  checks: Array<{ id: string; status: string; fix: string | null; fixZh: string | null }>;
}

describe('custody doctor (e2e, issue 20)', () => {
  it('tells of a new station without a snapshot yet, then passes once custody backup took one', { timeout: 120_000 }, async () => {
    const dir = await tempDir('custody-doctor-e2e-');
    const home = join(dir, 'home');
    const env = { CUSTODY_DEVICES_USB: 'false', CUSTODY_DEVICES_MOUNT_ROOTS: JSON.stringify([dir]) };
    expect((await runCli(['init', '--home', home], env)).code).toBe(0);

    const first = await runCli(['doctor', '--home', home, '--json'], env);
    const report = JSON.parse(first.stdout) as Report;
    // Exit 1 exactly when a check fails (this machine's own lacks may; the new station's do not).
    expect(first.code, first.stderr).toBe(report.checks.some((c) => c.status === 'fail') ? 1 : 0);
    expect(report.ok).toBe(first.code === 0);
    expect(report.home).toBe(home);
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    // Just initialised: no snapshot yet, and none missed (the daemon, not yet started, takes the first as it starts).
    expect(byId.snapshot).toMatchObject({ status: 'warn' });
    expect(byId.snapshot!.fixZh).toContain('custody backup');
    for (const id of ['home', 'catalog-file', 'catalog', 'key', 'vault', 'mounts']) expect(byId[id]!.status, id).toBe('ok');
    expect(byId.usb!.status).toBe('skipped');
    expect(['ok', 'fail', 'unknown']).toContain(byId.clock!.status);

    const human = await runCli(['doctor', '--home', home], env);
    expect(human.stdout).toContain('custody doctor: ');
    expect(human.stdout).toContain('! warn');
    expect(human.stdout).toContain('如需立即生成，请运行 custody backup');

    expect((await runCli(['backup', '--home', home, '--json'], env)).code).toBe(0);
    const after = JSON.parse((await runCli(['doctor', '--home', home, '--json'], env)).stdout) as Report;
    expect(after.checks.find((c) => c.id === 'snapshot')!.status).toBe('ok');
    // Whatever else this machine lacks (a clock service, free space) is its own; the snapshot is fixed.
    expect(after.ok).toBe(!after.checks.some((c) => c.status === 'fail'));
  });

  it('a new station is covered by its daemon\'s first start: a snapshot is taken and /metrics says when', { timeout: 120_000 }, async () => {
    const dir = await tempDir('custody-doctor-e2e-');
    const home = join(dir, 'home');
    const env = { CUSTODY_DEVICES_USB: 'false', CUSTODY_DEVICES_MOUNT_ROOTS: JSON.stringify([dir]) };
    expect((await runCli(['init', '--home', home], env)).code).toBe(0);
    const snapshotCheck = async () => (JSON.parse((await runCli(['doctor', '--home', home, '--json'], env)).stdout) as Report).checks.find((c) => c.id === 'snapshot')!;
    expect((await snapshotCheck()).status).toBe('warn');

    const d = startDaemon(home, { ...env, CUSTODY_API_PORT: '0' });
    const started = await waitFor('the daemon to start', async () => d.lines.find((l) => l.msg === 'custody daemon started'), 60_000, 20);
    const taken = await waitFor('the first snapshot', async () => d.lines.find((l) => l.msg === 'catalog snapshot stored in the vault'), 60_000, 20);
    expect(taken).toMatchObject({ reason: 'schedule' });
    // CustodySnapshotMissed reads this gauge (0: never); the figures are read at most every 30 s.
    const at = await waitFor(
      'the snapshot in /metrics',
      async () => {
        const text = await (await fetch(`${started.api as string}/metrics`)).text();
        return Number(/^custody_catalog_snapshot_last_timestamp_seconds (\S+)$/m.exec(text)?.[1]) || null;
      },
      60_000,
      500,
    );
    expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(600);
    expect(await d.stop()).toBe(0);
    expect((await snapshotCheck()).status).toBe('ok');
  });

  it('exits 1 with the catalog check failing for a home custody init never made', async () => {
    const dir = await tempDir('custody-doctor-e2e-');
    const r = await runCli(['doctor', '--home', join(dir, 'nothing'), '--json'], { CUSTODY_DEVICES_USB: 'false' });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.checks.find((c) => c.id === 'catalog')).toMatchObject({ status: 'fail' });
    expect(report.checks.find((c) => c.id === 'home')).toMatchObject({ status: 'fail' });
    // It changes nothing: no home was made.
    expect(existsSync(join(dir, 'nothing'))).toBe(false);
  });
});
