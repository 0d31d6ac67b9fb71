import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Catalog, Db } from '../catalog/index.js';
import { LedgerError, errorMessage, rfc3339, sha256Hex, type Logger } from '../core/index.js';
import { GENESIS_PREV, canonicalLine, entryHash, isCanonicalDataText, ledgerOf, lineOf, type LedgerEntry, type RawLedgerRow } from './ledger.js';
import type { ObjectStore } from '../vault/index.js';

/** Every sealed segment object lives under this prefix, and nothing else does. */
export const SEGMENT_PREFIX = 'ledger/segments/';

const SEQ_DIGITS = 12;
const SEGMENT_KEY_RE = /^ledger\/segments\/(\d{12})-(\d{12})\.jsonl$/;

/** ledger/segments/<first seq, 12 digits>-<last seq, 12 digits>.jsonl: key order is seq order. */
export function segmentKey(firstSeq: number, lastSeq: number): string {
  return `${SEGMENT_PREFIX}${String(firstSeq).padStart(SEQ_DIGITS, '0')}-${String(lastSeq).padStart(SEQ_DIGITS, '0')}.jsonl`;
}

/** The range a segment key names, or null when the key is not a well-formed segment key. */
export function parseSegmentKey(key: string): { firstSeq: number; lastSeq: number } | null {
  const m = SEGMENT_KEY_RE.exec(key);
  if (!m) return null;
  const firstSeq = Number(m[1]);
  const lastSeq = Number(m[2]);
  if (firstSeq < 1 || lastSeq < firstSeq) return null;
  return { firstSeq, lastSeq };
}

/** A row of `ledger_segments`. */
export interface SealedSegment {
  firstSeq: number;
  lastSeq: number;
  key: string;
  sha256: string;
  size: number;
  sealedAt: string;
}

export interface SegmentRow {
  first_seq: number;
  last_seq: number;
  key: string;
  sha256: string;
  size: number;
  sealed_at: string;
}

export function segmentFromRow(r: SegmentRow): SealedSegment {
  return { firstSeq: r.first_seq, lastSeq: r.last_seq, key: r.key, sha256: r.sha256, size: r.size, sealedAt: r.sealed_at };
}

/** Record a sealed segment. Call inside a catalog transaction, after the object is durable. */
export function recordSegment(db: Db, s: SealedSegment): void {
  db.prepare(
    'INSERT INTO ledger_segments (first_seq, last_seq, key, sha256, size, sealed_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(s.firstSeq, s.lastSeq, s.key, s.sha256, s.size, s.sealedAt);
}

/** The last sequence number covered by a sealed segment (0 when none is). */
export function sealedThrough(db: Db): number {
  const r = db.prepare<[], { last: number | null }>('SELECT max(last_seq) AS last FROM ledger_segments').get();
  return r?.last ?? 0;
}


/** Parse a stored row into an entry; throws when its data column is not a JSON object. */
export function entryFromRaw(r: RawLedgerRow): LedgerEntry {
  const data = JSON.parse(r.data) as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new LedgerError('LEDGER_BAD_DATA', 'data is not a JSON object');
  return { seq: r.seq, time: r.time, type: r.type, actor: r.actor, subject: r.subject, data: data as Record<string, unknown>, prev: r.prev, hash: r.hash };
}

/** The canonical line of a stored row, or null when the row cannot be read as an entry. */
export function rawCanonicalLine(r: RawLedgerRow): string | null {
  // A data column in canonical form (as appends write it) goes into the line as it is.
  if (isCanonicalDataText(r.data)) return lineOf(r.seq, r.time, r.type, r.actor, r.subject, r.data, r.prev, r.hash);
  try {
    return canonicalLine(entryFromRaw(r));
  } catch {
    // An unreadable row has no canonical line; callers report it as a mismatch.
    return null;
  }
}

/**
 * Reads catalog rows for increasing sequence numbers a page at a time, so a caller
 * walking a segment line by line never holds more than one page. Access must be
 * monotonic (each seq asked for is at least the one before).
 */
export class CatalogRowWindow {
  private readonly stmt;
  private rows = new Map<number, RawLedgerRow>();
  private lo = 0;
  private hi = -1;

  constructor(
    db: Db,
    private readonly pageSize = 2000,
  ) {
    this.stmt = db.prepare<[number, number], RawLedgerRow>('SELECT * FROM ledger WHERE seq >= ? AND seq <= ? ORDER BY seq');
  }

  get(seq: number): RawLedgerRow | undefined {
    if (seq < this.lo || seq > this.hi) {
      this.lo = seq;
      this.hi = seq + this.pageSize - 1;
      this.rows = new Map(this.stmt.all(this.lo, this.hi).map((r) => [r.seq, r]));
    }
    return this.rows.get(seq);
  }
}

/** Longest line a segment reader accepts: a real entry is tiny; a huge "line" is damage. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

export interface SegmentLine {
  text: string;
  /** false for a last line with no newline (a truncated or hand-made object). */
  terminated: boolean;
}

/**
 * Splits a segment object into lines as it streams, hashing and counting every byte,
 * so a segment is read once and never held whole. `sha256` and `size` are set once
 * `lines()` has finished.
 */
export class SegmentReader {
  sha256 = '';
  size = 0;

  constructor(private readonly stream: Readable) {}

  async *lines(): AsyncGenerator<SegmentLine> {
    const h = createHash('sha256');
    let carry: Buffer[] = [];
    let carryBytes = 0;
    try {
      for await (const chunk of this.stream) {
        const buf = chunk as Buffer;
        h.update(buf);
        this.size += buf.length;
        let start = 0;
        for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
          const piece = buf.subarray(start, nl);
          const line = carryBytes > 0 ? Buffer.concat([...carry, piece]) : piece;
          carry = [];
          carryBytes = 0;
          start = nl + 1;
          yield { text: line.toString('utf8'), terminated: true };
        }
        if (start < buf.length) {
          carry.push(buf.subarray(start));
          carryBytes += buf.length - start;
          if (carryBytes > MAX_LINE_BYTES) {
            throw new LedgerError('LEDGER_SEGMENT_LINE_TOO_LONG', `a line in the segment is longer than ${MAX_LINE_BYTES} bytes`);
          }
        }
      }
    } finally {
      this.stream.destroy();
    }
    this.sha256 = h.digest('hex');
    if (carryBytes > 0) yield { text: Buffer.concat(carry).toString('utf8'), terminated: false };
  }
}

/**
 * Checks entries one after another: seq runs on by one, the hash is the hash of the
 * entry, and prev is the hash of the entry before. Returns what is wrong, or null.
 */
export class ChainCursor {
  constructor(
    public expectSeq = 1,
    public prevHash = GENESIS_PREV,
  ) {}

  check(e: LedgerEntry): { code: string; message: string } | null {
    if (e.seq !== this.expectSeq) {
      return { code: 'LEDGER_SEQ_GAP', message: `expected entry ${this.expectSeq}, found ${e.seq}` };
    }
    const recomputed = entryHash(e);
    if (recomputed !== e.hash) {
      return { code: 'LEDGER_HASH_MISMATCH', message: `entry ${e.seq} hashes to ${recomputed}, but records ${e.hash}: its content was changed` };
    }
    if (e.prev !== this.prevHash) {
      return { code: 'LEDGER_PREV_MISMATCH', message: `entry ${e.seq} has prev ${e.prev}, but the entry before it hashes to ${this.prevHash}` };
    }
    return null;
  }

  advance(e: LedgerEntry): void {
    this.expectSeq = e.seq + 1;
    this.prevHash = e.hash;
  }
}

const ENTRY_FIELDS = ['actor', 'data', 'hash', 'prev', 'seq', 'subject', 'time', 'type'];

/**
 * Parse one segment or export line into an entry. The line must be exactly the
 * canonical line of the entry it holds (so there is one byte form per entry).
 */
export function parseEntryLine(text: string): LedgerEntry {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LedgerError('LEDGER_BAD_LINE', `line is not JSON: ${errorMessage(e)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new LedgerError('LEDGER_BAD_LINE', 'line is not a JSON object');
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  if (keys.join(',') !== ENTRY_FIELDS.join(',')) {
    throw new LedgerError('LEDGER_BAD_LINE', `line has fields ${keys.join(',')}, expected exactly ${ENTRY_FIELDS.join(',')}`);
  }
  const ok =
    Number.isSafeInteger(o.seq) &&
    typeof o.time === 'string' &&
    typeof o.type === 'string' &&
    typeof o.actor === 'string' &&
    (o.subject === null || typeof o.subject === 'string') &&
    o.data !== null &&
    typeof o.data === 'object' &&
    !Array.isArray(o.data) &&
    typeof o.prev === 'string' &&
    typeof o.hash === 'string';
  if (!ok) throw new LedgerError('LEDGER_BAD_LINE', 'line has a field of the wrong type');
  const entry = o as unknown as LedgerEntry;
  if (canonicalLine(entry) !== text) throw new LedgerError('LEDGER_BAD_LINE', 'line is not in canonical form (RFC 8785)');
  return entry;
}

export interface LedgerSealerOptions {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  /** Entries per full segment (config ledger.segmentEntries). */
  segmentEntries: number;
  /** How often the partial tail is sealed (config ledger.sealIntervalSeconds); 0: no timer. */
  sealIntervalSeconds: number;
}

/**
 * Seals ledger entries into the vault as immutable segment objects, so the ledger
 * survives the loss of the catalog and a changed catalog can be caught.
 *
 * Invariants:
 * - A segment is recorded in `ledger_segments` only after its object is durable.
 * - Segments are contiguous from seq 1: each starts one after the last recorded one.
 * - Only an unbroken chain is sealed; a broken one is refused, never laundered into
 *   the vault.
 * - Seal runs one at a time (calls queue behind each other).
 */
export class LedgerSealer {
  private readonly catalog: Catalog;
  private readonly store: ObjectStore;
  private readonly log: Logger;
  private readonly segmentEntries: number;
  private readonly intervalMs: number;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Cached sealed-through seq, to decide cheaply on each append whether a segment filled. */
  private through = 0;
  private backgroundQueued = false;
  /** After a failure, appends stop triggering seals until the timer retries. */
  private failing = false;
  private started = false;

  constructor(opts: LedgerSealerOptions) {
    this.catalog = opts.catalog;
    this.store = opts.store;
    this.log = opts.log;
    this.segmentEntries = opts.segmentEntries;
    this.intervalMs = opts.sealIntervalSeconds * 1000;
    if (!Number.isSafeInteger(this.segmentEntries) || this.segmentEntries < 1) {
      throw new LedgerError('LEDGER_BAD_CONFIG', `segmentEntries must be a positive integer, got ${this.segmentEntries}`);
    }
  }

  /**
   * Seal every full segment of unsealed entries; with `partial`, the remaining tail
   * too. Resolves with the segments sealed by this call. Throws on failure (the
   * background triggers log it and try again later).
   */
  seal(opts: { partial?: boolean } = {}): Promise<SealedSegment[]> {
    const run = this.chain.then(() => this.sealNow(opts.partial ?? false));
    this.chain = run.catch(() => undefined); // the next call waits for this one, whatever its outcome
    return run;
  }

  /** Seal on a timer and whenever a segment fills. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.through = sealedThrough(this.catalog.db);
    this.unsubscribe = ledgerOf(this.catalog).onAppend((e) => {
      if (!this.failing && e.seq - this.through >= this.segmentEntries) this.background(false);
    });
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => this.background(true), this.intervalMs);
      this.timer.unref();
    }
    // Entries appended while the daemon was down may already fill segments.
    this.background(false);
  }

  /** Stop the triggers, wait for a running seal, and seal the partial tail. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    try {
      await this.seal({ partial: true });
    } catch (err) {
      this.log.error({ err }, 'final ledger seal failed; the tail stays in the catalog and is sealed at next start');
      throw err;
    }
  }

  private background(partial: boolean): void {
    if (this.backgroundQueued) return;
    this.backgroundQueued = true;
    const run = this.chain.then(async () => {
      this.backgroundQueued = false;
      return this.sealNow(partial);
    });
    this.chain = run.then(
      () => {
        this.failing = false;
      },
      (err: unknown) => {
        this.failing = true;
        this.log.error({ err }, 'ledger seal failed; will retry');
      },
    );
  }

  private async sealNow(partial: boolean): Promise<SealedSegment[]> {
    const sealed: SealedSegment[] = [];
    for (;;) {
      const next = sealedThrough(this.catalog.db) + 1;
      this.through = next - 1;
      const head = ledgerOf(this.catalog).head()?.seq ?? 0;
      if (head < next) break;
      const adopted = await this.adoptOrphan(next, head);
      if (adopted) {
        sealed.push(adopted);
        continue;
      }
      const unsealed = head - next + 1;
      if (unsealed < this.segmentEntries && !partial) break;
      sealed.push(await this.sealRange(next, Math.min(head, next + this.segmentEntries - 1)));
    }
    return sealed;
  }

  /** The bytes of the segment first..last, built from the catalog after checking its chain. */
  private segmentBytes(first: number, last: number): Buffer {
    const before = first === 1 ? null : ledgerOf(this.catalog).get(first - 1);
    if (first > 1 && !before) throw new LedgerError('LEDGER_CHAIN_BROKEN', `refusing to seal from ${first}: entry ${first - 1} is missing`);
    const cursor = new ChainCursor(first, before ? before.hash : GENESIS_PREV);
    const lines: string[] = [];
    for (const e of ledgerOf(this.catalog).entries(first, last)) {
      const problem = cursor.check(e);
      if (problem) throw new LedgerError('LEDGER_CHAIN_BROKEN', `refusing to seal ${first}-${last}: ${problem.message}`, { details: { seq: e.seq } });
      cursor.advance(e);
      lines.push(canonicalLine(e) + '\n');
    }
    if (cursor.expectSeq !== last + 1) {
      throw new LedgerError('LEDGER_CHAIN_BROKEN', `refusing to seal ${first}-${last}: entry ${cursor.expectSeq} is missing`);
    }
    return Buffer.from(lines.join(''), 'utf8');
  }

  private async sealRange(first: number, last: number): Promise<SealedSegment> {
    const data = this.segmentBytes(first, last);
    const key = segmentKey(first, last);
    const put = await this.store.putNamed(key, data);
    const seg: SealedSegment = { firstSeq: first, lastSeq: last, key, sha256: put.sha256, size: put.size, sealedAt: rfc3339(this.catalog.clock.now()) };
    this.catalog.tx(() => recordSegment(this.catalog.db, seg));
    this.through = last;
    this.log.info({ firstSeq: first, lastSeq: last, key, size: put.size }, 'ledger segment sealed');
    return seg;
  }

  /**
   * A segment object starting at `next` that the catalog does not record is left by a
   * seal that stopped between writing the object and recording it. Adopt it when it
   * holds exactly the catalog's entries; anything else is refused.
   */
  private async adoptOrphan(next: number, head: number): Promise<SealedSegment | null> {
    const prefix = `${SEGMENT_PREFIX}${String(next).padStart(SEQ_DIGITS, '0')}-`;
    for await (const obj of this.store.list(prefix)) {
      const range = parseSegmentKey(obj.key);
      if (!range || range.firstSeq !== next) continue;
      if (range.lastSeq > head) {
        throw new LedgerError('LEDGER_SEGMENT_CONFLICT', `segment object ${obj.key} covers entries past the catalog's head ${head}`, { details: { key: obj.key } });
      }
      const expected = this.segmentBytes(range.firstSeq, range.lastSeq);
      const reader = new SegmentReader(await this.store.get(obj.key));
      for await (const _line of reader.lines()) {
        // Only the digest matters here.
      }
      if (reader.sha256 !== sha256Hex(expected)) {
        throw new LedgerError('LEDGER_SEGMENT_CONFLICT', `segment object ${obj.key} is not recorded and differs from the catalog's entries`, { details: { key: obj.key } });
      }
      const seg: SealedSegment = { ...range, key: obj.key, sha256: reader.sha256, size: reader.size, sealedAt: rfc3339(this.catalog.clock.now()) };
      this.catalog.tx(() => recordSegment(this.catalog.db, seg));
      this.through = range.lastSeq;
      this.log.warn({ key: obj.key }, 'adopted a segment object a previous seal wrote but did not record');
      return seg;
    }
    return null;
  }
}
