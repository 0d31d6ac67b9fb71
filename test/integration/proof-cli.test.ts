/**
 * `custody ledger checkpoint | proof | consistency` as child processes on a real home,
 * and the auditor's scripts/verify-proof.mjs on what they print (issue 9).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCliFromSource, type CliResult } from '../helpers/cli.js';
import { rewriteHistory } from '../helpers/ledger-attack.js';
import { appendEntries, testVault, type TestVault } from '../helpers/ledger-vault.js';

const AUDIT = fileURLToPath(new URL('../../scripts/verify-proof.mjs', import.meta.url));

type Run = CliResult;

/** Run the CLI from source as a child process, with only this test's home. */
function custody(v: TestVault, ...args: string[]): Promise<Run> {
  return runCliFromSource(['--home', v.home, '--log-level', 'warn', ...args]);
}

/** The auditor's check: plain node, no custody code. */
function audit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [AUDIT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A home set up by `custody init` (config, station key, first entry) plus `entries` more. */
async function home(entries: number, config?: string): Promise<TestVault> {
  const v = await testVault('custody-proof-cli-');
  await mkdir(v.home, { recursive: true });
  if (config !== undefined) await writeFile(join(v.home, 'custody.yaml'), config);
  const init = await custody(v, 'init');
  expect(init.code, init.stderr).toBe(0);
  appendEntries(v.catalog, entries);
  return v;
}

async function save(v: TestVault, name: string, text: string): Promise<string> {
  const file = join(v.dir, name);
  await writeFile(file, text);
  return file;
}

// Each test runs the CLI a dozen times as a child process: give a busy machine room.
describe('custody ledger checkpoint and proof', { timeout: 180_000 }, () => {
  it('prints a signed checkpoint, proves entries against it, and an auditor checks both offline', async () => {
    const v = await home(20);
    const cp = await custody(v, 'ledger', 'checkpoint');
    expect(cp.code, cp.stderr).toBe(0);
    const lines = cp.stdout.split('\n');
    expect(lines[1]).toBe('21');
    expect(lines[3]).toBe('');
    expect(lines[4]).toMatch(/^\u2014 custody\/[0-9a-f]{16} [A-Za-z0-9+/]+=*$/);
    const ckptFile = await save(v, 'saved.checkpoint', cp.stdout);

    const vkey = (await custody(v, 'ledger', 'checkpoint', '--verifier-key')).stdout.trim();
    expect(vkey).toMatch(/^custody\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    const pem = join(v.home, 'keys', 'station.ed25519.pub.pem');
    expect(audit('--key', vkey, 'checkpoint', ckptFile)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK: checkpoint of custody\/\w+: 21 entries/) });
    expect(audit('--key', pem, 'checkpoint', ckptFile).status).toBe(0);

    const again = await custody(v, '--json', 'ledger', 'checkpoint');
    expect(JSON.parse(again.stdout)).toMatchObject({ issued: false, size: 21, verifierKey: vkey, note: cp.stdout });

    const proof = await custody(v, 'ledger', 'proof', '7');
    expect(proof.code, proof.stderr).toBe(0);
    const bundle = JSON.parse(proof.stdout) as Record<string, unknown>;
    expect(bundle).toMatchObject({ format: 'custody-inclusion-proof/v1', seq: 7, treeSize: 21, checkpoint: cp.stdout });
    const proofFile = await save(v, 'seven.json', proof.stdout);
    expect(audit('--key', vkey, 'inclusion', proofFile)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK: entry 7 \(evidence.wiped, s-5, hash [0-9a-f]{64}\) is in the tree of 21 entries/) });

    // What an auditor must catch: a changed line, a bent path, another key.
    const changed = await save(v, 'changed.json', JSON.stringify({ ...bundle, line: (bundle.line as string).replace('s-5', 's-6'), leafHash: undefined }));
    expect(audit('--key', vkey, 'inclusion', changed)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL: the leaf hash is not the hash of the line/) });
    const bent = await save(v, 'bent.json', JSON.stringify({ ...bundle, proof: [...(bundle.proof as string[])].reverse() }));
    expect(audit('--key', vkey, 'inclusion', bent).status).toBe(1);
    const otherKey = vkey.replace(/\+[0-9a-f]{8}\+.*$/, '') + '+00000000+' + Buffer.concat([Buffer.from([1]), Buffer.alloc(32, 7)]).toString('base64');
    expect(audit('--key', otherKey, 'inclusion', proofFile).status).toBe(2); // a key whose ID does not match is a usage error

    // A newer entry than the latest checkpoint: a checkpoint covering it is signed first.
    appendEntries(v.catalog, 3);
    const newer = JSON.parse((await custody(v, '--json', 'ledger', 'proof', '23')).stdout) as Record<string, unknown>;
    expect(newer).toMatchObject({ seq: 23, treeSize: 24 });
    // And against an earlier checkpoint, on request.
    expect(JSON.parse((await custody(v, '--json', 'ledger', 'proof', '7', '--size', '21')).stdout)).toMatchObject({ treeSize: 21, checkpoint: cp.stdout });

    const usage = await custody(v, 'ledger', 'proof', '0');
    expect(usage.code).toBe(2);
    expect((await custody(v, 'ledger', 'proof', '99')).code).toBe(1);
  });

  it('an export of the ledger is exactly what a checkpoint signed (root check offline)', async () => {
    const v = await home(9);
    const cp = await save(v, 'c.checkpoint', (await custody(v, 'ledger', 'checkpoint')).stdout);
    appendEntries(v.catalog, 4);
    const exportFile = join(v.dir, 'ledger.jsonl');
    expect((await custody(v, 'ledger', 'export', '--out', exportFile)).code).toBe(0);
    const pem = join(v.home, 'keys', 'station.ed25519.pub.pem');
    expect(audit('--key', pem, 'root', exportFile, cp)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK: the export's first 10 lines are exactly/) });
    const text = await readFile(exportFile, 'utf8');
    await writeFile(exportFile, text.replace('"s-2"', '"s-X"'));
    expect(audit('--key', pem, 'root', exportFile, cp)).toMatchObject({ status: 1, stdout: expect.stringMatching(/do not hash to the signed root/) });
  });
});

describe('custody ledger consistency', { timeout: 180_000 }, () => {
  it('passes while the ledger grows, and fails with the reason once history is rewritten', async () => {
    const v = await home(12);
    const saved = await save(v, 'saved.checkpoint', (await custody(v, 'ledger', 'checkpoint')).stdout);
    appendEntries(v.catalog, 6);
    expect((await custody(v, 'ledger', 'checkpoint')).code).toBe(0);

    const ok = await custody(v, '--json', 'ledger', 'consistency', '--from', saved);
    expect(ok.code, ok.stderr).toBe(0);
    const out = JSON.parse(ok.stdout) as { ok: boolean; ledger: { size: number }; from: { size1: number; size2: number }; bundle: unknown };
    expect(out).toMatchObject({ ok: true, ledger: { size: 19 }, from: { ok: true, size1: 13, size2: 19 } });
    const bundleFile = await save(v, 'consistency.json', ok.stdout);
    const vkey = (await custody(v, 'ledger', 'checkpoint', '--verifier-key')).stdout.trim();
    expect(audit('--key', vkey, 'consistency', bundleFile)).toMatchObject({ status: 0, stdout: 'OK: the tree of 19 entries extends the tree of 13 entries (' + vkey.split('+')[0] + ')\n' });

    // The attacker: change entry 4 and recompute every later hash.
    rewriteHistory(v.catalog, 4, (e) => {
      e.subject = 'nobody';
    });
    const verify = await custody(v, 'verify');
    expect(verify.code, 'custody verify alone cannot see a consistent rewrite').toBe(0);

    const bad = await custody(v, 'ledger', 'consistency', '--from', saved);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/NOT consistent/);
    expect(bad.stderr).toMatch(/^custody: ledger consistency: LEDGER_INCONSISTENT: the ledger's first 13 entries no longer hash to the checkpoint's root .*history was rewritten/);

    const refused = await custody(v, 'ledger', 'checkpoint');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/history was rewritten/);
  });

  it('refuses a saved checkpoint with a tampered signature, or signed by another key', async () => {
    const v = await home(5);
    const note = (await custody(v, 'ledger', 'checkpoint')).stdout;
    const sig = note.trimEnd().split(' ').pop()!;
    const raw = Buffer.from(sig, 'base64');
    raw[20]! ^= 1;
    const tampered = await save(v, 'tampered.checkpoint', note.replace(sig, raw.toString('base64')));
    const r = await custody(v, 'ledger', 'consistency', '--from', tampered);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NOTE_BAD_SIGNATURE: .*does not verify/);

    // A station that lost its key and made a new one: the old checkpoints are by an unknown key.
    const other = await home(5);
    const foreign = await save(v, 'foreign.checkpoint', (await custody(other, 'ledger', 'checkpoint')).stdout);
    const u = await custody(v, 'ledger', 'consistency', '--from', foreign);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/NOTE_UNKNOWN_KEY/);

    // With the auditor's own copy of the key given explicitly.
    const pem = join(v.home, 'keys', 'station.ed25519.pub.pem');
    const good = await save(v, 'good.checkpoint', note);
    expect((await custody(v, 'ledger', 'consistency', '--from', good, '--key', pem)).code).toBe(0);
    expect((await custody(v, 'ledger', 'consistency', '--from', good, '--key', join(other.home, 'keys', 'station.ed25519.pub.pem'))).code).toBe(1);
    expect((await custody(v, 'ledger', 'consistency')).code).toBe(2);
  });

  it('hands checkpoints to witness folders and checks the ledger against them', async () => {
    // The witness lives outside the station's home (here: in another test folder).
    const elsewhere = await testVault('custody-witness-');
    const witness = join(elsewhere.dir, 'witness');
    await mkdir(witness);
    const w = await home(8, `checkpoints:\n  witnesses: [${witness}]\n`);
    const first = await custody(w, '--json', 'ledger', 'checkpoint');
    expect(JSON.parse(first.stdout)).toMatchObject({ issued: true, witnesses: [{ dir: witness, ok: true, wrote: true }] });
    expect((await custody(w, 'ledger', 'consistency', '--witnesses')).stdout).toMatch(/^Consistent: the ledger \(9 entries\) extends 1 witness checkpoint/);

    // Rewrite, and remove the vault's own checkpoints: the witness still refuses it.
    rewriteHistory(w.catalog, 2, (e) => {
      e.data = {};
    });
    await rm(join(w.home, 'vault', 'ledger'), { recursive: true });
    appendEntries(w.catalog, 1);
    const refused = await custody(w, 'ledger', 'checkpoint');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/does not extend witness .*history was rewritten/);
    const check = await custody(w, 'ledger', 'consistency', '--witnesses');
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/LEDGER_INCONSISTENT/);
  });

  it('custody verify holds the ledger against every witness copy it can reach', async () => {
    const elsewhere = await testVault('custody-witness-');
    const witness = join(elsewhere.dir, 'witness');
    const gone = join(elsewhere.dir, 'unmounted-share');
    await mkdir(witness);
    const w = await home(6, `checkpoints:\n  witnesses: [${witness}]\n`);
    expect((await custody(w, 'ledger', 'checkpoint')).code).toBe(0);
    const clean = await custody(w, '--json', 'verify');
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, witnesses: [{ dir: witness, reachable: true, ok: true, size: 7 }] });

    // The attacker rewrites an old entry and recomputes every later hash: the chain
    // checks pass, the witness copy does not. An unreachable witness is only reported.
    rewriteHistory(w.catalog, 3, (e) => {
      e.data = { forged: true };
    });
    await writeFile(join(w.home, 'custody.yaml'), `checkpoints:\n  witnesses: [${witness}, ${gone}]\n`);
    const caught = await custody(w, '--json', 'verify');
    expect(caught.code).toBe(1);
    const out = JSON.parse(caught.stdout) as { ok: boolean; problems: Array<{ code: string; key?: string }>; witnesses: Array<{ dir: string; reachable: boolean }> };
    expect(out.ok).toBe(false);
    expect(out.problems).toEqual([expect.objectContaining({ key: witness })]);
    expect(out.witnesses.find((x) => x.dir === gone)).toMatchObject({ reachable: false });
    expect(caught.stderr).toMatch(/does not extend witness/);
  });
});
