import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { entryHash, type LedgerEntry } from '../../src/ledger/index.js';
import { LedgerSealer, segmentKey } from '../../src/ledger/index.js';
import { verifyVault, type VerifyResult } from '../../src/ledger/index.js';
import { appendEntries, dropLedgerTriggers, ingest, testVault, type TestVault } from '../helpers/ledger-vault.js';

/**
 * Each test tampers with a vault on purpose, as someone holding the disk or the
 * database file could, and checks that verify both detects it and names it: the
 * problem code and the seq or object key where it is.
 */

interface Fixture extends TestVault {
  objects: Array<{ entry: LedgerEntry; sha256: string; size: number; key: string }>;
}

/**
 * 25 entries: 1-5 plain, 6-8 ingest three objects, 9-22 plain; 1-22 sealed in
 * segments 1-10, 11-20, 21-22; 23-25 not yet sealed.
 */
async function fixture(): Promise<Fixture> {
  const v = await testVault('custody-tamper-');
  appendEntries(v.catalog, 5);
  const objects = [
    await ingest(v, 'footage A: officer 0417, 2026-11-27 14:03', 'ev-a'),
    await ingest(v, Buffer.alloc(64 * 1024, 7), 'ev-b'),
    await ingest(v, 'photo C', 'ev-c'),
  ];
  appendEntries(v.catalog, 14);
  await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true });
  appendEntries(v.catalog, 3);
  return Object.assign(v, { objects });
}

function verify(v: TestVault, deep = false): Promise<VerifyResult> {
  return verifyVault({ catalog: v.catalog, store: v.store, deep });
}

function codes(r: VerifyResult): Array<[string, number | undefined, string | undefined]> {
  return r.problems.map((p) => [p.code, p.seq, p.key]);
}

describe('verify detects and names tampering', () => {
  it('a clean vault verifies, shallow and deep', async () => {
    const v = await fixture();
    for (const deep of [false, true]) {
      const r = await verify(v, deep);
      expect(r.problems).toEqual([]);
      expect(r).toMatchObject({ ok: true, entries: 25, objects: 3, segments: 3, unsealed: 3 });
    }
  });

  it('a flipped byte in a stored object (found by --deep)', async () => {
    const v = await fixture();
    const b = v.objects[1]!;
    const file = v.store.filePath(b.key);
    const bytes = await readFile(file);
    bytes[40_000] = bytes[40_000]! ^ 0x01;
    await writeFile(file, bytes);

    // Same size: only re-hashing can tell.
    expect((await verify(v, false)).ok).toBe(true);
    const r = await verify(v, true);
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual([['OBJECT_HASH_MISMATCH', b.entry.seq, b.key]]);
  });

  it("an entry's data edited in SQLite", async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare(`UPDATE ledger SET data = json_set(data, '$.i', 999) WHERE seq = 15`).run();
    const r = await verify(v);
    expect(r.problems[0]).toMatchObject({ code: 'LEDGER_HASH_MISMATCH', seq: 15 });
    expect(codes(r)).toEqual([
      ['LEDGER_HASH_MISMATCH', 15, undefined],
      ['SEGMENT_LINE_MISMATCH', 15, segmentKey(11, 20)],
    ]);
  });

  it('an unsealed entry edited in SQLite', async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare(`UPDATE ledger SET actor = 'someone else' WHERE seq = 24`).run();
    expect(codes(await verify(v))).toEqual([['LEDGER_HASH_MISMATCH', 24, undefined]]);
  });

  it('an evidence entry rewritten to point at other content', async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    const [a, , c] = v.objects;
    v.catalog.db.prepare(`UPDATE ledger SET data = json_set(data, '$.sha256', ?, '$.size', ?) WHERE seq = ?`).run(c!.sha256, c!.size, a!.entry.seq);
    const r = await verify(v);
    expect(r.problems[0]).toMatchObject({ code: 'LEDGER_HASH_MISMATCH', seq: a!.entry.seq });
    expect(codes(r)).toContainEqual(['SEGMENT_LINE_MISMATCH', a!.entry.seq, segmentKey(1, 10)]);
  });

  it('an entry deleted from the middle of the ledger', async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare('DELETE FROM ledger WHERE seq = 12').run();
    const r = await verify(v);
    expect(r.problems[0]).toMatchObject({ code: 'LEDGER_SEQ_GAP', seq: 12 });
    expect(r.problems[0]!.message).toMatch(/entry 12 is missing/);
    expect(codes(r)).toEqual([
      ['LEDGER_SEQ_GAP', 12, undefined],
      ['SEGMENT_LINE_MISMATCH', 12, segmentKey(11, 20)],
    ]);
  });

  it('the newest sealed entries deleted (the chain that is left still links)', async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    v.catalog.db.prepare('DELETE FROM ledger WHERE seq >= 21').run();
    const r = await verify(v);
    // The catalog alone looks whole; its sealed copy proves entries are gone.
    expect(codes(r)).toEqual([['SEGMENT_LINE_MISMATCH', 21, segmentKey(21, 22)]]);
    expect(r.problems[0]!.message).toMatch(/does not have/);
  });

  it("two entries' contents swapped", async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    const db = v.catalog.db;
    db.transaction(() => {
      const row = db.prepare<[number], Record<string, unknown>>('SELECT time, type, actor, subject, data, prev, hash FROM ledger WHERE seq = ?');
      const a = row.get(13)!;
      const b = row.get(14)!;
      const set = db.prepare('UPDATE ledger SET time = @time, type = @type, actor = @actor, subject = @subject, data = @data, prev = @prev, hash = @hash WHERE seq = @seq');
      set.run({ ...a, hash: 'f'.repeat(64), seq: 14 }); // hash is UNIQUE: park one first
      set.run({ ...b, seq: 13 });
      set.run({ ...a, seq: 14 });
    })();
    const r = await verify(v);
    expect(r.problems[0]).toMatchObject({ code: 'LEDGER_HASH_MISMATCH', seq: 13 });
    expect(codes(r)).toEqual([
      ['LEDGER_HASH_MISMATCH', 13, undefined],
      ['LEDGER_HASH_MISMATCH', 14, undefined],
      // 15 still links to the hash 14 had before the swap.
      ['LEDGER_PREV_MISMATCH', 15, undefined],
      ['SEGMENT_LINE_MISMATCH', 13, segmentKey(11, 20)],
    ]);
  });

  it('history rewritten with every later hash recomputed (caught by the sealed segments)', async () => {
    const v = await fixture();
    dropLedgerTriggers(v.catalog);
    const db = v.catalog.db;
    db.transaction(() => {
      const rows = db.prepare<[], { seq: number; time: string; type: string; actor: string; subject: string | null; data: string; prev: string }>(
        'SELECT seq, time, type, actor, subject, data, prev FROM ledger WHERE seq >= 9 ORDER BY seq',
      ).all();
      db.prepare('DELETE FROM ledger WHERE seq >= 9').run();
      let prev = db.prepare<[], { hash: string }>('SELECT hash FROM ledger WHERE seq = 8').get()!.hash;
      for (const r of rows) {
        const data = JSON.parse(r.data) as Record<string, unknown>;
        if (r.seq === 9) data.note = 'nothing happened here';
        const e = { seq: r.seq, time: r.time, type: r.type, actor: r.actor, subject: r.subject, data, prev };
        const hash = entryHash(e);
        db.prepare('INSERT INTO ledger (seq, time, type, actor, subject, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
          e.seq, e.time, e.type, e.actor, e.subject, JSON.stringify(data), prev, hash,
        );
        prev = hash;
      }
    })();
    const r = await verify(v);
    expect(r.ok).toBe(false);
    // The catalog's own chain is consistent again; the first line that differs from the vault names the edit.
    expect(r.problems[0]).toMatchObject({ code: 'SEGMENT_LINE_MISMATCH', seq: 9, key: segmentKey(1, 10) });
    expect(codes(r).map((c) => c[0])).not.toContain('LEDGER_HASH_MISMATCH');
  });

  it('a truncated segment object', async () => {
    const v = await fixture();
    const key = segmentKey(11, 20);
    const file = v.store.filePath(key);
    const full = await readFile(file);
    // Cut inside the 6th line (entry 16).
    let nl = -1;
    for (let i = 0; i < 5; i++) nl = full.indexOf(0x0a, nl + 1);
    await truncate(file, nl + 20);
    const r = await verify(v);
    expect(codes(r)).toEqual([
      ['SEGMENT_CORRUPT', 11, key],
      ['SEGMENT_TRUNCATED', 16, key],
    ]);
    expect(r.problems[0]!.message).toMatch(new RegExp(`has ${nl + 20} bytes`));
  });

  it('a segment object removed', async () => {
    const v = await fixture();
    await rm(v.store.filePath(segmentKey(21, 22)));
    expect(codes(await verify(v))).toEqual([['SEGMENT_MISSING', 21, segmentKey(21, 22)]]);
  });

  it('an evidence object removed', async () => {
    const v = await fixture();
    const a = v.objects[0]!;
    await rm(v.store.filePath(a.key));
    const r = await verify(v);
    expect(codes(r)).toEqual([['OBJECT_MISSING', a.entry.seq, a.key]]);
    expect(r.problems[0]!.message).toMatch(/ingested at entry 6/);
  });

  it('a segment object planted in the vault', async () => {
    const v = await fixture();
    const key = segmentKey(23, 25);
    await v.store.putNamed(key, Buffer.from('{"forged":true}\n'));
    expect(codes(await verify(v))).toEqual([['SEGMENT_UNKNOWN', undefined, key]]);
  });
});
