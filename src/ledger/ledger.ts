import { hash as oneShotHash } from 'node:crypto';
import { createRequire } from 'node:module';
import canonicalizeModule from 'canonicalize';
import { Catalog, type Db, type TxObserver } from '../catalog/index.js';
import { LedgerError, rfc3339, sha256Hex, systemClock, type Clock } from '../core/index.js';

// The package is CommonJS whose typings claim an ES default export; at run time the
// default import is the function itself.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

type EntryDataCheck = (type: string, data: unknown) => string[];
let entryDataCheck: EntryDataCheck | undefined;

/**
 * The entry types' schemas (./entry-types.ts) are built with zod, whose import is about
 * half of a short command's start; a command that only reads the ledger (`custody
 * verify`) never needs them. So they are loaded at the first append, synchronously
 * (require of an ES module, which every supported Node does): every append is still
 * checked against its type's schema before it enters the chain. Importing
 * entry-types.ts installs its check here first (the test runner does, having no .js).
 */
export function installEntryDataCheck(check: EntryDataCheck): void {
  entryDataCheck = check;
}

function entryDataProblems(type: string, data: unknown): string[] {
  entryDataCheck ??= (createRequire(import.meta.url)('./entry-types.js') as { entryDataProblems: EntryDataCheck }).entryDataProblems;
  return entryDataCheck(type, data);
}

export const GENESIS_PREV = '0'.repeat(64);

/** One ledger entry, exactly the fields of the public format (docs/ledger.md). */
export interface LedgerEntry {
  seq: number;
  time: string;
  type: string;
  actor: string;
  subject: string | null;
  data: Record<string, unknown>;
  prev: string;
  hash: string;
}

export type UnhashedEntry = Omit<LedgerEntry, 'hash'>;

export interface NewLedgerEntry {
  type: string;
  actor: string;
  subject?: string | null;
  data?: Record<string, unknown>;
}

/** RFC 8785 (JCS) canonical JSON. Throws on values JSON cannot carry. */
export function canonicalJson(value: unknown): string {
  // Plain JSON values (what every caller of append passes) are written by
  // canonicalOfPlain; anything else (a Date, a toJSON, undefined, a function, a
  // non-finite number) by `canonicalize`, whose semantics that fast form follows.
  const fast = canonicalOfPlain(value);
  if (fast !== null) return fast;
  const s = canonicalize(value);
  if (s === undefined) throw new LedgerError('LEDGER_NOT_JSON', 'value has no JSON form');
  return s;
}

/**
 * RFC 8785 text of a plain JSON value — null, a boolean, a finite number, a string, an
 * array of plain values, or an object with the plain prototype (or none) and no toJSON
 * whose own properties are plain values or undefined (left out, as JSON does) — or
 * null for anything else. Byte for byte `canonicalize` of such a value (a test holds
 * it to it): keys sorted by UTF-16 code units, strings and numbers as JSON.stringify
 * writes them.
 */
function canonicalOfPlain(v: unknown): string | null {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : null;
    case 'object':
      break;
    default:
      return null;
  }
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const s = canonicalOfPlain(v[i]);
      if (s === null) return null;
      out += i === 0 ? s : ',' + s;
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return null;
  const o = v as Record<string, unknown>;
  if ('toJSON' in o) return null;
  const keys = Object.keys(o).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    const s = canonicalOfPlain(x);
    if (s === null) return null;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + s;
    first = false;
  }
  return out + '}';
}

// The canonical forms of an entry, written out field by field. RFC 8785 orders an
// object's keys by their UTF-16 code units — actor, data, hash, prev, seq, subject,
// time, type — and writes strings and numbers as JSON.stringify does (which is what
// `canonicalize` calls for them), so given the canonical text of `data` these are
// byte for byte what canonicalJson of the whole entry gives (a test holds them to it),
// without walking and re-serialising data for every hash, line and check.
const q = (s: string): string => JSON.stringify(s);
const nq = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

/** The canonical JSON of an entry without its hash, from its fields and the canonical text of its data. */
export function hashInputOf(seq: number, time: string, type: string, actor: string, subject: string | null, dataJson: string, prev: string): string {
  return `{"actor":${q(actor)},"data":${dataJson},"prev":${q(prev)},"seq":${JSON.stringify(seq)},"subject":${nq(subject)},"time":${q(time)},"type":${q(type)}}`;
}

/** The canonical line of an entry, from its fields and the canonical text of its data. */
export function lineOf(seq: number, time: string, type: string, actor: string, subject: string | null, dataJson: string, prev: string, hash: string): string {
  return `{"actor":${q(actor)},"data":${dataJson},"hash":${q(hash)},"prev":${q(prev)},"seq":${JSON.stringify(seq)},"subject":${nq(subject)},"time":${q(time)},"type":${q(type)}}`;
}

/**
 * Entries this process made by appending, with the canonical text of their data. Such
 * an entry is frozen, data and all, so what was hashed at the append is still what it
 * holds: its hash needs no recomputing and its line no re-serialising when the Merkle
 * upkeep, the sealer or a listener asks for them right after.
 */
const appended = new WeakMap<LedgerEntry, string>();

function deepFreeze(v: unknown): void {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
}

/** SHA-256 of a string as hex, in one call (no Hash object per entry). */
export function sha256Of(text: string): string {
  return oneShotHash('sha256', text, 'hex');
}

/** hash = SHA-256 of the canonical JSON of the entry without its hash. */
export function entryHash(e: UnhashedEntry): string {
  const dataJson = appended.get(e as LedgerEntry);
  if (dataJson !== undefined) return (e as LedgerEntry).hash;
  const { seq, time, type, actor, subject, data, prev } = e;
  return sha256Hex(canonicalJson({ seq, time, type, actor, subject, data, prev }));
}

/** The entry's line in `custody ledger export` and in sealed segments (no newline). */
export function canonicalLine(e: LedgerEntry): string {
  const dataJson = appended.get(e);
  if (dataJson !== undefined) return lineOf(e.seq, e.time, e.type, e.actor, e.subject, dataJson, e.prev, e.hash);
  const { seq, time, type, actor, subject, data, prev, hash } = e;
  return canonicalJson({ seq, time, type, actor, subject, data, prev, hash });
}

/**
 * Whether a stored data column is exactly the canonical JSON of an object — as every
 * append writes it. Then the entry's hash input and line can be built from the row's
 * text as it is (hashInputOf, lineOf); a column in any other form (hand-edited, or
 * not an object) is read the slow way, by parsing and canonicalising it, so it is
 * judged exactly as before.
 */
export function isCanonicalDataText(text: string): boolean {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return false;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  // JSON.parse keeps the text's key order (integer-like keys aside, which V8 puts
  // first, so they fail the order check) and JSON.stringify writes strings and numbers
  // as canonicalize does: with every object's keys already in sorted order, the text
  // is canonical exactly when JSON.stringify gives it back unchanged. Both are native;
  // nothing is sorted or concatenated in JavaScript.
  return keysSorted(v) && JSON.stringify(v) === text;
}

/** Whether every object in a parsed JSON value has its own keys in UTF-16 code unit order. */
function keysSorted(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    for (const x of v) if (!keysSorted(x)) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  let prev: string | null = null;
  for (const k in o) {
    if (prev !== null && !(prev < k)) return false;
    prev = k;
    const x = o[k];
    if (x !== null && typeof x === 'object' && !keysSorted(x)) return false;
  }
  return true;
}

/** A ledger row exactly as stored: `data` is the text in the column, not yet parsed. */
export interface RawLedgerRow {
  seq: number;
  time: string;
  type: string;
  actor: string;
  subject: string | null;
  data: string;
  prev: string;
  hash: string;
}

function fromRow(r: RawLedgerRow): LedgerEntry {
  return { ...r, data: JSON.parse(r.data) as Record<string, unknown> };
}

const TYPE_RE = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/;

/**
 * The append-only, hash-chained ledger in the catalog.
 *
 * Invariant: an entry that records a change is appended in the same SQLite
 * transaction as the change, so neither exists without the other. Appends are
 * serialised by SQLite's write lock (callers use IMMEDIATE transactions).
 */
export class Ledger implements TxObserver {
  private readonly stmtHead;
  private readonly stmtLast;
  private readonly stmtInsert;
  private readonly stmtGet;
  private readonly stmtRange;
  private readonly stmtCount;
  private readonly listeners = new Set<(e: LedgerEntry) => void>();
  private pending: LedgerEntry[] = [];

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.stmtHead = db.prepare<[], RawLedgerRow>('SELECT * FROM ledger ORDER BY seq DESC LIMIT 1');
    this.stmtLast = db.prepare<[], [number, string]>('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').raw();
    this.stmtInsert = db.prepare<[number, string, string, string, string | null, string, string, string]>(
      'INSERT INTO ledger (seq, time, type, actor, subject, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.stmtGet = db.prepare<[number], RawLedgerRow>('SELECT * FROM ledger WHERE seq = ?');
    this.stmtRange = db.prepare<[number, number], RawLedgerRow>('SELECT * FROM ledger WHERE seq >= ? AND seq <= ? ORDER BY seq');
    this.stmtCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM ledger');
  }

  /**
   * Append an entry. Inside a caller's transaction it joins it (the entry commits or
   * rolls back with the change it records); outside one it runs in its own.
   */
  append(input: NewLedgerEntry): LedgerEntry {
    if (!TYPE_RE.test(input.type)) throw new LedgerError('LEDGER_BAD_TYPE', `bad ledger entry type "${input.type}"`);
    // The data as it will be hashed (undefined fields dropped), checked against its
    // type's schema first: a wrong shape never enters the chain.
    const dataJson = canonicalJson(input.data ?? {});
    const data = JSON.parse(dataJson) as Record<string, unknown>;
    const problems = entryDataProblems(input.type, data);
    if (problems.length > 0) {
      throw new LedgerError('LEDGER_ENTRY_INVALID', `refusing a ${input.type} ledger entry: ${problems.join('; ')}`, { details: { type: input.type, problems } });
    }
    deepFreeze(data);
    const subject = input.subject ?? null;
    const run = (): LedgerEntry => {
      const last = this.stmtLast.get();
      const seq = last ? last[0] + 1 : 1;
      const prev = last ? last[1] : GENESIS_PREV;
      const time = this.timeNow();
      const hash = sha256Of(hashInputOf(seq, time, input.type, input.actor, subject, dataJson, prev));
      this.stmtInsert.run(seq, time, input.type, input.actor, subject, dataJson, prev, hash);
      const entry: LedgerEntry = Object.freeze({ seq, time, type: input.type, actor: input.actor, subject, data, prev, hash });
      appended.set(entry, dataJson);
      return entry;
    };
    const entry = this.db.inTransaction ? run() : this.db.transaction(run).immediate();
    if (this.listeners.size > 0) {
      // Listeners hear of an entry only once it is durable, never of one that rolls back.
      if (this.db.inTransaction) this.pending.push(entry);
      else for (const l of this.listeners) l(entry);
    }
    return entry;
  }

  private lastMs = Number.NaN;
  private lastTime = '';

  /** The clock's time as RFC 3339; a batch appends many entries in one millisecond, which share one string. */
  private timeNow(): string {
    const d = this.clock.now();
    const ms = d.getTime();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = rfc3339(d);
    }
    return this.lastTime;
  }

  /** Call after a transaction that appended entries has committed. */
  flushCommitted(): void {
    const list = this.pending;
    this.pending = [];
    for (const e of list) for (const l of this.listeners) l(e);
  }

  /** Drop entries heard of in a transaction that rolled back. */
  discardPending(): void {
    this.pending = [];
  }

  committed(): void {
    this.flushCommitted();
  }

  rolledBack(): void {
    this.discardPending();
  }

  onAppend(listener: (e: LedgerEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  head(): LedgerEntry | null {
    const r = this.stmtHead.get();
    return r ? fromRow(r) : null;
  }

  get(seq: number): LedgerEntry | null {
    const r = this.stmtGet.get(seq);
    return r ? fromRow(r) : null;
  }

  count(): number {
    return this.stmtCount.get()!.n;
  }

  /** Entries from..to inclusive, in order, streamed from the database in pages. */
  *entries(from = 1, to = Number.MAX_SAFE_INTEGER, pageSize = 5000): Generator<LedgerEntry> {
    let next = from;
    while (next <= to) {
      const rows = this.stmtRange.all(next, Math.min(to, next + pageSize - 1));
      for (const r of rows) yield fromRow(r);
      if (rows.length === 0) {
        // A gap (deleted rows): keep scanning for what follows, if anything does.
        const after = this.db.prepare<[number, number], { seq: number }>('SELECT seq FROM ledger WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1').get(next, to);
        if (!after) return;
        next = after.seq;
        continue;
      }
      next = rows[rows.length - 1]!.seq + 1;
    }
  }
}

declare module '../catalog/catalog.js' {
  interface Catalog {
    /** The hash-chained ledger in this catalog's database (attached by src/ledger). */
    readonly ledger: Ledger;
  }
}

const ledgers = new WeakMap<Catalog, Ledger>();

/**
 * The ledger kept in a catalog's database, built once per catalog on first use and
 * told of every `catalog.tx` that ends, so that its listeners hear only of
 * committed entries. The catalog neither builds nor imports the ledger: this module
 * attaches it as `catalog.ledger` (as fastify's decorators do) when it is loaded,
 * which keeps the dependency one way, ledger → catalog.
 */
export function ledgerOf(catalog: Catalog): Ledger {
  let ledger = ledgers.get(catalog);
  if (!ledger) {
    ledger = new Ledger(catalog.db, catalog.clock);
    catalog.observeTx(ledger);
    ledgers.set(catalog, ledger);
  }
  return ledger;
}

Object.defineProperty(Catalog.prototype, 'ledger', {
  configurable: false,
  enumerable: false,
  get(this: Catalog): Ledger {
    return ledgerOf(this);
  },
});
