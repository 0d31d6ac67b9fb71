import type { Db } from '../catalog/index.js';
import { errorMessage } from '../core/index.js';
import { isPlainCanonicalObject } from './canonical-scan.js';
import { GENESIS_PREV, hashInputOf, isCanonicalDataText, sha256Of } from './ledger.js';
import { ChainCursor, entryFromRaw } from './segments.js';

/** A problem the chain check found (the shape of verify's VerifyProblem). */
export interface ChainProblem {
  code: string;
  seq?: number;
  message: string;
}

/** Where the chain stands before an entry: the seq it expects and the hash the entry's prev must equal. */
export interface ChainLink {
  expectSeq: number;
  prevHash: string;
}

export const CHAIN_START: ChainLink = { expectSeq: 1, prevHash: GENESIS_PREV };

/** The first entry of a range, whose link to the entry before it is checked by whoever knows that entry. */
export interface RangeHead {
  seq: number;
  prev: string;
  /** The entry has a problem of its own (unreadable, or a hash that is not its hash): its link is not checked. */
  broken: boolean;
}

/** What one range of the ledger gave: its problems in seq order, except the head's link. */
export interface ChainRangeResult {
  entries: number;
  head: RangeHead | null;
  /** The chain after the range's last entry (null when the range was empty). */
  end: ChainLink | null;
  problems: ChainProblem[];
  /** Problems found beyond the kept ones. */
  omitted: number;
}

/** A range of seq, both ends inclusive. */
export interface SeqRange {
  from: number;
  to: number;
}

/** What a chain worker is given (./chain-worker.ts). */
export interface ChainWorkerData {
  /** The catalog database file, opened read-only by the worker. */
  file: string;
  range: SeqRange;
  maxProblems: number;
}

/** What a chain worker posts: entries checked so far after each page, then its result. */
export type ChainWorkerMessage = { entries: number } | { result: ChainRangeResult };

/** A ledger row as the chain check reads it: seq, time, type, actor, subject, data, prev, hash. */
type ChainRow = [number, string, string, string, string | null, string, string, string];

const PAGE = 2000;

/**
 * The problems of an entry's link to the chain before it (none, or one): a gap when its seq
 * is not the one expected (the link across a gap cannot be checked), else a prev that
 * is not the hash of the entry before. An entry with a problem of its own is not
 * linked (one edit is one problem). The one place these are worded, so the check in
 * one pass and the check in ranges say the same.
 */
export function linkProblems(link: ChainLink, head: RangeHead): ChainProblem[] {
  if (head.seq !== link.expectSeq) {
    const missing = head.seq - link.expectSeq;
    return [
      {
        code: 'LEDGER_SEQ_GAP',
        seq: link.expectSeq,
        message:
          missing === 1
            ? `entry ${link.expectSeq} is missing from the catalog ledger (the next entry is ${head.seq})`
            : `entries ${link.expectSeq}..${head.seq - 1} are missing from the catalog ledger`,
      },
    ];
  }
  if (!head.broken && head.prev !== link.prevHash) {
    return [{ code: 'LEDGER_PREV_MISMATCH', seq: head.seq, message: `entry ${head.seq} has prev ${head.prev}, but the entry before it hashes to ${link.prevHash}` }];
  }
  return [];
}

/**
 * Recomputes every entry's hash in a range of seq and checks each entry's link to the
 * one before, a page at a time (call {@link ChainRangeCheck.page} until it returns
 * false). Started from the chain's beginning (CHAIN_START), it checks the whole
 * ledger; started from an unknown point (null), the first entry's link is left to the
 * caller, who knows the entry before (linkProblems with the result's head).
 *
 * Each row is hashed from its columns as they are when its data column is in
 * canonical form (as every append writes it): the entry's canonical text is then its
 * columns put together (hashInputOf), with nothing parsed into an entry or serialised
 * again. Canonical form is recognised first by a scan of the text
 * (isPlainCanonicalObject) and, when that cannot tell, by the exact check
 * (isCanonicalDataText). Any other row (a data column in another form, or a hash that
 * does not match) is read the full way (entryFromRaw, ChainCursor), so it is judged
 * exactly as before.
 */
export class ChainRangeCheck {
  private readonly stmt;
  /** Whether the chain before the next row is known (expectSeq and prevHash hold it). */
  private known: boolean;
  private expectSeq = 0;
  private prevHash = '';
  private after: number;
  private done = false;
  entries = 0;
  head: RangeHead | null = null;
  readonly problems: ChainProblem[] = [];
  omitted = 0;

  constructor(
    db: Db,
    private readonly range: SeqRange,
    start: ChainLink | null,
    private readonly maxProblems: number,
  ) {
    this.stmt = db.prepare<[number, number, number], ChainRow>('SELECT seq, time, type, actor, subject, data, prev, hash FROM ledger WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?').raw();
    this.known = start !== null;
    if (start) {
      this.expectSeq = start.expectSeq;
      this.prevHash = start.prevHash;
    }
    this.after = range.from - 1;
  }

  private add(p: ChainProblem): void {
    if (this.problems.length < this.maxProblems) this.problems.push(p);
    else this.omitted++;
  }

  /** Check the next page of rows; false once the range is done. */
  page(): boolean {
    if (this.done) return false;
    const rows = this.stmt.all(this.after, this.range.to, PAGE);
    if (rows.length === 0) {
      this.done = true;
      return false;
    }
    for (const row of rows) this.row(row);
    this.after = rows[rows.length - 1]![0];
    return true;
  }

  /** Check the whole range at once. */
  run(): this {
    while (this.page()) {
      // every page checked
    }
    return this;
  }

  result(): ChainRangeResult {
    return { entries: this.entries, head: this.head, end: this.entries > 0 ? { expectSeq: this.expectSeq, prevHash: this.prevHash } : null, problems: this.problems, omitted: this.omitted };
  }

  private row(row: ChainRow): void {
    const [seq, time, type, actor, subject, data, prev, hash] = row;
    this.entries++;
    let own: ChainProblem | null = null;
    if (sha256Of(hashInputOf(seq, time, type, actor, subject, data, prev)) !== hash || !(isPlainCanonicalObject(data) || isCanonicalDataText(data))) {
      // Not provably its own hash from the columns: the full way, exactly as before.
      // ChainCursor.check compares seq, then the hash, then prev; the seq and the link
      // are linkProblems' to judge, so the cursor is placed where only the hash can fail.
      try {
        const p = new ChainCursor(seq, prev).check(entryFromRaw({ seq, time, type, actor, subject, data, prev, hash }));
        if (p) own = { code: p.code, seq, message: p.message };
      } catch (e) {
        own = { code: 'LEDGER_BAD_ENTRY', seq, message: `entry ${seq} cannot be read: ${errorMessage(e)}` };
      }
    }
    if (!this.known) {
      this.head = { seq, prev, broken: own !== null };
    } else if (seq !== this.expectSeq || (own === null && prev !== this.prevHash)) {
      // The link's problem comes before the entry's own, as one pass reports them.
      for (const p of linkProblems({ expectSeq: this.expectSeq, prevHash: this.prevHash }, { seq, prev, broken: own !== null })) this.add(p);
    }
    if (own) this.add(own);
    // Link the next entry to the hash this one records, so one edit is one problem.
    this.known = true;
    this.expectSeq = seq + 1;
    this.prevHash = hash;
  }
}
