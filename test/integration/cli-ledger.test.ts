import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliFromSource, type CliResult } from '../helpers/cli.js';
import { canonicalLine } from '../../src/ledger/index.js';
import { appendEntries, dropLedgerTriggers, ingest, testVault, type TestVault } from '../helpers/ledger-vault.js';


type Run = CliResult;

/** Run the CLI from source as a child process, with only this test's home. */
function custody(v: TestVault, ...args: string[]): Promise<Run> {
  return runCliFromSource(['--home', v.home, '--log-level', 'warn', ...args]);
}

/** A home the CLI can open: catalog and default fs vault under it. The catalog is closed so the CLI is its only user. */
async function home(entries = 12): Promise<TestVault> {
  const v = await testVault('custody-cli-');
  appendEntries(v.catalog, entries);
  await ingest(v, 'footage', 'ev-1');
  return v;
}

describe('custody verify', () => {
  it('exits 0 on an intact vault; --json prints ok, entries, objects, problems', async () => {
    const v = await home();
    const r = await custody(v, '--json', 'verify', '--deep');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out).slice(0, 4)).toEqual(['ok', 'entries', 'objects', 'problems']);
    expect(out).toMatchObject({ ok: true, entries: 13, objects: 1, problems: [], deep: true });
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a terminal
  });

  it('exits 1 and names the first problem on stderr', async () => {
    const v = await home();
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare(`UPDATE ledger SET subject = 'other' WHERE seq = 4`).run();
    const json = await custody(v, '--json', 'verify');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ code: 'LEDGER_HASH_MISMATCH', seq: 4 }] });
    expect(json.stderr).toMatch(/^custody: vault does not verify: LEDGER_HASH_MISMATCH \(seq 4\)/);

    const human = await custody(v, 'verify');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/Vault NOT intact/);
    expect(human.stderr).toMatch(/LEDGER_HASH_MISMATCH \(seq 4\)/);
  });
});

describe('custody ledger', () => {
  it('seals the tail, exports a range to a file, and refuses to overwrite it', async () => {
    const v = await home();
    const seal = await custody(v, '--json', 'ledger', 'seal');
    expect(seal.code).toBe(0);
    expect(JSON.parse(seal.stdout)).toMatchObject({ sealed: [{ firstSeq: 1, lastSeq: 13, key: 'ledger/segments/000000000001-000000000013.jsonl' }] });
    expect(JSON.parse((await custody(v, '--json', 'ledger', 'seal')).stdout)).toEqual({ sealed: [] });

    const file = join(v.dir, 'export.jsonl');
    const exp = await custody(v, '--json', 'ledger', 'export', '--from', '3', '--to', '5', '--out', file);
    expect(exp.code).toBe(0);
    expect(JSON.parse(exp.stdout)).toMatchObject({ file, entries: 3, first: 3, last: 5 });
    const expected = [3, 4, 5].map((s) => canonicalLine(v.catalog.ledger.get(s)!) + '\n').join('');
    expect(await readFile(file, 'utf8')).toBe(expected);

    const again = await custody(v, 'ledger', 'export', '--out', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists/);
  });

  it('exports to stdout when no --out is given', async () => {
    const v = await home(3);
    const r = await custody(v, 'ledger', 'export');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([1, 2, 3, 4].map((s) => canonicalLine(v.catalog.ledger.get(s)!) + '\n').join(''));
  });

  it('rejects bad --from/--to with a usage error (exit 2)', async () => {
    const v = await home(2);
    for (const args of [['--from', 'abc'], ['--from', '0'], ['--to', '-3'], ['--from', '5', '--to', '4'], ['--from', '1.5']]) {
      const r = await custody(v, 'ledger', 'export', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--from|--to/);
      expect(r.stdout).toBe('');
    }
  });

  it('rebuilds a deleted catalog from the vault', async () => {
    const v = await home();
    expect((await custody(v, 'ledger', 'seal')).code).toBe(0);
    const before = (await custody(v, 'ledger', 'export')).stdout;
    v.catalog.close();
    for (const suffix of ['', '-wal', '-shm']) await rm(v.catalogFile + suffix, { force: true });

    const r = await custody(v, '--json', 'ledger', 'rebuild');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mode: 'rebuilt', ok: true, entries: 13, segments: 1 });
    expect((await custody(v, 'ledger', 'export')).stdout).toBe(before);
    expect((await custody(v, 'verify')).code).toBe(0);

    // Run again: the catalog has a ledger now, so it only compares.
    expect(JSON.parse((await custody(v, '--json', 'ledger', 'rebuild')).stdout)).toMatchObject({ mode: 'compared', ok: true });
  });

  it('does not create a catalog for a home whose vault has no segments', async () => {
    const v = await home(1);
    v.catalog.close();
    await rm(v.catalogFile);
    const r = await custody(v, 'ledger', 'rebuild');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no ledger segments/);
    expect(existsSync(v.catalogFile)).toBe(false);
  });
});
