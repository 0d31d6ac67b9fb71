import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/index.js';
import { appendEntries, dropLedgerTriggers, ingest, testVault, type TestVault } from '../../test/helpers/ledger-vault.js';
import { sha256Hex } from '../core/index.js';
import { hashInputOf, isCanonicalDataText } from './ledger.js';
import { isPlainCanonicalObject } from './canonical-scan.js';
import { contentFile } from './references.js';
import { CONTENT_PREFIX, contentKey } from '../vault/index.js';
import { LedgerSealer, segmentKey } from './segments.js';
import { verifyVault, type VerifyProgress } from './verify.js';

async function seal(v: TestVault, segmentEntries = 10): Promise<void> {
  await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries, sealIntervalSeconds: 0 }).seal({ partial: true });
}

describe('verifyVault', () => {
  it('passes a clean vault and counts what it checked', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 15);
    await ingest(v, 'footage one', 'ev-1');
    await ingest(v, 'footage two', 'ev-2');
    await seal(v);
    appendEntries(v.catalog, 3); // an unsealed tail is normal

    const phases = new Set<string>();
    const r = await verifyVault({ catalog: v.catalog, store: v.store, deep: true, onProgress: (p: VerifyProgress) => phases.add(p.phase) });
    expect(r).toMatchObject({ ok: true, entries: 20, objects: 2, segments: 2, unsealed: 3, purged: 0, problems: [], deep: true });
    expect(r.bytesHashed).toBe('footage one'.length + 'footage two'.length);
    expect([...phases]).toEqual(['ledger', 'segments', 'objects', 'proxies']);
  });

  it('passes an empty vault', async () => {
    const v = await testVault();
    expect(await verifyVault({ catalog: v.catalog, store: v.store })).toMatchObject({ ok: true, entries: 0, objects: 0, segments: 0 });
  });

  it('reports a purged object as purged, whether it is gone or still present', async () => {
    const v = await testVault();
    const gone = await ingest(v, 'purged and deleted', 'ev-1');
    const kept = await ingest(v, 'purged but still there', 'ev-2');
    v.catalog.ledger.append({ type: 'evidence.purged', actor: 'test', subject: 'ev-1', data: { sha256: gone.sha256 } });
    v.catalog.ledger.append({ type: 'evidence.purged', actor: 'test', subject: 'ev-2', data: { sha256: kept.sha256 } });
    await rm(v.store.filePath(gone.key));
    const r = await verifyVault({ catalog: v.catalog, store: v.store, deep: true });
    expect(r).toMatchObject({ ok: true, objects: 2, purged: 2 });
  });

  it('still requires an object when a purge released only one of its references', async () => {
    const v = await testVault();
    const first = await ingest(v, 'same bytes twice', 'ev-1');
    await ingest(v, 'same bytes twice', 'ev-2');
    v.catalog.ledger.append({ type: 'evidence.purged', actor: 'test', subject: 'ev-1', data: { sha256: first.sha256 } });
    await rm(v.store.filePath(first.key));
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'OBJECT_MISSING', seq: first.entry.seq, key: first.key })]);
  });

  it('names an object whose size differs from the recorded one', async () => {
    const v = await testVault();
    const put = await v.store.putContent(Readable.from([Buffer.from('abc')]));
    const e = v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'x', data: { sha256: put.sha256, size: 4 } });
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.problems).toEqual([expect.objectContaining({ code: 'OBJECT_SIZE_MISMATCH', seq: e.seq, key: put.key })]);
  });

  it('names references without a valid sha256 and size, and entries that disagree on a size', async () => {
    const v = await testVault();
    const put = await ingest(v, 'twelve bytes', 'ev-1');
    v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'ev-2', data: { sha256: put.sha256, size: 13 } });
    const bad = v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'ev-3', data: { sha256: 'nope', size: 1 } });
    // 64 characters, but not lowercase hex: no object can be named by it either.
    const upper = v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'ev-4', data: { sha256: put.sha256.toUpperCase().replace(/^./, 'F'), size: 12 } });
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.problems.map((p) => [p.code, p.seq])).toEqual([
      ['REFERENCE_INVALID', bad.seq],
      ['REFERENCE_INVALID', upper.seq],
      ['REFERENCE_CONFLICT', put.entry.seq],
    ]);
    expect(r.problems[2]!.message).toMatch(/12 and 13/);
  });

  it('reports segment objects the catalog does not know, and gaps between sealed segments', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 30);
    await seal(v);
    await v.store.putNamed('ledger/segments/000000000031-000000000040.jsonl', Buffer.from('{}\n'));
    v.catalog.db.prepare('DELETE FROM ledger_segments WHERE first_seq = 11').run();
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.problems.map((p) => [p.code, p.key])).toEqual([
      ['SEGMENT_RANGE', segmentKey(21, 30)],
      ['SEGMENT_UNKNOWN', segmentKey(11, 20)],
      ['SEGMENT_UNKNOWN', 'ledger/segments/000000000031-000000000040.jsonl'],
    ]);
    expect(r.problems[0]!.message).toMatch(/11\.\.20 unsealed/);
  });

  it('takes the next segment written by a seal that stopped before recording it (the next seal adopts it) as no problem; changed, it is one', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 30);
    await seal(v);
    const key = segmentKey(21, 30);
    const chunks: Buffer[] = [];
    for await (const c of await v.store.get(key)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    // The last seal's object is in the vault, its row not in the catalog: as after a crash between the two.
    v.catalog.db.prepare('DELETE FROM ledger_segments WHERE first_seq = 21').run();
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, segments: 2, unsealed: 10 });
    // The same object with one entry's text changed is not a seal's leftover.
    await rm(v.store.filePath(key));
    await v.store.putNamed(key, Buffer.from(bytes.toString('utf8').replace('"seq":25', '"seq":26')));
    const changed = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(changed.problems.map((p) => [p.code, p.key])).toEqual([['SEGMENT_UNKNOWN', key]]);
  });

  it('keeps at most maxProblems problems and counts the rest', async () => {
    const v = await testVault();
    for (let i = 0; i < 5; i++) v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: `x${i}`, data: { sha256: 'not-a-hash', size: i } });
    const r = await verifyVault({ catalog: v.catalog, store: v.store, maxProblems: 2 });
    expect(r.problems).toHaveLength(2);
    expect(r.problemsOmitted).toBe(3);
    expect(r.ok).toBe(false);
  });

  // Issue 18: the chain check hashes a row from its columns as they are when its data
  // column is in canonical form, and reads any other row the full way, so a row is
  // judged as it was before the fast path.
  it('judges a data column in another form than the canonical one exactly as before', async () => {
    const v = await testVault();
    appendEntries(v.catalog, 6);
    await seal(v, 3);
    dropLedgerTriggers(v.catalog);
    const db = v.catalog.db;
    // The same data in another form (spaces, keys out of order): the entry's content is
    // unchanged, so its hash still holds, and so does its sealed line.
    db.prepare(`UPDATE ledger SET data = '{ "note": "执法记录仪", "i": 1 }' WHERE seq = 2`).run();
    expect(await verifyVault({ catalog: v.catalog, store: v.store })).toMatchObject({ ok: true, entries: 6, segments: 2 });

    // Other data with a hash recomputed over the column's own (non-canonical) text: the
    // entry's hash is the hash of its canonical form, so this is a changed entry.
    const row = db.prepare<[], { seq: number; time: string; type: string; actor: string; subject: string | null; prev: string }>('SELECT * FROM ledger WHERE seq = 4').get()!;
    const forged = '{"note":"x", "i":3}';
    db.prepare('UPDATE ledger SET data = ?, hash = ? WHERE seq = 4').run(forged, sha256Hex(hashInputOf(row.seq, row.time, row.type, row.actor, row.subject, forged, row.prev)));
    // A data column that is not an object at all.
    db.prepare(`UPDATE ledger SET data = '[1,2]' WHERE seq = 6`).run();
    const r = await verifyVault({ catalog: v.catalog, store: v.store });
    expect(r.problems.map((p) => [p.code, p.seq])).toEqual([
      ['LEDGER_HASH_MISMATCH', 4],
      ['LEDGER_PREV_MISMATCH', 5],
      ['LEDGER_BAD_ENTRY', 6],
      ['SEGMENT_LINE_MISMATCH', 4], // one line problem per segment: 4..6 is one
    ]);
  });

  it('verifies an entry whose data the fast path does not recognise (integer-like keys) the full way', async () => {
    const v = await testVault();
    v.catalog.ledger.append({ type: 'evidence.wiped', actor: 't', subject: 'x', data: { '10': 'a', '9': 'b', z: 1 } });
    appendEntries(v.catalog, 2);
    await seal(v, 2);
    expect(await verifyVault({ catalog: v.catalog, store: v.store })).toMatchObject({ ok: true, entries: 3, segments: 2 });
  });

  // Issue 18: a large ledger's chain is checked in worker threads, a range of seq each,
  // and its objects (non-deep, fs store) by one more; the result must be the one pass's.
  describe('in worker threads', () => {
    type Row = { seq: number; time: string; type: string; actor: string; subject: string | null; data: string; prev: string; hash: string };

    /** 30 entries (three ranges of 10 with workers: 3) and three ingested objects, some of it tampered with. */
    async function tampered(): Promise<TestVault> {
      const v = await testVault();
      appendEntries(v.catalog, 3);
      const a = await ingest(v, 'object A', 'ev-a');
      const b = await ingest(v, 'object B', 'ev-b');
      await ingest(v, 'object C', 'ev-c');
      v.catalog.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'ev-d', data: { sha256: 'nope', size: 1 } });
      appendEntries(v.catalog, 23);
      dropLedgerTriggers(v.catalog);
      const db = v.catalog.db;
      const row = (seq: number): Row => db.prepare<[number], Row>('SELECT * FROM ledger WHERE seq = ?').get(seq)!;
      // Entry 11, the first of the second range, gets another prev and a hash that is
      // its own: only its link breaks (checked across the boundary), and 12's link to it.
      const r11 = row(11);
      const prev = 'f'.repeat(64);
      db.prepare('UPDATE ledger SET prev = ?, hash = ? WHERE seq = 11').run(prev, sha256Hex(hashInputOf(11, r11.time, r11.type, r11.actor, r11.subject, r11.data, prev)));
      // Entry 15, in the middle of the second range, is changed.
      db.prepare(`UPDATE ledger SET data = '{"i":99,"note":"执法记录仪"}' WHERE seq = 15`).run();
      // Entries 20..22 are gone: a gap across the boundary of the second and third ranges.
      db.prepare('DELETE FROM ledger WHERE seq BETWEEN 20 AND 22').run();
      // Entry 26's data is not an object, right after a gap of one (25).
      db.prepare('DELETE FROM ledger WHERE seq = 25').run();
      db.prepare(`UPDATE ledger SET data = '[1]' WHERE seq = 26`).run();
      // One object missing, one of another size.
      await rm(v.store.filePath(a.key));
      await rm(v.store.filePath(b.key));
      await v.store.putContent(Readable.from([Buffer.from('object B')])); // the same bytes again
      return v;
    }

    it('reports what one pass reports, in the same order: a changed entry mid-range, a prev mismatch at a boundary, a gap across one', async () => {
      const v = await tampered();
      const one = await verifyVault({ catalog: v.catalog, store: v.store, workers: 1 });
      const many = await verifyVault({ catalog: v.catalog, store: v.store, workers: 3 });
      expect(one.workers).toBe(0);
      expect(many.workers).toBe(4); // three ranges of the chain, and the objects
      expect(one.problems.map((p) => [p.code, p.seq])).toEqual([
        ['LEDGER_PREV_MISMATCH', 11],
        ['LEDGER_PREV_MISMATCH', 12],
        ['LEDGER_HASH_MISMATCH', 15],
        ['LEDGER_SEQ_GAP', 20],
        ['LEDGER_SEQ_GAP', 25],
        ['LEDGER_BAD_ENTRY', 26],
        ['REFERENCE_INVALID', 7],
        ['OBJECT_MISSING', 4],
      ]);
      expect(one.problems[3]!.message).toBe('entries 20..22 are missing from the catalog ledger');
      expect(many.problems).toEqual(one.problems);
      expect({ ...many, durationMs: 0, workers: 0 }).toEqual({ ...one, durationMs: 0 });
    });

    it('links a range whose first entry is missing and whose next is changed as one pass does (the gap, then the entry)', async () => {
      const v = await testVault();
      appendEntries(v.catalog, 30);
      dropLedgerTriggers(v.catalog);
      v.catalog.db.prepare('DELETE FROM ledger WHERE seq = 21').run();
      v.catalog.db.prepare(`UPDATE ledger SET actor = 'someone else' WHERE seq = 22`).run();
      const one = await verifyVault({ catalog: v.catalog, store: v.store, workers: 1 });
      const many = await verifyVault({ catalog: v.catalog, store: v.store, workers: 3 });
      expect(one.problems.map((p) => [p.code, p.seq])).toEqual([
        ['LEDGER_SEQ_GAP', 21],
        ['LEDGER_HASH_MISMATCH', 22],
      ]);
      expect(many.workers).toBeGreaterThanOrEqual(3);
      expect(many.problems).toEqual(one.problems);
    });

    it('keeps the same first maxProblems problems and counts the same rest', async () => {
      const v = await tampered();
      for (const max of [1, 6]) {
        const one = await verifyVault({ catalog: v.catalog, store: v.store, workers: 1, maxProblems: max });
        const many = await verifyVault({ catalog: v.catalog, store: v.store, workers: 3, maxProblems: max });
        expect([many.problems, many.problemsOmitted]).toEqual([one.problems, one.problemsOmitted]);
        expect(one.problems.length + one.problemsOmitted).toBe(8);
      }
    });

    it('passes a clean vault, counting the same', async () => {
      const v = await testVault();
      appendEntries(v.catalog, 12);
      await ingest(v, 'footage one', 'ev-1');
      await seal(v);
      appendEntries(v.catalog, 5);
      const phases: string[] = [];
      const r = await verifyVault({ catalog: v.catalog, store: v.store, workers: 2, onProgress: (p) => phases.push(p.phase) });
      expect(r).toMatchObject({ ok: true, entries: 18, objects: 1, segments: 2, unsealed: 5, problems: [], workers: 3 });
      expect([...new Set(phases)]).toEqual(['ledger', 'segments', 'objects', 'proxies']);
    });

    it('carries the chain over a range left empty (every entry of it deleted)', async () => {
      const v = await testVault();
      appendEntries(v.catalog, 30);
      dropLedgerTriggers(v.catalog);
      // Ranges 1..10, 11..20 and 21 on: the second has no entry left.
      v.catalog.db.prepare('DELETE FROM ledger WHERE seq BETWEEN 11 AND 20').run();
      const one = await verifyVault({ catalog: v.catalog, store: v.store, workers: 1 });
      const many = await verifyVault({ catalog: v.catalog, store: v.store, workers: 3 });
      expect(one.problems.map((p) => [p.code, p.seq, p.message])).toEqual([['LEDGER_SEQ_GAP', 11, 'entries 11..20 are missing from the catalog ledger']]);
      expect(many.workers).toBe(4);
      expect(many.problems).toEqual(one.problems);
      expect(many.entries).toBe(20);
    });

    it("judges what is at an object's path as the store's stat does (a folder is no object; a path through a file cannot be checked)", async () => {
      const v = await testVault();
      const folder = await ingest(v, 'becomes a folder', 'ev-1');
      const through = await ingest(v, 'under a file', 'ev-2');
      await rm(v.store.filePath(folder.key));
      await mkdir(v.store.filePath(folder.key));
      // The object's folder (objects/sha256/ab/cd) replaced by a file.
      const dir = dirname(v.store.filePath(through.key));
      await rm(dir, { recursive: true });
      await writeFile(dir, 'not a folder');
      const one = await verifyVault({ catalog: v.catalog, store: v.store, workers: 1 });
      const many = await verifyVault({ catalog: v.catalog, store: v.store, workers: 2 });
      expect(one.problems.map((p) => [p.code, p.seq])).toEqual([
        ['OBJECT_MISSING', folder.entry.seq],
        ['OBJECT_UNREADABLE', through.entry.seq],
      ]);
      expect(one.problems[1]!.message).toMatch(/ENOTDIR/);
      expect(many.workers).toBe(3);
      expect(many.problems).toEqual(one.problems);
    });

    it('stats the file the fs store keeps an object in', async () => {
      const v = await testVault();
      const sha = sha256Hex('x');
      expect(contentFile(v.store.filePath(CONTENT_PREFIX.slice(0, -1)), contentKey(sha))).toBe(v.store.filePath(contentKey(sha)));
    });
  });
});

// Issue 18: the chain check's scan of a data column may only say "canonical" where the
// exact check does; where it cannot tell, the exact check decides.
describe('isPlainCanonicalObject', () => {
  it('recognises the canonical text of plain data', () => {
    for (const text of ['{}', '{"a":1}', '{"a":[],"b":{},"c":[1,-2,true,false,null,"x"],"d":{"e":"执法记录仪"}}', '{"":0,"a":-123456789012345}']) {
      expect([text, isPlainCanonicalObject(text)]).toEqual([text, true]);
      expect(isCanonicalDataText(text)).toBe(true);
    }
  });

  it('leaves to the exact check what it cannot tell, and refuses what is not canonical', () => {
    for (const text of [
      '{"b":1,"a":2}', // keys out of order
      '{"a":1,"a":1}', // a key twice
      '{"10":1,"9":2}', // integer-like keys
      '{"__proto__":1}',
      '{"a":-0}',
      '{"a":01}',
      '{"a":1.5}',
      '{"a":1e3}',
      '{"a":1234567890123456}', // 16 digits
      '{"a":"\\n"}', // an escape
      '{"a":"😀"}', // a surrogate pair
      '{ "a":1}',
      '{"a":1} ',
      '[1]',
      '"a"',
      '{"a":1',
      '{"a":tru}',
      '',
    ]) {
      expect([text, isPlainCanonicalObject(text)]).toEqual([text, false]);
    }
  });

  it('never says canonical where the exact check does not, over generated texts', () => {
    let seed = 18;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const atoms = ['0', '-1', '7', '15', '1.5', '1e2', '-0', '123456789012345', '1234567890123456', 'true', 'false', 'null', '"a"', '"b"', '"\\u0041"', '"执"', '"😀"', '"\\""'];
    const keys = ['a', 'b', 'ab', 'B', '_', '1', '10', '9', '__proto__', '', '执', 'a b'];
    const value = (depth: number): string => {
      const k = rnd(depth > 2 ? 1 : 4);
      if (k === 1) return `[${Array.from({ length: rnd(3) }, () => value(depth + 1)).join(',')}]`;
      if (k === 2) return object(depth + 1);
      return atoms[rnd(atoms.length)]!;
    };
    const object = (depth: number): string => {
      const n = rnd(4);
      const ks = Array.from({ length: n }, () => keys[rnd(keys.length)]!);
      if (rnd(2) === 0) ks.sort();
      return `{${ks.map((key) => `${JSON.stringify(key)}:${value(depth)}`).join(',')}}`;
    };
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = object(0);
      if (isPlainCanonicalObject(text)) {
        plain++;
        expect([text, isCanonicalDataText(text)]).toEqual([text, true]);
      }
    }
    expect(plain).toBeGreaterThan(1000); // the scan does recognise most plain texts
  });
});
