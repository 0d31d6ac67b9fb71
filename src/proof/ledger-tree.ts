import { setImmediate as nextTurn } from 'node:timers/promises';
import { LedgerError } from '../core/index.js';
import { canonicalLine, ChainCursor, GENESIS_PREV, type Ledger, type LedgerEntry } from '../ledger/index.js';
import { MerkleTree, leafHash, type LeafSink } from './merkle.js';

/** Leaf hash of a ledger entry: SHA-256(0x00 || its line in `custody ledger export`). */
export function entryLeafHash(e: LedgerEntry): Buffer {
  return leafHash(canonicalLine(e));
}

/** Where a tree stands in the ledger: the seq and hash of the last entry it holds. */
export interface LedgerPosition {
  seq: number;
  hash: string;
}

export const LEDGER_START: LedgerPosition = { seq: 0, hash: GENESIS_PREV };

export interface LedgerTreeOptions {
  /**
   * strict (for signing): every entry must be the next seq and chain to the one
   * before (hash recomputed, prev linked), or it is refused with LEDGER_CHAIN_BROKEN:
   * a broken chain is never signed. lenient (for auditing): the entries' lines are
   * taken as they are, so a rewritten or gapped ledger still gives a tree, whose
   * root then fails to match the checkpoints that knew the real one.
   */
  strict: boolean;
}

/**
 * The Merkle tree of the ledger (leaf i is entry seq i + 1), fed from the ledger:
 * built by streaming it once, then grown entry by entry; nothing is recomputed. The
 * leaves go to a full {@link MerkleTree} (proofs) or to a Frontier (roots only).
 */
export class LedgerTree<T extends LeafSink = MerkleTree> {
  readonly strict: boolean;
  private readonly cursor: ChainCursor;
  private last: LedgerPosition;

  private constructor(
    readonly tree: T,
    after: LedgerPosition,
    opts: LedgerTreeOptions,
  ) {
    this.strict = opts.strict;
    if (tree.size !== after.seq) throw new LedgerError('LEDGER_TREE_STATE', `a tree of ${tree.size} leaves cannot stand after entry ${after.seq}`);
    this.cursor = new ChainCursor(after.seq + 1, after.hash);
    this.last = { ...after };
  }

  /** An empty full tree, to be filled from entry 1. */
  static full(opts: LedgerTreeOptions): LedgerTree<MerkleTree> {
    return new LedgerTree(new MerkleTree(), LEDGER_START, opts);
  }

  /** The full tree of the whole ledger. */
  static build(ledger: Ledger, opts: LedgerTreeOptions): LedgerTree<MerkleTree> {
    const t = LedgerTree.full(opts);
    t.sync(ledger);
    return t;
  }

  /** Continue a tree (e.g. a checkpoint's frontier) that holds entries 1..after.seq. */
  static extending<S extends LeafSink>(sink: S, after: LedgerPosition, opts: LedgerTreeOptions): LedgerTree<S> {
    return new LedgerTree(sink, after, opts);
  }

  get size(): number {
    return this.tree.size;
  }

  /** The seq and hash of the last entry added. */
  get position(): LedgerPosition {
    return { ...this.last };
  }

  /** Add the next entry (strict: it must be seq size + 1 and chain to the last one). */
  add(e: LedgerEntry): void {
    if (this.strict) {
      const problem = this.cursor.check(e);
      if (problem) {
        throw new LedgerError('LEDGER_CHAIN_BROKEN', `refusing to add entry ${e.seq} to the Merkle tree: ${problem.message}`, { details: { seq: e.seq, problem: problem.code } });
      }
      this.cursor.advance(e);
    }
    this.tree.appendLeafHash(entryLeafHash(e));
    this.last = { seq: e.seq, hash: e.hash };
  }

  /**
   * Add every entry after the last one added, up to the ledger's head (or `to`). A
   * lenient tree reads past a gap in the seqs: an entry missing from the middle
   * shifts every later leaf, as it should.
   */
  sync(ledger: Ledger, to?: number): number {
    let added = 0;
    for (const e of ledger.entries(this.last.seq + 1, to)) {
      this.add(e);
      added++;
    }
    return added;
  }

  /** Like {@link sync}, giving the event loop a turn every `batch` entries (for the daemon). */
  async syncAsync(ledger: Ledger, opts: { to?: number; batch?: number; signal?: AbortSignal } = {}): Promise<number> {
    const batch = opts.batch ?? 2000;
    let added = 0;
    for (;;) {
      let n = 0;
      for (const e of ledger.entries(this.last.seq + 1, opts.to, batch)) {
        this.add(e);
        if (++n === batch) break;
      }
      added += n;
      if (n < batch) return added;
      opts.signal?.throwIfAborted();
      await nextTurn();
    }
  }
}
