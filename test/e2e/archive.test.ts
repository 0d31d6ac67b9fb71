/**
 * Issue 8 end to end, with the built CLI and daemon: footage from a simulated recorder,
 * a case with a hold (`custody cases`), an archivist exports it over HTTP from the
 * running daemon (whose CheckpointService signs the checkpoint the copies carry), and
 * the built `custody verify-export` accepts both copies with the station's verifier key.
 */
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ed25519Signer, formatVerifierKey } from '../../src/proof/index.js';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('archival export through the daemon (e2e, issue 8)', { timeout: 180_000 }, () => {
  it('exports a held case over HTTP to two verified copies that the built verify-export accepts offline', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const media = join(dir, 'media');
    const burner = join(dir, 'burner');
    await mkdir(media);
    await mkdir(burner);
    const cli = async (...args: string[]): Promise<string> => {
      const r = await runCli([...args, '--home', home]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    await cli('init');
    const rec = join(dir, 'rec');
    await cli('simulate', 'recorder', '--out', rec, '--serial', 'ZF-9', '--clips', '1', '--seconds', '1');
    await cli('ingest', rec, '--officer', '0417', '--unit', '一中队', '--no-follow-up');
    const kase = JSON.parse(await cli('cases', 'create', '--number', '厦执-2026-099', '--name', '陈某某投诉案', '--unit', '一中队', '--json')) as { id: string };
    await cli('cases', 'hold', kase.id, '--reason', 'obstruction');
    const users = JSON.parse(await cli('users', 'add', '--name', '档案员', '--role', 'archivist', '--json')) as { token: string };
    const leader = JSON.parse(await cli('users', 'add', '--name', '科长', '--role', 'supervisor', '--json')) as { token: string };

    const d = startCli(['daemon', '--home', home], { CUSTODY_DEVICES_MOUNT_ROOTS: media, CUSTODY_API_PORT: '0', CUSTODY_ARCHIVE_DESTINATION_ROOTS: burner });
    children.push(d);
    let out = '';
    d.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => d.on('exit', (code) => resolve(code)));
    const started = await waitFor(
      'the daemon to start',
      async () =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; api?: string })
          .find((l) => l.msg === 'custody daemon started'),
      30_000,
      20,
    );
    const url = started.api!;
    const auth = { authorization: `Bearer ${users.token}`, 'content-type': 'application/json' };

    // Link every item through the API (as an archivist may), then export.
    const items = (await (await fetch(`${url}/api/v1/evidence?limit=50`, { headers: auth })).json()) as { items: Array<{ id: string }> };
    expect(items.items.length).toBe(4);
    const link = await fetch(`${url}/api/v1/cases/${kase.id}/evidence`, { method: 'POST', headers: auth, body: JSON.stringify({ evidenceIds: items.items.map((i) => i.id) }) });
    expect(link.status, await link.text()).toBe(200);
    // Issue 14: an export is an access — the archivist's request for the case, approved by a supervisor.
    const asked = await fetch(`${url}/api/v1/access-requests`, { method: 'POST', headers: auth, body: JSON.stringify({ caseId: kase.id, reason: '归档' }) });
    expect(asked.status, await asked.clone().text()).toBe(201);
    const request = (await asked.json()) as { id: string };
    const approved = await fetch(`${url}/api/v1/access-requests/${request.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${leader.token}` } });
    expect(approved.status, await approved.text()).toBe(200);
    const res = await fetch(`${url}/api/v1/cases/${kase.id}/exports`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ destinations: [join(burner, 'disc-1'), join(burner, 'disc-2')], maker: '档案员 刘' }),
    });
    // Issue 19: the export runs as a job; its status endpoint says when it ended.
    const jobStarted = await res.text();
    expect(res.status, jobStarted).toBe(202);
    const jobId = (JSON.parse(jobStarted) as { id: string }).id;
    let view: { job: { status: string; result: unknown } };
    for (;;) {
      view = (await (await fetch(`${url}/api/v1/exports/${jobId}`, { headers: auth })).json()) as typeof view;
      if (!['queued', 'running'].includes(view.job.status)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(view.job.status).toBe('done');
    const r = view.job.result as { held: boolean; ok: boolean; seq: number; checkpointSize: number; copies: Array<{ ok: boolean; dir: string }> };
    expect(r.ok).toBe(true);
    expect(r.held).toBe(true);
    // The daemon's CheckpointService signed the checkpoint the copies carry (follow-up
    // jobs may append entries between it and export.created).
    expect(r.checkpointSize).toBeGreaterThan(0);
    expect(r.checkpointSize).toBeLessThan(r.seq);

    d.kill('SIGTERM');
    expect(await exited).toBe(0);

    const key = (await cli('ledger', 'checkpoint', '--verifier-key')).trim();
    for (const c of r.copies) {
      expect(c.ok).toBe(true);
      expect((await readdir(join(c.dir, 'data'))).length).toBe(4);
      const v = await runCli(['verify-export', c.dir, '--key', key, '--json']);
      expect(v.code, v.stdout).toBe(0);
      const rep = JSON.parse(v.stdout) as { custody: { items: number; entries: number; proven: number; checkpoint: { key: string; size: number } } };
      expect(rep.custody).toMatchObject({ items: 4, checkpoint: { key: 'given', size: r.checkpointSize } });
      expect(rep.custody.proven).toBe(rep.custody.entries);
    }
    // A key of the station's name that is not the station's is refused.
    const stranger = formatVerifierKey(ed25519Signer(key.split('+')[0]!, generateKeyPairSync('ed25519').privateKey));
    const bad = await runCli(['verify-export', r.copies[0]!.dir, '--key', stranger]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/CHECKPOINT_INVALID/);
    // Issue 19: the first copy, re-mounted, checked and recorded against the export as the archivist.
    const recorded = await runCli(['verify-export', r.copies[0]!.dir, '--key', key, '--record', '--json', '--home', home], { CUSTODY_TOKEN: users.token });
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(JSON.parse(recorded.stdout)).toMatchObject({ ok: true, recorded: { ok: true, matches: true } });
    // Without a token nothing is recorded.
    const anonymous = await runCli(['verify-export', r.copies[0]!.dir, '--record', '--home', home]);
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/CUSTODY_TOKEN/);
    const lines = (await cli('ledger', 'export')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; actor: string; data: Record<string, unknown> });
    expect(lines.filter((e) => e.type === 'export.verified').map((e) => e.data)).toEqual([expect.objectContaining({ copy: 1, ok: true, matches: true, via: 'cli' })]);
    // The station still verifies, export.created included.
    await cli('verify');
  });
});
