import { readFile, rm } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/index.js';
import { sha256Hex } from '../core/index.js';
import { appendEntries, capturingLogger, dropLedgerTriggers, testVault, type TestVault } from '../../test/helpers/ledger-vault.js';
import { canonicalLine } from './ledger.js';
import { LedgerSealer, parseEntryLine, parseSegmentKey, segmentKey, type LedgerSealerOptions } from './segments.js';

function sealer(v: TestVault, opts: Partial<LedgerSealerOptions> = {}): LedgerSealer {
  return new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0, ...opts });
}

function segmentRows(v: TestVault): Array<{ first_seq: number; last_seq: number; key: string; sha256: string; size: number }> {
  return v.catalog.db.prepare('SELECT first_seq, last_seq, key, sha256, size FROM ledger_segments ORDER BY first_seq').all() as never;
}

/** What a segment of first..last must hold: the canonical lines, each newline-terminated. */
function expectedBytes(v: TestVault, first: number, last: number): string {
  return [...v.catalog.ledger.entries(first, last)].map((e) => canonicalLine(e) + '\n').join('');
}

describe('segment keys', () => {
  it('zero-pads both seqs to 12 digits so key order is seq order', () => {
    expect(segmentKey(1, 1000)).toBe('ledger/segments/000000000001-000000001000.jsonl');
    expect(parseSegmentKey(segmentKey(1001, 1037))).toEqual({ firstSeq: 1001, lastSeq: 1037 });
    expect(segmentKey(9, 10) < segmentKey(10, 11)).toBe(true);
  });

  it('rejects keys that are not segment keys', () => {
    expect(parseSegmentKey('ledger/segments/1-10.jsonl')).toBeNull();
    expect(parseSegmentKey('ledger/segments/000000000010-000000000001.jsonl')).toBeNull();
    expect(parseSegmentKey('ledger/segments/000000000000-000000000001.jsonl')).toBeNull();
    expect(parseSegmentKey('ledger/segments/000000000001-000000000010.json')).toBeNull();
  });
});

describe('parseEntryLine', () => {
  it('accepts exactly a canonical entry line and nothing looser', async () => {
    const v = await testVault();
    const [e] = appendEntries(v.catalog, 1);
    const line = canonicalLine(e!);
    expect(parseEntryLine(line)).toEqual(e);
    expect(() => parseEntryLine(line.replace('{"actor"', '{ "actor"'))).toThrow(/canonical/);
    expect(() => parseEntryLine(JSON.stringify({ ...e, extra: 1 }))).toThrow(/fields/);
    expect(() => parseEntryLine(line.slice(0, -5))).toThrow(/not JSON/);
  });
});

describe('LedgerSealer', () => {
  it('seals full segments only, then the partial tail when asked, as canonical JSON Lines', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 25);
    const s = sealer(v);

    const full = await s.seal();
    expect(full.map((x) => [x.firstSeq, x.lastSeq])).toEqual([
      [1, 10],
      [11, 20],
    ]);
    const tail = await s.seal({ partial: true });
    expect(tail.map((x) => x.key)).toEqual(['ledger/segments/000000000021-000000000025.jsonl']);

    for (const row of segmentRows(v)) {
      const bytes = await readFile(v.store.filePath(row.key));
      expect(bytes.toString('utf8')).toBe(expectedBytes(v, row.first_seq, row.last_seq));
      expect(row.sha256).toBe(sha256Hex(bytes));
      expect(row.size).toBe(bytes.length);
    }
    expect(await s.seal({ partial: true })).toEqual([]);

    // The next full segment starts right after the partial one.
    appendEntries(v.catalog, 12);
    expect((await s.seal()).map((x) => [x.firstSeq, x.lastSeq])).toEqual([[26, 35]]);
    expect(segmentRows(v).map((r) => r.first_seq)).toEqual([1, 11, 21, 26]);
  });

  it('serialises concurrent seal calls: no segment twice, no gap', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 47);
    const s = sealer(v);
    const results = await Promise.all([s.seal(), s.seal({ partial: true }), s.seal(), s.seal({ partial: true })]);
    const all = results.flat().map((x) => [x.firstSeq, x.lastSeq]);
    expect(all).toEqual([
      [1, 10],
      [11, 20],
      [21, 30],
      [31, 40],
      [41, 47],
    ]);
  });

  it('seals as soon as a segment fills once started, and the tail on stop', async () => {
    const v = await testVault();
    const s = sealer(v, { sealIntervalSeconds: 3600 });
    s.start();
    appendEntries(v.catalog, 9);
    expect(segmentRows(v)).toEqual([]);
    appendEntries(v.catalog, 4); // the 10th entry fills segment 1..10
    await vi.waitFor(() => expect(segmentRows(v).map((r) => r.last_seq)).toEqual([10]));
    await s.stop();
    expect(segmentRows(v).map((r) => [r.first_seq, r.last_seq])).toEqual([
      [1, 10],
      [11, 13],
    ]);
  });

  it('seals the partial tail on its timer', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 3);
    const s = sealer(v, { sealIntervalSeconds: 1 });
    s.start();
    await vi.waitFor(() => expect(segmentRows(v).map((r) => r.last_seq)).toEqual([3]), { timeout: 5000 });
    await s.stop();
  });

  it('logs a failed seal with the error and retries it on the next tick', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 3);
    // Something else already sits at the key the tail would get.
    await v.store.putNamed(segmentKey(1, 3), Buffer.from('not the ledger\n'));
    const { log, lines } = capturingLogger();
    const s = sealer(v, { sealIntervalSeconds: 1, log });
    s.start();
    await vi.waitFor(() => expect(lines.some((l) => l.msg === 'ledger seal failed; will retry')).toBe(true), { timeout: 5000 });
    const logged = lines.find((l) => l.msg === 'ledger seal failed; will retry')!;
    expect(logged.level).toBe(50);
    expect((logged.err as { message: string }).message).toMatch(/000000000001-000000000003/);
    expect(segmentRows(v)).toEqual([]);

    // Remove the obstacle: the next tick seals.
    await rm(v.store.filePath(segmentKey(1, 3)));
    await vi.waitFor(() => expect(segmentRows(v).map((r) => r.last_seq)).toEqual([3]), { timeout: 5000 });
    await s.stop();
  });

  it('adopts a segment object written by a seal that stopped before recording it', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 14);
    await v.store.putNamed(segmentKey(1, 4), Buffer.from(expectedBytes(v, 1, 4)));
    const { log, lines } = capturingLogger();
    const sealed = await sealer(v, { log }).seal();
    expect(sealed.map((x) => [x.firstSeq, x.lastSeq])).toEqual([
      [1, 4],
      [5, 14],
    ]);
    expect(lines.some((l) => l.msg === 'adopted a segment object a previous seal wrote but did not record')).toBe(true);
  });

  it('refuses to seal a broken chain into the vault', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 12);
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare(`UPDATE ledger SET data = '{"i":99}' WHERE seq = 7`).run();
    await expect(sealer(v).seal()).rejects.toMatchObject({ code: 'LEDGER_CHAIN_BROKEN', details: { seq: 7 } });
    expect(segmentRows(v)).toEqual([]);
    const objects = [];
    for await (const o of v.store.list('ledger/')) objects.push(o);
    expect(objects).toEqual([]);
  });
});
