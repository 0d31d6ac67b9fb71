import { availableParallelism } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { withScratchConnection, type Catalog, type Db } from '../catalog/index.js';
import { SHA256_HEX, errorMessage, startModuleWorker } from '../core/index.js';
import { CONTENT_PREFIX, FsObjectStore, contentKey, hashStream, type ObjectStore } from '../vault/index.js';
import { CHAIN_START, ChainRangeCheck, linkProblems, type ChainRangeResult, type ChainWorkerData, type ChainWorkerMessage, type SeqRange } from './chain-check.js';
import {
  ReferenceTable,
    judgeStat,
  planReference,
  type ObjectsResult,
  type ObjectsWorkerData,
  type ObjectsWorkerMessage,
  type RefRow,
  type StatOutcome,
} from './references.js';
import { CatalogRowWindow, SEGMENT_PREFIX, SegmentReader, parseSegmentKey, rawCanonicalLine, segmentFromRow, type SealedSegment, type SegmentRow } from './segments.js';

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
  /**
   * Worker threads that check the hash chain, each a range of seq on its own read-only
   * connection (and, for a non-deep verify on the fs store, one more that checks the
   * objects meanwhile). By default one per CPU (os.availableParallelism()), at most 8
   * and one per 10,000 entries, for a ledger of 20,000 entries or more, and none below
   * (starting them would cost more than they save); 1 checks everything in this
   * thread. Given, it applies whatever the ledger's size.
   */
  workers?: number;
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
  /** Worker threads whose checks the result holds (0: all were made in the calling thread; see VerifyOptions.workers). */
  workers: number;
  durationMs: number;
}


class Problems {
  readonly list: VerifyProblem[] = [];
  omitted = 0;
  constructor(private readonly max: number) {}
  add(p: VerifyProblem): void {
    if (this.list.length < this.max) this.list.push(p);
    else this.omitted++;
  }
  /** Count problems found (and bounded) elsewhere, beyond those kept. */
  addOmitted(n: number): void {
    this.omitted += n;
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

  const db = opts.catalog.db;
  const ledger = db.prepare<[], { n: number; lo: number | null; hi: number | null }>('SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM ledger').get()!;
  // Workers open the catalog's file; an in-memory catalog has none.
  const threads = db.memory ? 1 : (opts.workers ?? defaultWorkers(ledger.n));
  const objectsWorker =
    threads > 1 && !opts.deep && opts.store instanceof FsObjectStore
      ? new ObjectsInWorker({ file: db.name, contentDir: opts.store.filePath(CONTENT_PREFIX.slice(0, -1)), maxProblems: opts.maxProblems ?? 1000 })
      : null;
  try {
    const chain = await verifyChain(opts, ledger, threads, problems, progress);
    const entries = chain.entries;
    const { segments, through } = await verifySegments(opts.catalog, opts.store, problems, progress);
    const fromWorker = objectsWorker ? await objectsWorker.result(progress) : null;
    let refs: { objects: number; purged: number; bytesHashed: number };
    if (fromWorker) {
      for (const p of fromWorker.problems) problems.add(p);
      problems.addOmitted(fromWorker.omitted);
      refs = { objects: fromWorker.objects, purged: fromWorker.purged, bytesHashed: 0 };
    } else {
      refs = await verifyReferences(opts, problems, progress);
    }
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
      workers: chain.workers + (fromWorker ? 1 : 0),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await objectsWorker?.stop();
  }
}

/**
 * One chain worker per CPU, but none below 20,000 entries and none for less than
 * 10,000 entries each (a worker takes tens of milliseconds to start), and at most 8
 * (each holds a connection; beyond that the objects, not the chain, take longest).
 */
function defaultWorkers(entries: number): number {
  if (entries < 20_000) return 1;
  return Math.max(1, Math.min(availableParallelism(), 8, Math.floor(entries / 10_000)));
}

/**
 * Recompute every entry's hash and prev link, and check seq runs 1..n with no gap
 * (ChainRangeCheck). On a large ledger the seq range is split between worker threads,
 * one per CPU, each on its own read-only connection; this thread links each range's
 * first entry to the entry before it (linkProblems, worded as one pass words it) and
 * takes the problems in seq order, so the result is the one pass's. The daemon's event
 * loop stays free meanwhile. A catalog that cannot be opened by a second connection (in
 * memory), or a worker that fails, is checked here instead: that costs time, not checks.
 */
async function verifyChain(
  opts: VerifyOptions,
  { n: total, lo, hi }: { n: number; lo: number | null; hi: number | null },
  threads: number,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ entries: number; workers: number }> {
  const db = opts.catalog.db;
  const max = opts.maxProblems ?? 1000;
  progress({ phase: 'ledger', done: 0, total });
  let results: ChainRangeResult[] | null = null;
  let workers = 0;
  if (threads > 1 && lo !== null && hi !== null) {
    const ranges = splitRange(lo, hi, threads);
    // A worker that fails (it cannot open the catalog, say) costs time, not checks: the
    // whole chain is then checked here, as on a small ledger.
    results = await checkInWorkers(db.name, ranges, max, (done) => progress({ phase: 'ledger', done, total })).catch(() => null);
    if (results) workers = ranges.length;
  }
  if (!results) {
    const check = new ChainRangeCheck(db, { from: 1, to: Number.MAX_SAFE_INTEGER }, CHAIN_START, max);
    while (check.page()) {
      progress({ phase: 'ledger', done: check.entries, total });
      await yieldToLoop(); // hashing is synchronous: let a daemon's other work run between pages
    }
    results = [check.result()];
  }
  let link = CHAIN_START;
  let entries = 0;
  for (const r of results) {
    entries += r.entries;
    if (r.head) for (const p of linkProblems(link, r.head)) problems.add(p);
    for (const p of r.problems) problems.add(p);
    problems.addOmitted(r.omitted);
    if (r.end) link = r.end;
  }
  return { entries, workers };
}

/** lo..hi in `parts` ranges of about equal width; the first starts at 1 and the last runs on (entries appended meanwhile are checked too, as in one pass). */
function splitRange(lo: number, hi: number, parts: number): SeqRange[] {
  const width = Math.ceil((hi - lo + 1) / parts);
  const ranges: SeqRange[] = [];
  for (let from = lo; from <= hi; from += width) ranges.push({ from, to: from + width - 1 });
  ranges[0]!.from = 1;
  ranges[ranges.length - 1]!.to = Number.MAX_SAFE_INTEGER;
  return ranges;
}

/** Check each range in a worker thread; results in range order. Rejects (after stopping the others) if any worker fails. */
async function checkInWorkers(file: string, ranges: SeqRange[], maxProblems: number, onProgress: (done: number) => void): Promise<ChainRangeResult[]> {
  const done = ranges.map(() => 0);
  const workers: Worker[] = [];
  try {
    return await Promise.all(
      ranges.map(
        (range, k) =>
          new Promise<ChainRangeResult>((resolve, reject) => {
            const w = startWorker('chain-worker', { file, range, maxProblems });
            workers.push(w);
            w.on('message', (m: ChainWorkerMessage) => {
              if ('result' in m) {
                resolve(m.result);
                return;
              }
              done[k] = m.entries;
              onProgress(done.reduce((a, b) => a + b, 0));
            });
            w.once('error', reject);
            w.once('exit', (code) => reject(new Error(`chain worker exited with code ${code} before its result`)));
          }),
      ),
    );
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
}

/** A worker of this folder (chain-worker, objects-worker), from the build or from source. */
function startWorker(name: 'chain-worker' | 'objects-worker', data: ChainWorkerData | ObjectsWorkerData): Worker {
  return startModuleWorker(import.meta.url, name, data);
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

/**
 * Every object the ledger references (./references.ts): REFERENCE_INVALID entries by
 * seq, then each object by first reference, stat-ed through the store (and hashed,
 * when deep), a few at once.
 */
async function verifyReferences(
  opts: VerifyOptions,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ objects: number; purged: number; bytesHashed: number }> {
  // Its temporary tables are as large as the ledger's references: on a connection whose temporary storage spills to disk.
  return withScratchConnection(opts.catalog.db, (db) => checkReferences(db, opts, problems, progress));
}

async function checkReferences(
  db: Db,
  opts: VerifyOptions,
  problems: Problems,
  progress: (p: VerifyProgress) => void,
): Promise<{ objects: number; purged: number; bytesHashed: number }> {
  const table = new ReferenceTable(db);
  let objects = 0;
  let purged = 0;
  let bytesHashed = 0;
  try {
    table.invalid((p) => problems.add(p));
    const total = table.total;
    const concurrency = opts.concurrency ?? (opts.deep ? 2 : 8);
    progress({ phase: 'objects', done: 0, total });
    for (let rows = table.page(); rows.length > 0; rows = table.page()) {
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
    table.drop();
  }
  return { objects, purged, bytesHashed };
}

async function checkReference(store: ObjectStore, r: RefRow, deep: boolean): Promise<{ problems: VerifyProblem[]; purged: boolean; hashed: number }> {
  const { problems, purged, key } = planReference(r);
  if (key === null) return { problems, purged, hashed: 0 };
  let stat: StatOutcome;
  try {
    const info = await store.stat(key);
    stat = { size: info ? info.size : null };
  } catch (e) {
    stat = { error: errorMessage(e) };
  }
  if (!judgeStat(r, key, stat, problems) || !deep) return { problems, purged, hashed: 0 };
  try {
    const got = await hashStream(await store.get(key));
    if (got.sha256 !== r.sha256) {
      problems.push({ code: 'OBJECT_HASH_MISMATCH', seq: r.first_seq, key, message: `object ${key} hashes to ${got.sha256}: its content was changed` });
    }
    return { problems, purged, hashed: got.size };
  } catch (e) {
    problems.push({ code: 'OBJECT_UNREADABLE', seq: r.first_seq, key, message: `cannot read ${key}: ${errorMessage(e)}` });
    return { problems, purged, hashed: 0 };
  }
}

/**
 * The objects phase of a non-deep verify on the fs store, run by a worker thread
 * (./objects-worker.ts) started beside the chain check, so the two share the CPUs.
 * Its problems are held until verify reaches the objects phase, and taken in the
 * order the phase itself finds them.
 */
class ObjectsInWorker {
  private total: number | null = null;
  private done = 0;
  private onProgress: ((done: number, total: number) => void) | null = null;
  private readonly worker: Worker;
  private readonly started: Promise<number>;
  /** The worker's result, or the error that stopped it (never rejects: nothing is left unhandled while the chain runs). */
  private readonly finished: Promise<ObjectsResult | { failed: unknown }>;

  constructor(data: ObjectsWorkerData) {
    this.worker = startWorker('objects-worker', data);
    let started!: (total: number) => void;
    this.started = new Promise((resolve) => (started = resolve));
    this.finished = new Promise<ObjectsResult>((resolve, reject) => {
      this.worker.on('message', (m: ObjectsWorkerMessage) => {
        if ('result' in m) {
          resolve(m.result);
        } else if ('total' in m) {
          this.total = m.total;
          started(m.total);
        } else {
          this.done = m.done;
          if (this.total !== null) this.onProgress?.(m.done, this.total);
        }
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`objects worker exited with code ${code} before its result`)));
    }).catch((e: unknown) => ({ failed: e }));
    // A worker that fails before counting its objects must not leave the phase waiting.
    void this.finished.then((r) => {
      if ('failed' in r) started(0);
    });
  }

  /** Report the phase's progress and wait for the result; null if the worker failed (the phase is then run here). */
  async result(progress: (p: VerifyProgress) => void): Promise<ObjectsResult | null> {
    const total = await this.started;
    progress({ phase: 'objects', done: this.done, total });
    this.onProgress = (done, t) => progress({ phase: 'objects', done, total: t });
    const r = await this.finished;
    this.onProgress = null;
    if ('failed' in r) return null;
    progress({ phase: 'objects', done: r.objects, total });
    return r;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
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
