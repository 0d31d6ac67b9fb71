import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { exportLedger } from '../../src/ledger/index.js';
import { LedgerSealer, SEGMENT_PREFIX } from '../../src/ledger/index.js';
import { canonicalLine, entryHash, type LedgerEntry } from '../../src/ledger/index.js';
import { appendEntries, ingest, testVault, type TestVault } from '../helpers/ledger-vault.js';

/** The auditor's standalone verifier, run as an auditor would: plain node, no custody code. */
const SCRIPT = fileURLToPath(new URL('../../scripts/verify-ledger-export.mjs', import.meta.url));

function audit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function exportTo(v: TestVault, name: string, range: { from?: number; to?: number } = {}): Promise<{ file: string; lastHash: string | null }> {
  const file = join(v.dir, name);
  const out = createWriteStream(file, { flags: 'wx' });
  const r = await exportLedger({ ledger: v.catalog.ledger, out, ...range });
  out.end();
  await finished(out);
  return { file, lastHash: r.lastHash };
}

async function editLine(file: string, index: number, edit: (e: LedgerEntry) => string | null): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const replaced = edit(JSON.parse(lines[index]!) as LedgerEntry);
  if (replaced === null) lines.splice(index, 1);
  else lines[index] = replaced;
  await writeFile(file, lines.join('\n'));
}

async function ledger(): Promise<TestVault> {
  const v = await testVault('custody-audit-');
  appendEntries(v.catalog, 30);
  await ingest(v, 'footage', 'ev-1');
  v.catalog.ledger.append({ type: 'evidence.wiped', actor: 'test', subject: 'ev-1', data: { 说明: '执法记录仪', n: 1.5e-7 } });
  return v;
}

describe('scripts/verify-ledger-export.mjs (the auditor’s verifier)', () => {
  it('accepts an untouched export and prints its last hash', async () => {
    const v = await ledger();
    const { file, lastHash } = await exportTo(v, 'ledger.jsonl');
    const r = audit(file, '--head', lastHash!);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`OK: 32 entries, seq 1..32, chained from the genesis; last hash ${lastHash}\n`);
    expect(r.status).toBe(0);
  });

  it('accepts a partial export anchored with --prev', async () => {
    const v = await ledger();
    const { file } = await exportTo(v, 'part.jsonl', { from: 11, to: 20 });
    const prev = v.catalog.ledger.get(10)!.hash;
    expect(audit(file, '--prev', prev)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK: 10 entries, seq 11..20, chained from the --prev given/) });
    expect(audit(file, '--prev', 'a'.repeat(64))).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL line 1: prev/) });
  });

  it('names the line of an edited entry', async () => {
    const v = await ledger();
    const { file } = await exportTo(v, 'ledger.jsonl');
    await editLine(file, 31, (e) => canonicalLine({ ...e, data: { ...e.data, n: 2 } }));
    const r = audit(file);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FAIL line 32 \(expected seq 32\): hash [0-9a-f]{64} does not match the entry/);
  });

  it('names the link broken by an edited and re-hashed entry', async () => {
    const v = await ledger();
    const { file } = await exportTo(v, 'ledger.jsonl');
    await editLine(file, 4, (e) => {
      const forged = { ...e, actor: 'forger' };
      return canonicalLine({ ...forged, hash: entryHash(forged) });
    });
    const r = audit(file);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FAIL line 6 \(expected seq 6\): prev [0-9a-f]{64} is not the hash of entry 5/);
  });

  it('names a deleted entry, a non-canonical line, a truncated file and a wrong head', async () => {
    const v = await ledger();
    const { file } = await exportTo(v, 'deleted.jsonl');
    await editLine(file, 9, () => null);
    expect(audit(file)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL line 10 \(expected seq 10\): seq 11 follows 9/) });

    const spaced = await exportTo(v, 'spaced.jsonl');
    await editLine(spaced.file, 2, (e) => JSON.stringify(e, null, 1).replace(/\n/g, ''));
    expect(audit(spaced.file)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL line 3 .*not the canonical/) });

    const cut = await exportTo(v, 'cut.jsonl');
    const text = await readFile(cut.file, 'utf8');
    await writeFile(cut.file, text.slice(0, -30));
    expect(audit(cut.file)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL line 32 .*ends without a newline/) });

    const whole = await exportTo(v, 'whole.jsonl');
    expect(audit(whole.file, '--head', 'b'.repeat(64))).toMatchObject({ status: 1, stdout: expect.stringMatching(/^FAIL: the last entry \(seq 32\)/) });
  });

  it('accepts the sealed segment objects concatenated in key order', async () => {
    const v = await ledger();
    await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true });
    const parts: Buffer[] = [];
    for await (const o of v.store.list(SEGMENT_PREFIX)) parts.push(await readFile(v.store.filePath(o.key)));
    expect(parts).toHaveLength(4);
    const file = join(v.dir, 'sealed.jsonl');
    await writeFile(file, Buffer.concat(parts));
    expect(audit(file, '--head', v.catalog.ledger.head()!.hash)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK: 32 entries, seq 1..32/) });
  });

  it('exits 2 on bad usage', async () => {
    expect(audit().status).toBe(2);
    expect(audit('x.jsonl', '--head', 'nothex').status).toBe(2);
  });
});
