import { createHash } from 'node:crypto';
import { readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { createServer, type AddressInfo } from 'node:net';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('custody daemon (issue 4)', () => {
  it('docks a recorder that appears under its mount root, vaults its footage, undocks it, and stops cleanly on SIGTERM', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const media = join(dir, 'media');
    await mkdir(media);
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const user = await runCli(['users', 'add', '--name', 'e2e auditor', '--role', 'auditor', '--json', '--home', home]);
    expect(user.code).toBe(0);
    const { token } = JSON.parse(user.stdout) as { token: string };

    const d = startDaemon(home, { CUSTODY_DEVICES_MOUNT_ROOTS: media, CUSTODY_API_PORT: '0', CUSTODY_DEVICES_RESCAN_SECONDS: '2' });
    const started = await waitFor('the daemon to start', async () => d.lines.find((l) => l.msg === 'custody daemon started'), 30_000, 20);
    const url = started.api as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    // A recorder is docked: `custody simulate recorder` writes it straight under the mount root.
    const sim = await runCli(['simulate', 'recorder', '--out', join(media, 'SIM1'), '--serial', 'SIM1', '--clips', '1', '--seconds', '1', '--clock-offset', '120', '--json', '--home', home]);
    expect(sim.code).toBe(0);
    const files = (JSON.parse(sim.stdout) as { files: Array<{ path: string; relPath: string }> }).files;
    expect(files.length).toBe(4);

    // Wait on the API until its session has ended.
    const device = await waitFor(
      'the recorder to be ingested',
      async () => {
        const r = await get('/api/v1/devices/SIM1');
        const dock = (r.body.device as { lastDock?: { sessionStatus: string | null } } | undefined)?.lastDock;
        return r.status === 200 && dock?.sessionStatus === 'complete' ? r.body : null;
      },
      60_000,
      100,
    );
    const lastDock = (device.device as { lastDock: Record<string, unknown> }).lastDock;
    expect(lastDock).toMatchObject({ verdict: 'not-ready', clockDriftMs: 120_000, batteryPercent: 80, filesIngested: 4, filesFailed: 0 });
    expect(lastDock.reasons).toEqual(['device clock +120 s (ahead of the station) is beyond ±30 s']);
    expect(lastDock.clockSyncedAt).not.toBeNull();

    // Every file is in the vault, under its own hash, byte for byte.
    const db = new Database(join(home, 'catalog.db'), { readonly: true });
    const rows = db.prepare<[], { source_path: string; sha256: string; clock_drift_ms: number }>("SELECT source_path, sha256, clock_drift_ms FROM evidence WHERE recorder_serial = 'SIM1' ORDER BY source_path").all();
    db.close();
    expect(rows.map((r) => r.source_path)).toEqual(files.map((f) => f.relPath).sort());
    for (const f of files) {
      const src = await readFile(f.path);
      const row = rows.find((r) => r.source_path === f.relPath)!;
      expect(row.sha256).toBe(sha256(src));
      expect(row.clock_drift_ms).toBe(120_000);
      const stored = await readFile(join(home, 'vault', 'objects', 'sha256', row.sha256.slice(0, 2), row.sha256.slice(2, 4), row.sha256));
      expect(sha256(stored)).toBe(row.sha256);
    }

    // Take the recorder away: the dock is closed.
    await rm(join(media, 'SIM1'), { recursive: true });
    await waitFor(
      'the recorder to be undocked',
      async () => {
        const r = await get('/api/v1/devices/SIM1');
        return (r.body.device as { lastDock: { undockedAt: string | null } }).lastDock.undockedAt !== null;
      },
      30_000,
      100,
    );

    // A supervisor saves the signed checkpoint the daemon serves (issue 9).
    const cp = await fetch(url + '/api/v1/ledger/checkpoint', { headers: { authorization: `Bearer ${token}` } });
    expect(cp.status).toBe(200);
    expect(cp.headers.get('content-type')).toMatch(/^text\/plain/);
    const note = await cp.text();
    expect(note.split('\n')[1]).toMatch(/^\d+$/);
    expect(note).toMatch(/\n\n\u2014 /); // a signed note: blank line, then "— <key name> <signature>"
    await writeFile(join(dir, 'saved.checkpoint'), note);

    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.lines.map((l) => l.msg)).toContain('custody daemon stopped');
    // The ledger after the daemon's last entries still extends the saved checkpoint.
    const consistency = await runCli(['ledger', 'consistency', '--from', join(dir, 'saved.checkpoint'), '--home', home]);
    expect(consistency.stderr).toBe('');
    expect(consistency.code).toBe(0);
    expect(d.stray).toEqual([]); // stdout is JSON lines only, for journald
    expect(d.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    const types = new Set(d.lines.map((l) => l.msg));
    for (const m of ['recorder docked: NOT ready (device clock +120 s (ahead of the station) is beyond ±30 s)', 'recorder clock set to the station clock', 'recorder undocked']) {
      expect(types).toContain(m);
    }

    const verify = await runCli(['verify', '--deep', '--json', '--home', home]);
    expect(verify.code).toBe(0);
    const v = JSON.parse(verify.stdout) as { ok: boolean; unsealed: number };
    expect(v.ok).toBe(true);
    expect(v.unsealed).toBe(0); // the daemon sealed the ledger's tail on its way out

    const show = await runCli(['devices', 'show', 'SIM1', '--json', '--home', home]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ serial: 'SIM1', evidence: { items: 4 }, docks: [expect.objectContaining({ verdict: 'not-ready', sessionStatus: 'complete' })] });
    const types2 = (await runCli(['ledger', 'export', '--home', home])).stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types2).toEqual(expect.arrayContaining(['device.docked', 'device.clock-synced', 'device.undocked']));
    expect(types2.indexOf('device.docked')).toBeLessThan(types2.indexOf('evidence.ingested'));
  });

  it('refuses to start on a home that was never initialised (exit 2, one line)', async () => {
    const dir = await tempDir();
    const r = await runCli(['daemon', '--home', join(dir, 'nowhere')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`custody: no custody home at ${join(dir, 'nowhere')} (run: custody init --home ${join(dir, 'nowhere')})`);
  });

  it('exits non-zero, with the error logged, when a part cannot start (the API port is taken)', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const d = startDaemon(home, { CUSTODY_API_PORT: String(port), CUSTODY_DEVICES_MOUNT_ROOTS: join(dir, 'media'), CUSTODY_DEVICES_USB: 'false' });
      expect(await d.exited).toBe(1);
      expect(d.lines.find((l) => l.level === 50 && String(l.msg).startsWith('could not start api'))).toBeTruthy();
      expect(d.stderr()).toMatch(/^custody: cannot listen on 127\.0\.0\.1:\d+/m);
    } finally {
      blocker.close();
    }
    // Nothing was left half-open: the home still verifies.
    expect((await runCli(['verify', '--home', home])).code).toBe(0);
  });

  it('logs an uncaught error and exits 1, for systemd to restart it', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    // A bug, simulated: on SIGUSR2 the process throws from a callback nobody catches.
    const bug = "process.on('SIGUSR2', () => setImmediate(() => { throw new Error('simulated bug'); }));";
    const d = startDaemon(home, {
      NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(bug)}`,
      CUSTODY_API_PORT: '0',
      CUSTODY_DEVICES_MOUNT_ROOTS: join(dir, 'media'),
      CUSTODY_DEVICES_USB: 'false',
    });
    await waitFor('the daemon to start', async () => d.lines.some((l) => l.msg === 'custody daemon started'), 30_000, 20);
    d.child.kill('SIGUSR2');
    expect(await d.exited).toBe(1);
    expect(d.lines.find((l) => l.msg === 'uncaught exception: exiting')).toMatchObject({ level: 60, err: { message: 'simulated bug' } });
    expect((await runCli(['verify', '--home', home])).code).toBe(0);
  });

  it('custody devices: list, show and set-status (ledgered), with exit codes', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const rec = join(dir, 'rec');
    const sim = await runCli(['simulate', 'recorder', '--out', rec, '--serial', 'ZFY77', '--clips', '0', '--home', home]);
    expect(sim.code).toBe(0);
    expect((await runCli(['ingest', rec, '--no-follow-up', '--home', home])).code).toBe(0);

    const list = await runCli(['devices', 'list', '--home', home]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^serial\s+model\s+officer\s+unit\s+status\s+last dock\s+last verdict$/m);
    expect(list.stdout).toMatch(/^ZFY77\s+SIM-DSJ-1\s+100001\s+350200000000\s+in-service\s+-\s+never docked$/m);

    const set = await runCli(['devices', 'set-status', 'ZFY77', 'reported-damaged', '--note', 'lens cracked', '--home', home]);
    expect(set.code).toBe(0);
    expect(set.stdout.trim()).toBe('recorder ZFY77 is now reported-damaged');
    const again = await runCli(['devices', 'set-status', 'ZFY77', 'reported-damaged', '--note', 'lens cracked', '--home', home]);
    expect(again.stdout.trim()).toBe('recorder ZFY77 already is reported-damaged; nothing changed');
    const bad = await runCli(['devices', 'set-status', 'ZFY77', 'lost', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/status must be one of in-service, reported-damaged, in-repair, retired/);
    const missing = await runCli(['devices', 'show', 'NOPE', '--home', home]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('custody: recorder not found: NOPE');

    const show = await runCli(['devices', 'show', 'ZFY77', '--json', '--home', home]);
    expect(JSON.parse(show.stdout)).toMatchObject({ serial: 'ZFY77', status: 'reported-damaged', statusNote: 'lens cracked', evidence: { items: 3 }, docks: [] });
    const ledger = (await runCli(['ledger', 'export', '--home', home])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; actor: string; data: unknown });
    expect(ledger.filter((e) => e.type === 'device.status-changed')).toEqual([
      expect.objectContaining({ actor: expect.stringMatching(/^cli:/), data: { from: 'in-service', to: 'reported-damaged', note: 'lens cracked' } }),
    ]);

    const rules = await runCli(['devices', 'udev-rules', '--home', home]);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toMatch(/LABEL="custody_end"/);
  });
});
