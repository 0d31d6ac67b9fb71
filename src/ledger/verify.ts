import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Catalog } from '../catalog/index.js';
import { errorMessage } from '../core/index.js';
import { SHA256_HEX } from '../core/index.js';
import { hashStream } from '../vault/index.js';
import {
  CatalogRowWindow,
  ChainCursor,
  SEGMENT_PREFIX,
  SegmentReader,
  parseSegmentKey,
  entryFromRaw,
  rawCanonicalLine,
  segmentFromRow,
  type SealedSegment,
  type SegmentRow,
} from './segments.js';
import { hashInputOf, isCanonicalDataText, sha256Of } from './ledger.js';
import { contentKey, type ObjectStore } from '../vault/index.js';

export interface VerifyProblem {
  /** Stable: LEDGER_*, SEGMENT_*, OBJECT_*, REFERENCE_* (docs/ledger.md lists them). */
  code: string;
  /** The ledger entry concerned, when there is one. */
  seq?: number;
  /** The object concerned, when there is one. */
  key?: string;
  message: string;
}

export type VerifyPhase = 'ledger' | 'segments' | 'objects' | 'proxies';

export interface VerifyProgress {
  phase: VerifyPhase;
  done: number;
  total: number;
}

export interface VerifyOptions {
  catalog: Catalog;
  store: ObjectStore;
  /** Re-hash every referenced object (reads all footage); otherwise existence and size. */
  deep?: boolean;
  onProgress?: (p: VerifyProgress) => void;
  /** Objects checked at once (stat, or hash with deep). */
  concurrency?: number;
  /** Problems kept in the result; the rest are only counted (a wrecked vault must not exhaust memory). */
  maxProblems?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Ledger entries read from the catalog. */
  entries: number;
  /** Distinct objects the ledger references (live and purged). */
  objects: number;
  /** Sealed segments checked. */
  segments: number;
  problems: VerifyProblem[];
  /** Problems found beyond `maxProblems`, not listed. */
  problemsOmitted: number;
  /** Referenced objects the ledger says were purged. */
  purged: number;
  /** Browser-playable proxies checked (ready, of live items; docs/media.md). */
  proxies: number;
  /** Entries not yet sealed into a segment (seq past the last sealed one). */
  unsealed: number;
  deep: boolean;
  /** Bytes re-hashed (deep only). */
  bytesHashed: number;
  durationMs: number;
}

const PAGE = 2000;

class Problems {
  readonly list: VerifyProblem[] = [];
  omitted = 0;
  constructor(private readonly max: number) {}
  add(p: VerifyProblem): void {
    if (this.list.length < this.max) this.list.push(p);
    else this.omitted++;
  }
  get any(): boolean {
    return this.list.length > 0;
  }
}

/**
 * Check the whole vault against its ledger, streaming: the hash chain of the
 * catalog ledger, every sealed segment object against the catalog, and every object
 * the ledger references. Memory stays bounded whatever the size of the ledger: rows
 * are read a page at a time and references are grouped in a temporary SQLite table.
 *
 * Reports every problem it finds (up to maxProblems) rather than stopping at the
 * first, in order: ledger (by seq), segments (by seq), objects (by first reference), proxies (by item).
 */
export async function verifyVault(opts: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const problems = new Problems(opts.maxProblems ?? 1000);
  const progress = opts.onProgress ?? (() => undefined);

  const entries = await verifyChain(opts.catalog, problems, progress);
  const { segments, through } = await verifySegments(opts.catalog, opts.store, problems, progress);
  const refs = await verifyReferences(opts, problems, progress);
  const proxies = await verifyProxies(opts, problems, progress);

  return {
    ok: !problems.any,
    entries,
    objects: refs.objects,
    segments,
    problems: problems.list,
    problemsOmitted: problems.omitted,
    purged: refs.purged,
    proxies: proxies.proxies,
    unsealed: Math.max(0, entries - through),
    deep: opts.deep ?? false,
    bytesHashed: refs.bytesHashed + proxies.bytesHashed,
    durationMs: Math.round(performance.now() - started),
  };
}

/** A ledger row as the chain check reads it: seq, time, type, actor, subject, data, prev, hash. */
type ChainRow = [number, string, string, string, string | null, string, string, string];

/**
 * Recompute every entry's hash and prev link, and check seq runs 1..n with no gap.
 *
 * Rows are read a page at a time as arrays, one reused statement, and each is hashed
 * from its columns as they are: when the data column is in canonical form (as every
 * append writes it) the entry's canonical text is its columns put together
 * (hashInputOf), with nothing parsed into an entry or serialised again. Any other row
 * (a data column in another form, or a hash that does not match) is read the full way
 * (entryFromRaw, ChainCursor), so it is judged exactly as before.
 */
async function verifyChain(catalog: Catalog, problems: Problems, progress: (p: VerifyProgress) => void): Promise<number> {
  const db = catalog.db;
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM ledger').get()!.n;
  const page = db.prepare<[number, number], ChainRow>('SELECT seq, time, type, actor, subject, data, prev, hash FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?').raw();
  const cursor = new ChainCursor();
  let after = 0;
  let read = 0;
  progress({ phase: 'ledger', done: 0, total });
  for (;;) {
    const rows = page.all(after, PAGE);
    if (rows.length === 0) break;
    for (const row of rows) {
      const [seq, time, type, actor, subject, data, prev, hash] = row;
      read++;
      after = seq;
      if (seq !== cursor.expectSeq) {
        const missing = seq - cursor.expectSeq;
        problems.add({
          code: 'LEDGER_SEQ_GAP',
          seq: cursor.expectSeq,
          message:
            missing === 1
              ? `entry ${cursor.expectSeq} is missing from the catalog ledger (the next entry is ${seq})`
              : `entries ${cursor.expectSeq}..${seq - 1} are missing from the catalog ledger`,
        });
        // The link across a gap cannot be checked; carry on from the entry found.
        cursor.expectSeq = seq;
        cursor.prevHash = prev;
      }
      if (sha256Of(hashInputOf(seq, time, type, actor, subject, data, prev)) === hash && isCanonicalDataText(data)) {
        // The hash is the hash of the entry: only the link remains (as ChainCursor.check).
        if (prev !== cursor.prevHash) {
          problems.add({ code: 'LEDGER_PREV_MISMATCH', seq, message: `entry ${seq} has prev ${prev}, but the entry before it hashes to ${cursor.prevHash}` });
        }
        cursor.expectSeq = seq + 1;
        cursor.prevHash = hash;
        continue;
      }
      let entry;
      try {
        entry = entryFromRaw({ seq, time, type, actor, subject, data, prev, hash });
      } catch (e) {
        problems.add({ code: 'LEDGER_BAD_ENTRY', seq, message: `entry ${seq} cannot be read: ${errorMessage(e)}` });
        cursor.expectSeq = seq + 1;
        cursor.prevHash = hash;
        continue;
      }
      const p = cursor.check(entry);
      if (p) problems.add({ code: p.code, seq, message: p.message });
      // Link the next entry to the hash this one records, so one edit is one problem.
      cursor.advance(entry);
    }
    progress({ phase: 'ledger', done: read, total });
    await yieldToLoop(); // hashing is synchronous: let a daemon's other work run between pages
  }
  return read;
}

/**
 * Every sealed segment against the catalog: contiguous from 1 without overlap, object
 * present with the recorded size and sha256, each line the catalog entry's canonical
 * line. Then every segment object the catalog does not know.
 */
async function verifySegments(
  catalog: Catalog,
  store: ObjectStore,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ segments: number; through: number }> {
  const db = catalog.db;
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM ledger_segments').get()!.n;
  const page = db.prepare<[number, number], SegmentRow>(
    'SELECT * FROM ledger_segments WHERE first_seq > ? ORDER BY first_seq LIMIT ?',
  );
  const window = new CatalogRowWindow(db);
  let expectFirst = 1;
  let after = 0;
  let done = 0;
  progress({ phase: 'segments', done: 0, total });
  for (;;) {
    const rows = page.all(after, 100);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seg = segmentFromRow(row);
      after = seg.firstSeq;
      if (seg.firstSeq !== expectFirst) {
        problems.add({
          code: 'SEGMENT_RANGE',
          seq: seg.firstSeq,
          key: seg.key,
          message:
            seg.firstSeq > expectFirst
              ? `sealed segments leave entries ${expectFirst}..${seg.firstSeq - 1} unsealed before ${seg.key}`
              : `segment ${seg.key} overlaps the one before it (which ends at ${expectFirst - 1})`,
        });
      }
      expectFirst = Math.max(expectFirst, seg.lastSeq + 1);
      await checkSegment(store, seg, window, problems);
      progress({ phase: 'segments', done: ++done, total });
    }
  }
  const recorded = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM ledger_segments WHERE key = ?');
  for await (const obj of store.list(SEGMENT_PREFIX)) {
    if (recorded.get(obj.key)) continue;
    // A seal that stopped (a crash, a kill) between writing its object and recording it
    // leaves the next segment unrecorded; the next seal adopts it when it holds exactly the
    // catalog's entries (LedgerSealer). Such an object is not a problem; anything else is.
    const range = parseSegmentKey(obj.key);
    if (range && range.firstSeq === expectFirst) {
      const found = new Problems(1);
      await checkSegment(store, { ...range, key: obj.key, sha256: '', size: -1, sealedAt: '' }, window, found);
      if (!found.any) continue;
    }
    problems.add({ code: 'SEGMENT_UNKNOWN', key: obj.key, message: `segment object ${obj.key} is in the vault but not recorded in the catalog` });
  }
  return { segments: done, through: expectFirst - 1 };
}

async function checkSegment(store: ObjectStore, seg: SealedSegment, window: CatalogRowWindow, problems: Problems): Promise<void> {
  const info = await store.stat(seg.key);
  if (!info) {
    problems.add({ code: 'SEGMENT_MISSING', seq: seg.firstSeq, key: seg.key, message: `sealed segment ${seg.key} (entries ${seg.firstSeq}..${seg.lastSeq}) is not in the vault` });
    return;
  }
  const reader = new SegmentReader(await store.get(seg.key));
  let seq = seg.firstSeq;
  let lineProblem: VerifyProblem | null = null;
  try {
    for await (const line of reader.lines()) {
      if (lineProblem) continue; // keep reading for the digest; one line problem per segment names where it breaks
      if (seq > seg.lastSeq) {
        lineProblem = { code: 'SEGMENT_LINE_MISMATCH', seq, key: seg.key, message: `segment ${seg.key} has more lines than entries ${seg.firstSeq}..${seg.lastSeq}` };
        continue;
      }
      const row = window.get(seq);
      if (!line.terminated) {
        lineProblem = { code: 'SEGMENT_TRUNCATED', seq, key: seg.key, message: `segment ${seg.key} ends inside the line of entry ${seq}` };
      } else if (!row) {
        lineProblem = { code: 'SEGMENT_LINE_MISMATCH', seq, key: seg.key, message: `segment ${seg.key} holds entry ${seq}, which the catalog ledger does not have` };
      } else if (rawCanonicalLine(row) !== line.text) {
        lineProblem = { code: 'SEGMENT_LINE_MISMATCH', seq, key: seg.key, message: `entry ${seq} in the catalog differs from its sealed copy in ${seg.key}` };
      }
      seq++;
    }
  } catch (e) {
    problems.add({ code: 'SEGMENT_UNREADABLE', seq: seg.firstSeq, key: seg.key, message: `cannot read segment ${seg.key}: ${errorMessage(e)}` });
    return;
  }
  if (!lineProblem && seq <= seg.lastSeq) {
    lineProblem = { code: 'SEGMENT_TRUNCATED', seq, key: seg.key, message: `segment ${seg.key} ends before entry ${seq} (it should run to ${seg.lastSeq})` };
  }
  // (An unrecorded segment, checked for adoption, has no recorded size and digest: size -1.)
  if (seg.size >= 0 && (reader.size !== seg.size || reader.sha256 !== seg.sha256)) {
    problems.add({
      code: 'SEGMENT_CORRUPT',
      seq: seg.firstSeq,
      key: seg.key,
      message: `segment ${seg.key} has ${reader.size} bytes hashing to ${reader.sha256}; the catalog recorded ${seg.size} bytes, ${seg.sha256}`,
    });
  }
  if (lineProblem) problems.add(lineProblem);
}

interface RefRow {
  sha256: string | null;
  first_seq: number;
  ingests: number;
  purges: number;
  purged_seq: number | null;
  size_min: number | null;
  size_max: number | null;
}

/**
 * Every object the ledger references. `evidence.ingested` entries reference
 * data.sha256 with data.size; `evidence.purged` with data.sha256 releases one such
 * reference. An object with live references must exist with the recorded size (and
 * hash, when deep); an object whose references were all purged is reported purged,
 * and may or may not still be present.
 */
async function verifyReferences(
  opts: VerifyOptions,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ objects: number; purged: number; bytesHashed: number }> {
  const db = opts.catalog.db;
  const badRefs = db.prepare<[number, number], { seq: number }>(
    `SELECT seq FROM ledger
      WHERE type = 'evidence.ingested' AND seq > ? AND NOT coalesce(
        json_valid(data)
        AND json_type(data, '$.sha256') = 'text' AND length(json_extract(data, '$.sha256')) = 64
        AND json_type(data, '$.size') = 'integer' AND json_extract(data, '$.size') >= 0, 0)
      ORDER BY seq LIMIT ?`,
  );
  for (let after = 0; ; ) {
    const rows = badRefs.all(after, PAGE);
    for (const r of rows) {
      problems.add({ code: 'REFERENCE_INVALID', seq: r.seq, message: `entry ${r.seq} (evidence.ingested) lacks a valid data.sha256 and data.size` });
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.seq;
  }

  // Group references by object in a temporary table: SQLite's sorter spills to disk,
  // so a ledger of millions of objects does not become a JavaScript Map.
  const table = `temp.verify_refs_${randomBytes(6).toString('hex')}`;
  db.exec(`
    CREATE TABLE ${table} AS
    SELECT json_extract(data, '$.sha256') AS sha256,
           min(seq) AS first_seq,
           sum(type = 'evidence.ingested') AS ingests,
           sum(type = 'evidence.purged') AS purges,
           max(CASE WHEN type = 'evidence.purged' THEN seq END) AS purged_seq,
           min(CASE WHEN type = 'evidence.ingested' AND json_type(data, '$.size') = 'integer' THEN json_extract(data, '$.size') END) AS size_min,
           max(CASE WHEN type = 'evidence.ingested' AND json_type(data, '$.size') = 'integer' THEN json_extract(data, '$.size') END) AS size_max
      FROM ledger
     WHERE type IN ('evidence.ingested', 'evidence.purged')
       AND json_valid(data) AND json_type(data, '$.sha256') = 'text'
     GROUP BY 1
     ORDER BY 2`);
  let objects = 0;
  let purged = 0;
  let bytesHashed = 0;
  try {
    const total = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ingests > 0`).get()!.n;
    const page = db.prepare<[number, number], RefRow & { rowid: number }>(
      `SELECT rowid, * FROM ${table} WHERE rowid > ? AND ingests > 0 ORDER BY rowid LIMIT ?`,
    );
    const concurrency = opts.concurrency ?? (opts.deep ? 2 : 8);
    progress({ phase: 'objects', done: 0, total });
    for (let after = 0; ; ) {
      const rows = page.all(after, 500);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.rowid;
      const found = await mapLimit(rows, concurrency, async (r) => {
        objects++;
        const out = await checkReference(opts.store, r, opts.deep ?? false);
        bytesHashed += out.hashed;
        if (out.purged) purged++;
        progress({ phase: 'objects', done: objects, total });
        return out.problems;
      });
      for (const list of found) for (const p of list) problems.add(p);
    }
  } finally {
    db.exec(`DROP TABLE IF EXISTS ${table}`);
  }
  return { objects, purged, bytesHashed };
}

async function checkReference(
  store: ObjectStore,
  r: RefRow,
  deep: boolean,
): Promise<{ problems: VerifyProblem[]; purged: boolean; hashed: number }> {
  const seq = r.first_seq;
  if (r.sha256 === null || !SHA256_HEX.test(r.sha256)) {
    // Reported per entry by REFERENCE_INVALID (or a purge naming no valid object).
    return { problems: [], purged: false, hashed: 0 };
  }
  const key = contentKey(r.sha256);
  const out: VerifyProblem[] = [];
  const conflict = r.size_min !== r.size_max;
  if (conflict) {
    out.push({ code: 'REFERENCE_CONFLICT', seq, key, message: `entries record different sizes (${r.size_min} and ${r.size_max}) for ${key}` });
  }
  if (r.purges >= r.ingests) {
    // Every reference released: the object may be gone, and if still present it is fine.
    return { problems: out, purged: true, hashed: 0 };
  }
  // With conflicting sizes there is no one size to compare (the conflict is reported).
  const size = conflict ? null : r.size_max;
  let info;
  try {
    info = await store.stat(key);
  } catch (e) {
    out.push({ code: 'OBJECT_UNREADABLE', seq, key, message: `cannot check ${key}: ${errorMessage(e)}` });
    return { problems: out, purged: false, hashed: 0 };
  }
  if (!info) {
    const after = r.purged_seq !== null ? ` (a purge at ${r.purged_seq} released only one of its ${r.ingests} references)` : '';
    out.push({ code: 'OBJECT_MISSING', seq, key, message: `object ${key}, ingested at entry ${seq}, is not in the vault${after}` });
    return { problems: out, purged: false, hashed: 0 };
  }
  if (size !== null && info.size !== size) {
    out.push({ code: 'OBJECT_SIZE_MISMATCH', seq, key, message: `object ${key} has ${info.size} bytes; entry ${seq} recorded ${size}` });
    return { problems: out, purged: false, hashed: 0 };
  }
  if (!deep) return { problems: out, purged: false, hashed: 0 };
  try {
    const got = await hashStream(await store.get(key));
    if (got.sha256 !== r.sha256) {
      out.push({ code: 'OBJECT_HASH_MISMATCH', seq, key, message: `object ${key} hashes to ${got.sha256}: its content was changed` });
    }
    return { problems: out, purged: false, hashed: got.size };
  } catch (e) {
    out.push({ code: 'OBJECT_UNREADABLE', seq, key, message: `cannot read ${key}: ${errorMessage(e)}` });
    return { problems: out, purged: false, hashed: 0 };
  }
}

interface ProxyRefRow {
  evidence_id: string;
  proxy_sha256: string;
  size: number;
  /** The `evidence.proxied` entry that names this proxy, if any. */
  seq: number | null;
}

/**
 * Every ready proxy of a live item (docs/media.md): a derived object, so not in the
 * ledger's references, but footage all the same. Its object must exist with the
 * recorded size (and hash, when deep), and the ledger must name it: an
 * `evidence.proxied` entry for the item with this proxy's hash. Problems use the
 * object codes, with the key and a message that says it is a proxy. Proxies of purged
 * items are not checked here.
 */
async function verifyProxies(
  opts: VerifyOptions,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ proxies: number; bytesHashed: number }> {
  const db = opts.catalog.db;
  const where = "p.status = 'ready' AND e.status = 'live'";
  const total = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id WHERE ${where}`).get()!.n;
  const page = db.prepare<[string, number], ProxyRefRow>(
    `SELECT p.evidence_id, p.proxy_sha256, p.size,
            (SELECT max(l.seq) FROM ledger l WHERE l.subject = p.evidence_id AND l.type = 'evidence.proxied'
                AND json_extract(l.data, '$.proxy.sha256') = p.proxy_sha256) AS seq
       FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id
      WHERE ${where} AND p.evidence_id > ? ORDER BY p.evidence_id LIMIT ?`,
  );
  const concurrency = opts.concurrency ?? (opts.deep ? 2 : 8);
  let done = 0;
  let bytesHashed = 0;
  progress({ phase: 'proxies', done: 0, total });
  for (let after = ''; ; ) {
    const rows = page.all(after, 500);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.evidence_id;
    const found = await mapLimit(rows, concurrency, async (r) => {
      const out = await checkProxy(opts.store, r, opts.deep ?? false);
      bytesHashed += out.hashed;
      progress({ phase: 'proxies', done: ++done, total });
      return out.problems;
    });
    for (const list of found) for (const p of list) problems.add(p);
  }
  return { proxies: done, bytesHashed };
}

async function checkProxy(store: ObjectStore, r: ProxyRefRow, deep: boolean): Promise<{ problems: VerifyProblem[]; hashed: number }> {
  if (!SHA256_HEX.test(r.proxy_sha256)) {
    return { problems: [{ code: 'PROXY_UNRECORDED', message: `the proxy of evidence ${r.evidence_id} names no valid object (${r.proxy_sha256})` }], hashed: 0 };
  }
  const key = contentKey(r.proxy_sha256);
  const at = r.seq ?? undefined;
  const what = `the proxy of evidence ${r.evidence_id} (${key})`;
  const out: VerifyProblem[] = [];
  if (r.seq === null) {
    out.push({ code: 'PROXY_UNRECORDED', key, message: `${what} is recorded in the catalog, but no evidence.proxied entry names it` });
  }
  const base = at === undefined ? { key } : { seq: at, key };
  let info;
  try {
    info = await store.stat(key);
  } catch (e) {
    out.push({ code: 'OBJECT_UNREADABLE', ...base, message: `cannot check ${what}: ${errorMessage(e)}` });
    return { problems: out, hashed: 0 };
  }
  if (!info) {
    out.push({ code: 'OBJECT_MISSING', ...base, message: `${what} is not in the vault` });
    return { problems: out, hashed: 0 };
  }
  if (info.size !== r.size) {
    out.push({ code: 'OBJECT_SIZE_MISMATCH', ...base, message: `${what} has ${info.size} bytes; ${r.size} were recorded` });
    return { problems: out, hashed: 0 };
  }
  if (!deep) return { problems: out, hashed: 0 };
  try {
    const got = await hashStream(await store.get(key));
    if (got.sha256 !== r.proxy_sha256) out.push({ code: 'OBJECT_HASH_MISMATCH', ...base, message: `${what} hashes to ${got.sha256}: its content was changed` });
    return { problems: out, hashed: got.size };
  } catch (e) {
    out.push({ code: 'OBJECT_UNREADABLE', ...base, message: `cannot read ${what}: ${errorMessage(e)}` });
    return { problems: out, hashed: 0 };
  }
}

/** Run fn over items with at most `limit` at once; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
