import { readFile, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { exportLedger } from '../../src/ledger/index.js';
import { canonicalLine, entryHash, type LedgerEntry } from '../../src/ledger/index.js';
import { rebuildLedger } from '../../src/ledger/index.js';
import { LedgerSealer, segmentKey } from '../../src/ledger/index.js';
import { verifyVault } from '../../src/ledger/index.js';
import { appendEntries, collect, dropLedgerTriggers, testVault, type TestVault } from '../helpers/ledger-vault.js';

async function exportAll(v: TestVault): Promise<string> {
  const { out, text } = collect();
  await exportLedger({ ledger: v.catalog.ledger, out });
  return text();
}

async function sealAll(v: TestVault): Promise<void> {
  await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true });
}

/** An evidence.ingested entry with the fields ingest records, for content put in the vault. */
async function ingestLikeIngest(v: TestVault, id: string, content: string): Promise<LedgerEntry> {
  const put = await v.store.putContent(Readable.from([Buffer.from(content)]));
  return v.catalog.ledger.append({
    type: 'evidence.ingested',
    actor: 'ingest',
    subject: id,
    data: {
      sha256: put.sha256,
      size: put.size,
      mediaType: 'video',
      recorder: { serial: 'BWC-0417', model: 'DSJ-T9' },
      officer: '0417',
      unit: 'patrol-2',
      sourcePath: `DCIM/100MEDIA/${id}.MP4`,
      sourceName: `${id}.MP4`,
      sourceMtime: '2026-11-27T06:10:00.123Z',
      recordedStart: '2026-11-27T06:00:00.000Z',
      recordedEnd: null,
      recordedSource: 'filename',
      clockDriftMs: 1200,
      recordedStartCorrected: '2026-11-27T05:59:58.800Z',
      recordedEndCorrected: null,
      ingestedAt: '2026-11-27T07:00:00.000Z',
      sessionId: 'session-1',
    },
  });
}

/** Lose the catalog: close it, delete its files, open a fresh empty one. */
async function loseCatalog(v: TestVault): Promise<void> {
  v.catalog.close();
  for (const suffix of ['', '-wal', '-shm']) await rm(v.catalogFile + suffix, { force: true });
  v.reopen();
  expect(v.catalog.ledger.count()).toBe(0);
}

describe('ledger rebuild from the vault alone', () => {
  it('rebuilds a lost catalog ledger that verifies and exports byte for byte as before', async () => {
    const v = await testVault('custody-rebuild-');
    appendEntries(v.catalog, 12);
    await ingestLikeIngest(v, 'ev-1', 'footage one');
    await ingestLikeIngest(v, 'ev-2', 'footage two');
    v.catalog.ledger.append({ type: 'evidence.wiped', actor: 'ingest', subject: 'ev-1', data: {} });
    appendEntries(v.catalog, 9);
    await sealAll(v);
    const before = await exportAll(v);

    await loseCatalog(v);
    const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(r).toMatchObject({ mode: 'rebuilt', ok: true, entries: 24, segments: 3, problems: [], evidence: { rebuilt: 2, skipped: 0 } });

    expect(await exportAll(v)).toBe(before);
    const verified = await verifyVault({ catalog: v.catalog, store: v.store, deep: true });
    expect(verified.problems).toEqual([]);
    expect(verified).toMatchObject({ ok: true, entries: 24, segments: 3, objects: 2, unsealed: 0 });

    const ev = v.catalog.db.prepare('SELECT id, size, media_type, recorder_serial, source_mtime_ms, wiped_at, status FROM evidence ORDER BY id').all();
    expect(ev).toEqual([
      { id: 'ev-1', size: 11, media_type: 'video', recorder_serial: 'BWC-0417', source_mtime_ms: Date.parse('2026-11-27T06:10:00.123Z'), wiped_at: expect.any(String), status: 'live' },
      { id: 'ev-2', size: 11, media_type: 'video', recorder_serial: 'BWC-0417', source_mtime_ms: Date.parse('2026-11-27T06:10:00.123Z'), wiped_at: null, status: 'live' },
    ]);

    // The rebuilt catalog carries on: new entries chain onto the rebuilt head.
    const next = v.catalog.ledger.append({ type: 'station.initialized', actor: 'test' });
    expect(next.seq).toBe(25);
    expect((await verifyVault({ catalog: v.catalog, store: v.store })).ok).toBe(true);
  });

  it('counts evidence entries it cannot turn into rows instead of guessing', async () => {
    const v = await testVault('custody-rebuild-');
    const put = await v.store.putContent(Readable.from([Buffer.from('x')]));
    v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'ev-1', data: { sha256: put.sha256, size: 1 } });
    await sealAll(v);
    await loseCatalog(v);
    const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(r).toMatchObject({ ok: true, entries: 1, evidence: { rebuilt: 0, skipped: 1 } });
  });

  it('only compares when the catalog has a ledger, and names the first difference', async () => {
    const v = await testVault('custody-rebuild-');
    appendEntries(v.catalog, 25);
    await sealAll(v);
    appendEntries(v.catalog, 2); // unsealed tail: not a difference

    expect(await rebuildLedger({ catalog: v.catalog, store: v.store })).toMatchObject({ mode: 'compared', ok: true, entries: 25, segments: 3 });

    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare(`UPDATE ledger SET actor = 'nobody' WHERE seq = 17`).run();
    const before = await exportAll(v);
    const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(r.mode).toBe('compared');
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'REBUILD_DIFFERS', seq: 17, key: segmentKey(11, 20) })]);
    expect(await exportAll(v)).toBe(before); // nothing written
  });

  it('inserts nothing when a segment does not hold an unbroken chain', async () => {
    const v = await testVault('custody-rebuild-');
    appendEntries(v.catalog, 25);
    await sealAll(v);
    // Forge entry 15 in its segment, keeping the line canonical (the hash no longer fits).
    const key = segmentKey(11, 20);
    const file = v.store.filePath(key);
    const lines = (await readFile(file, 'utf8')).split('\n');
    const e = JSON.parse(lines[4]!) as LedgerEntry;
    lines[4] = canonicalLine({ ...e, actor: 'forger' });
    await writeFile(file, lines.join('\n'));

    await loseCatalog(v);
    const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(r).toMatchObject({ mode: 'rebuilt', ok: false, entries: 0 });
    expect(r.problems).toEqual([expect.objectContaining({ code: 'LEDGER_HASH_MISMATCH', seq: 15, key })]);
    expect(v.catalog.ledger.count()).toBe(0);

    // Re-hashing the forged entry moves the break to the link that follows it.
    lines[4] = canonicalLine({ ...e, actor: 'forger', hash: entryHash({ ...e, actor: 'forger' }) });
    await writeFile(file, lines.join('\n'));
    const again = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(again.problems).toEqual([expect.objectContaining({ code: 'LEDGER_PREV_MISMATCH', seq: 16, key })]);
    expect(v.catalog.ledger.count()).toBe(0);
  });

  it('refuses segments with a gap between them', async () => {
    const v = await testVault('custody-rebuild-');
    appendEntries(v.catalog, 25);
    await sealAll(v);
    await rm(v.store.filePath(segmentKey(11, 20)));
    await loseCatalog(v);
    const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
    expect(r.problems).toEqual([expect.objectContaining({ code: 'SEGMENT_RANGE', seq: 11, key: segmentKey(21, 25) })]);
    expect(v.catalog.ledger.count()).toBe(0);
  });
});
