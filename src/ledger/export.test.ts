import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/index.js';
import { appendEntries, collect, testVault } from '../../test/helpers/ledger-vault.js';
import { exportLedger } from './export.js';
import { canonicalLine } from './ledger.js';
import { LedgerSealer, segmentKey } from './segments.js';

describe('exportLedger', () => {
  it('writes every entry as its canonical line and a newline, and reports what it wrote', async () => {
    const v = await testVault();
    const entries = appendEntries(v.catalog, 7);
    const { out, text } = collect();
    const r = await exportLedger({ ledger: v.catalog.ledger, out });
    const expected = entries.map((e) => canonicalLine(e) + '\n').join('');
    expect(text()).toBe(expected);
    expect(r).toEqual({
      entries: 7,
      first: 1,
      last: 7,
      lastHash: entries[6]!.hash,
      bytes: Buffer.byteLength(expected),
      sha256: createHash('sha256').update(expected).digest('hex'),
    });
  });

  it('writes only from..to, inclusive', async () => {
    const v = await testVault();
    const entries = appendEntries(v.catalog, 10);
    const { out, text } = collect();
    const r = await exportLedger({ ledger: v.catalog.ledger, from: 4, to: 6, out });
    expect(text().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([4, 5, 6]);
    expect(text()).toBe(entries.slice(3, 6).map((e) => canonicalLine(e) + '\n').join(''));
    expect(r).toMatchObject({ entries: 3, first: 4, last: 6 });

    const empty = collect();
    expect(await exportLedger({ ledger: v.catalog.ledger, from: 11, out: empty.out })).toMatchObject({ entries: 0, first: null, last: null, bytes: 0 });
    expect(empty.text()).toBe('');
  });

  it('produces the same bytes as the sealed segment of the same range', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 20);
    await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal();
    const { out, text } = collect();
    await exportLedger({ ledger: v.catalog.ledger, from: 11, to: 20, out });
    expect(text()).toBe(await readFile(v.store.filePath(segmentKey(11, 20)), 'utf8'));
  });

  it('waits for a slow reader instead of buffering the whole ledger', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 3000);
    const { out, text } = collect(1024);
    let maxBuffered = 0;
    const write = out.write.bind(out);
    out.write = ((chunk: Buffer, ...rest: never[]) => {
      const ok = write(chunk, ...rest);
      maxBuffered = Math.max(maxBuffered, out.writableLength);
      return ok;
    }) as typeof out.write;
    const r = await exportLedger({ ledger: v.catalog.ledger, out });
    expect(r.entries).toBe(3000);
    expect(text().split('\n')).toHaveLength(3001);
    // One chunk (about 64 KiB) at most is ever waiting in the stream.
    expect(maxBuffered).toBeLessThan(200 * 1024);
    expect(r.bytes).toBeGreaterThan(500 * 1024);
  });

  it('refuses a range that is not one', async () => {
    const v = await testVault();
    const { out } = collect();
    await expect(exportLedger({ ledger: v.catalog.ledger, from: 0, out })).rejects.toMatchObject({ code: 'LEDGER_BAD_RANGE' });
    await expect(exportLedger({ ledger: v.catalog.ledger, from: 5, to: 4, out })).rejects.toMatchObject({ code: 'LEDGER_BAD_RANGE' });
  });
});
