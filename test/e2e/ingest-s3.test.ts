/**
 * The main job against S3-compatible storage: the built CLI ingests a simulated
 * recorder into a bucket on s3rver (started on a loopback port), follow-up media
 * analysis reads the objects back from the bucket, and a deep verify re-hashes them.
 */
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

describe('ingest into an S3 vault', () => {
  it('stores, analyses and verifies every item through the CLI', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const bucket = await s3.createBucket('ingest');
    const env = {
      CUSTODY_VAULT_KIND: 's3',
      CUSTODY_VAULT_S3_ENDPOINT: s3.endpoint,
      CUSTODY_VAULT_S3_BUCKET: bucket,
      CUSTODY_VAULT_S3_PREFIX: 'station-1/',
      CUSTODY_VAULT_S3_PROFILE: 's3rver',
      CUSTODY_VAULT_S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
      CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      CUSTODY_VAULT_S3_PART_SIZE_MB: '5',
    };
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
});
