import type { ChildProcess } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface FlagItem {
  rule: string;
  serial?: string;
  recorderSerial: string | null;
  seen: Record<string, unknown>;
}

// Issue 6: the daemon flags at ingest and scans after the undock.
describe('custody daemon compliance (issue 6)', () => {
  it('flags old footage at ingest, and after the dock a file-number gap, 8 hours of clock drift and a conflicting attribution', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const media = join(dir, 'media');
    const staging = join(dir, 'staging');
    await mkdir(media);
    await mkdir(staging);
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const { token } = JSON.parse((await runCli(['users', 'add', '--name', 'Chief', '--role', 'supervisor', '--json', '--home', home])).stdout) as { token: string };

    // Footage recorded three days ago by a recorder whose clock is 8 hours ahead (set to the wrong zone).
    const recordedAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const sim = await runCli(['simulate', 'recorder', '--out', join(staging, 'SIM2'), '--serial', 'SIM2', '--clips', '3', '--seconds', '1', '--recorded-at', recordedAt, '--clock-offset', '28800', '--json', '--home', home]);
    expect(sim.code).toBe(0);
    const files = (JSON.parse(sim.stdout) as { files: Array<{ path: string; relPath: string }> }).files;
    // File 0002 was deleted on the device.
    const second = files.find((f) => /_0002\./u.test(f.relPath))!;
    await rm(second.path);
    // Officer 0417 had the recorder then; the recorder itself reports officer 100001.
    const start = new Date(Date.parse(recordedAt) - 3_600_000).toISOString();
    const end = new Date(Date.parse(recordedAt) + 3_600_000).toISOString();
    expect((await runCli(['assignments', 'add', '--officer', '0417', '--name', 'Li Wei', '--recorder', 'SIM2', '--start', start, '--end', end, '--home', home])).code).toBe(0);

    const child = startCli(['daemon', '--home', home], { CUSTODY_DEVICES_MOUNT_ROOTS: media, CUSTODY_API_PORT: '0', CUSTODY_DEVICES_RESCAN_SECONDS: '2', CUSTODY_COMPLIANCE_SCAN_INTERVAL_MINUTES: '0' });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor('the daemon to start', async () => {
      const line = out.split('\n').find((l) => l.includes('custody daemon started'));
      return line ? ((JSON.parse(line) as { api: string }).api) : null;
    }, 30_000, 20);
    const flags = async (q = ''): Promise<FlagItem[]> => {
      const res = await fetch(`${url}/api/v1/flags${q}`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { items: FlagItem[] }).items;
    };

    await rename(join(staging, 'SIM2'), join(media, 'SIM2'));
    // One late dock: one flag that names every late file, raised when the session ends (issue 13).
    const late = await waitFor('the late upload flagged', async () => {
      const l = await flags('?rule=late-upload');
      return l.length > 0 ? l : null;
    }, 60_000, 100);
    expect(late).toHaveLength(1);
    expect(late[0]!.recorderSerial).toBe('SIM2');
    expect(late[0]!.seen).toMatchObject({ fileCount: files.length - 1 });
    expect(late[0]!.seen.delayHours as number).toBeGreaterThan(70);

    await waitFor('the session to end', async () => {
      const res = await fetch(`${url}/api/v1/devices/SIM2`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { device?: { lastDock?: { sessionStatus: string | null } } };
      return body.device?.lastDock?.sessionStatus === 'complete';
    }, 60_000, 100);
    await rm(join(media, 'SIM2'), { recursive: true });
    const all = await waitFor('the scan after the undock', async () => {
      const l = await flags();
      return l.some((f) => f.rule === 'clock-drift') && l.some((f) => f.rule === 'sequence-gap') ? l : null;
    }, 60_000, 100);
    expect(all.find((f) => f.rule === 'sequence-gap')!.seen).toMatchObject({ missing: ['0002'], missingCount: 1 });
    expect(all.find((f) => f.rule === 'clock-drift')!.seen).toMatchObject({ clipCount: files.length - 1 });
    expect(Math.round((all.find((f) => f.rule === 'clock-drift')!.seen.driftMs as number) / 3_600_000)).toBe(8);
    expect(all.filter((f) => f.rule === 'attribution-conflict').length).toBe(files.length - 1);

    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
    expect(child.exitCode).toBe(0);
    // A scan now finds nothing new: every finding was raised once.
    expect(JSON.parse((await runCli(['flags', 'scan', '--json', '--home', home])).stdout)).toMatchObject({ raised: [] });
  });
});
