/**
 * Issue 19 (the console's ledger page): the latest checkpoint read (size, root, the
 * entry it ends at, signers, witnesses), the whole ledger as one download that the
 * outsider's script accepts, and the station's verifier key — for ledger readers only.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { CheckpointService, loadStationSigner, witnessesFor } from '../../src/proof/index.js';
import { ensureStationKey } from '../../src/vault/index.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/verify-ledger-export.mjs', import.meta.url));

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('the ledger page routes (issue 19)', { timeout: 60_000 }, () => {
  it('summarises the latest checkpoint, serves the whole ledger and the verifier key, which check out without custody', async () => {
    const r = await apiRig({ CUSTODY_CHECKPOINTS_WITNESSES: 'witness-a' });
    rig = r;
    await ensureStationKey(r.home);
    await mkdir(join(r.home, 'witness-a'));
    await r.seed();
    await r.seed();
    const auditor = r.user('审计员', 'auditor');
    const operator = r.user('操作员', 'operator');

    // Before any checkpoint: none, and the ledger's head.
    const before = body<{ checkpoint: unknown; head: { seq: number }; witnesses: Array<{ name: string; size: number | null }> }>(await r.call(auditor.token, { url: '/api/v1/ledger/checkpoint/summary' }));
    expect(before.checkpoint).toBeNull();
    expect(before.witnesses).toEqual([{ name: 'witness-a', reachable: true, size: null }]);

    // A checkpoint signed with the station key and handed to the witness, as the daemon does.
    const signer = await loadStationSigner(r.home, '');
    await new CheckpointService({ catalog: r.catalog, store: r.store, signer, witnesses: witnessesFor(['witness-a'], r.home, signer.name), log: silentLogger, intervalSeconds: 0 }).issueIfGrown();
    const s = body<{ checkpoint: { origin: string; size: number; root: string; signers: string[]; lastEntry: { seq: number; hash: string } }; head: { seq: number; hash: string }; witnesses: Array<{ size: number | null }> }>(
      await r.call(auditor.token, { url: '/api/v1/ledger/checkpoint/summary' }),
    );
    expect(s.checkpoint.size).toBe(s.head.seq);
    expect(s.checkpoint.lastEntry).toEqual({ seq: s.head.seq, time: expect.any(String), hash: s.head.hash });
    expect(s.checkpoint.root).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(s.checkpoint.signers).toEqual([s.checkpoint.origin]);
    expect(s.witnesses[0]!.size).toBe(s.checkpoint.size);

    const exp = await r.call(auditor.token, { url: '/api/v1/ledger/export' });
    expect(exp.statusCode).toBe(200);
    expect(exp.headers['content-type']).toMatch(/^application\/jsonl/);
    expect(exp.headers['content-disposition']).toMatch(/^attachment; filename="custody-ledger-\d{4}-\d{2}-\d{2}\.jsonl"$/);
    const lines = exp.body.trimEnd().split('\n');
    expect(lines).toHaveLength(s.head.seq);
    const file = join(r.dir, 'ledger.jsonl');
    await writeFile(file, exp.body);
    // The outsider's check, with the head hash read from the page.
    const ok = await run(process.execPath, [SCRIPT, file, '--head', s.head.hash]);
    expect(ok.stdout).toMatch(/^OK: \d+ entries/);
    await writeFile(file, exp.body.replace('"seq":2', '"seq":3'));
    await expect(run(process.execPath, [SCRIPT, file])).rejects.toMatchObject({ code: 1 });

    const key = await r.call(auditor.token, { url: '/api/v1/ledger/verifier-key' });
    expect(key.statusCode).toBe(200);
    expect(key.body.trim()).toMatch(new RegExp(`^${s.checkpoint.origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/=]+$`));

    // Ledger readers only.
    for (const url of ['/api/v1/ledger/checkpoint/summary', '/api/v1/ledger/export', '/api/v1/ledger/verifier-key']) {
      expect((await r.call(operator.token, { url })).statusCode).toBe(403);
      expect((await r.call(null, { url })).statusCode).toBe(401);
    }
  });

  it('says a verification the station stopped in was interrupted, until the next one is recorded', async () => {
    const r = await apiRig();
    rig = r;
    const auditor = r.user('审计员', 'auditor');
    // As a run left it when the station stopped before recording it.
    r.catalog.setMeta('api.verify.running', JSON.stringify({ deep: true, startedAt: '2026-12-02T01:00:00Z', startedBy: `user:${auditor.id}` }));
    expect(body(await r.call(auditor.token, { url: '/api/v1/ledger/verify' }))).toEqual({
      running: null,
      last: null,
      interrupted: { deep: true, startedAt: '2026-12-02T01:00:00Z', startedBy: `user:${auditor.id}` },
    });
    expect((await r.call(auditor.token, { method: 'POST', url: '/api/v1/ledger/verify', payload: {} })).statusCode).toBe(202);
    await r.server.context.verify.settled();
    const after = body<{ interrupted: unknown; last: { ok: boolean } }>(await r.call(auditor.token, { url: '/api/v1/ledger/verify' }));
    expect(after.interrupted).toBeNull();
    expect(after.last.ok).toBe(true);
  });
});
