import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

interface Item {
  id: string;
  sha256: string;
  size: number;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/**
 * The built CLI: `custody users` creates users, `custody serve` serves the API on a
 * free port and prints where, an operator gets footage only through an approved
 * request, and SIGTERM stops it cleanly with the ledger sealed and verifiable.
 */
describe('custody serve and custody users (e2e, issue 5)', () => {
  it('serves the API from the built CLI until SIGTERM, then exits 0 with a verifiable vault', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);

    const rec = join(dir, 'rec');
    const files = await writeTree(rec, { 'DCIM/ZFY001_20261120083000_0001.MP4': 300_000, 'RECORD/REC_0002.WAV': 4000 });
    const ingest = await runCli(['ingest', rec, '--serial', 'ZFY001', '--officer', '0417', '--unit', 'U1', '--no-follow-up', '--json', '--home', home]);
    expect(ingest.code, ingest.stderr).toBe(0);

    const add = async (args: string[]): Promise<{ id: string; token: string }> => {
      const res = await runCli(['users', 'add', ...args, '--json', '--home', home]);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as { id: string; token: string };
    };
    const op = await add(['--name', 'Operator Wang', '--role', 'operator', '--unit', 'U1']);
    const sup = await add(['--name', 'Supervisor Li', '--role', 'supervisor', '--unit', 'U1']);
    const auditor = await add(['--name', 'Auditor Chen', '--role', 'auditor']);
    const gone = await add(['--name', 'Leaver', '--role', 'operator', '--expires-days', '0']);
    expect(op.token).toMatch(/^cst_[A-Za-z0-9_-]{43}$/);
    expect((await runCli(['users', 'add', '--name', 'X', '--role', 'chief', '--home', home])).code).toBe(2);
    const revoke = await runCli(['users', 'revoke', gone.id, '--json', '--home', home]);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ id: gone.id, revoked: true, changed: true });
    const list = JSON.parse((await runCli(['users', 'list', '--all', '--json', '--home', home])).stdout) as { users: Record<string, unknown>[] };
    expect(list.users.map((u) => [u.name, u.role, u.unit, u.revokedAt !== null])).toEqual([
      ['Operator Wang', 'operator', 'U1', false],
      ['Supervisor Li', 'supervisor', 'U1', false],
      ['Auditor Chen', 'auditor', null, false],
      ['Leaver', 'operator', null, true],
    ]);
    expect(JSON.stringify(list)).not.toContain(op.token);

    const child = startCli(['serve', '--port', '0', '--json', '--home', home]);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const line = await waitFor('the listening address', async () => (stdout.includes('\n') ? stdout.split('\n')[0] : null), 30_000, 20);
      const started = JSON.parse(line) as { listening: { host: string; port: number }; url: string };
      expect(started.listening.host).toBe('127.0.0.1');
      expect(started.listening.port).toBeGreaterThan(0);
      const base = started.url;
      const auth = (t: string) => ({ authorization: `Bearer ${t}` });

      expect(await json(await fetch(`${base}/readyz`))).toEqual({ status: 'ready', catalog: true, vault: true });
      expect((await fetch(`${base}/api/v1/evidence`, { headers: auth(gone.token) })).status).toBe(401);

      const search = await json<{ items: Item[] }>(await fetch(`${base}/api/v1/evidence?officer=0417&type=video`, { headers: auth(op.token) }));
      expect(search.items).toHaveLength(1);
      const clip = search.items[0]!;
      expect(clip.size).toBe(300_000);

      expect((await fetch(`${base}/api/v1/evidence/${clip.id}/content`, { headers: auth(op.token) })).status).toBe(403);
      const created = await fetch(`${base}/api/v1/access-requests`, {
        method: 'POST',
        headers: { ...auth(op.token), 'content-type': 'application/json' },
        body: JSON.stringify({ evidenceIds: [clip.id], reason: 'complaint 117' }),
      });
      expect(created.status).toBe(201);
      const { id } = await json<{ id: string }>(created);
      const approved = await fetch(`${base}/api/v1/access-requests/${id}/approve`, { method: 'POST', headers: auth(sup.token) });
      expect(approved.status).toBe(200);

      const part = await fetch(`${base}/api/v1/evidence/${clip.id}/content`, { headers: { ...auth(op.token), range: 'bytes=100000-100099' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 100000-100099/300000');
      const original = files['DCIM/ZFY001_20261120083000_0001.MP4']!;
      expect(Buffer.from(await part.arrayBuffer()).equals(original.subarray(100_000, 100_100))).toBe(true);
      const whole = await fetch(`${base}/api/v1/evidence/${clip.id}/content`, { headers: auth(op.token) });
      expect(Buffer.from(await whole.arrayBuffer()).equals(original)).toBe(true);

      const ledger = await json<{ entries: { type: string; data: Record<string, unknown> }[] }>(await fetch(`${base}/api/v1/ledger?type=access.viewed`, { headers: auth(auditor.token) }));
      expect(ledger.entries.map((e) => e.data.range)).toEqual([{ start: 100_000, end: 100_099 }, null]);

      const docs = await fetch(`${base}/docs`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toMatch(/swagger-ui/i);
    } finally {
      child.kill('SIGTERM');
    }
    const { code, signal } = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stderr).not.toMatch(/"level":(50|60)/);

    // The serve process sealed what it ledgered: the vault alone verifies.
    const verify = await runCli(['verify', '--json', '--home', home]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, unsealed: 0 });
    const catalogFile = await readFile(join(home, 'catalog.db'));
    for (const t of [op.token, sup.token, auditor.token]) expect(catalogFile.includes(Buffer.from(t))).toBe(false);
  });
});
