/**
 * The main job against S3-compatible storage: the built CLI ingests a simulated
 * recorder into a bucket on s3rver (started on a loopback port), follow-up media
 * analysis reads the objects back from the bucket, and a deep verify re-hashes them.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { tempDir } from '../helpers/tmp.js';

let s3: S3rver;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3.stop();
});

/** The environment that makes the CLI's vault a bucket on the test's s3rver. */
function vaultEnv(bucket: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    CUSTODY_VAULT_KIND: 's3',
    CUSTODY_VAULT_S3_ENDPOINT: s3.endpoint,
    CUSTODY_VAULT_S3_BUCKET: bucket,
    CUSTODY_VAULT_S3_PROFILE: 's3rver',
    CUSTODY_VAULT_S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
    CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
    ...more,
  };
}

describe('ingest into an S3 vault', () => {
  it('stores, analyses and verifies every item through the CLI', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const bucket = await s3.createBucket('ingest');
    const env = vaultEnv(bucket, { CUSTODY_VAULT_S3_PREFIX: 'station-1/', CUSTODY_VAULT_S3_PART_SIZE_MB: '5' });
    const init = await runCli(['init', '--home', home, '--json'], env);
    expect(init.stderr).toBe('');
    expect(JSON.parse(init.stdout)).toMatchObject({ vault: { kind: 's3', location: `s3://${bucket}/station-1/` } });
    const rec = join(dir, 'rec');
    const sim = await runCli(['simulate', 'recorder', '--out', rec, '--serial', 'S3REC', '--clips', '2', '--seconds', '2', '--home', home], env);
    expect(sim.code).toBe(0);
    const ing = await runCli(['ingest', rec, '--home', home, '--json'], env);
    // Nothing on stderr but, on a machine with no ffmpeg of its own, the warning that the
    // bundled build is old (src/media/binaries.ts): it depends on the machine, not on S3.
    const problems = ing.stderr.split('\n').filter((l) => l !== '' && !/"msg":"the bundled ff(mpeg|probe) \(@ff(mpeg|probe)-installer\/ff(mpeg|probe)\) is a static build of /.test(l));
    expect(problems).toEqual([]);
    expect(ing.code).toBe(0);
    expect(JSON.parse(ing.stdout)).toMatchObject({ ingested: 5, failed: 0 });
    const ver = await runCli(['verify', '--deep', '--json', '--home', home], env);
    expect(JSON.parse(ver.stdout)).toMatchObject({ ok: true, objects: 5, problems: [] });
    expect(ver.code).toBe(0);
    const exp = await runCli(['ledger', 'export', '--home', home], env);
    const types = exp.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types.filter((t) => t === 'evidence.analysed')).toHaveLength(5);
  });

  it('keeps the verification when the vault cannot be listed: says why the unclaimed objects are not counted, and exits 1', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const bucket = await s3.createBucket('nolist');
    const env = vaultEnv(bucket);
    expect((await runCli(['init', '--home', home], env)).code).toBe(0);
    const rec = join(dir, 'rec');
    expect((await runCli(['simulate', 'recorder', '--out', rec, '--serial', 'S3LIST', '--clips', '1', '--seconds', '1', '--home', home], env)).code).toBe(0);
    const ing = await runCli(['ingest', rec, '--no-follow-up', '--home', home, '--json'], env);
    expect(ing.code).toBe(0);
    const ingested = (JSON.parse(ing.stdout) as { ingested: number }).ingested;

    // The bucket as a policy that grants reading objects and listing the ledger's
    // segments, but not listing the footage, shows it: S3's own refusal, from a proxy.
    const upstream = new URL(s3.endpoint);
    const proxy: Server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://proxy');
      if (req.method === 'GET' && url.searchParams.get('list-type') === '2' && (url.searchParams.get('prefix') ?? '').startsWith('objects/')) {
        req.resume();
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>');
        return;
      }
      const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const through = { ...env, CUSTODY_VAULT_S3_ENDPOINT: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
      const json = await runCli(['verify', '--unclaimed', '--json', '--home', home], through);
      expect(json.code).toBe(1);
      const out = JSON.parse(json.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({ ok: true, objects: ingested, problems: [], unclaimed: null });
      expect(out.unclaimedError).toMatch(/list/i);
      expect(json.stderr).toMatch(/^custody: the vault verifies, but its objects could not be listed against the ledger: .+\n$/);

      const text = await runCli(['verify', '--unclaimed', '--home', home], through);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/objects: +\d+ referenced/);
      expect(text.stdout).toMatch(/unclaimed: not counted \(the vault's objects could not be listed: .+\)/);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});

