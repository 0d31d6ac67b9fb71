import { createHash } from 'node:crypto';
import { ProofError } from './errors.js';

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, an append-only tree that keeps every
 * perfect subtree's hash, and inclusion and consistency proof generation.
 *
 * Index arithmetic uses plain numbers without 32-bit bitwise operators, so it is
 * exact for every index below 2^53 (Number.MAX_SAFE_INTEGER); the verifiers in
 * verify.ts use BigInt and accept the full uint64 range of other logs.
 */

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256(0x00 || data): the hash of one leaf. A string is hashed as UTF-8. */
export function leafHash(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * The hashes of a tree's perfect subtrees: all that proofs are built from. A source
 * can be a real tree ({@link MerkleTree}) or, in tests, a synthetic one far larger
 * than memory.
 */
export interface SubtreeSource {
  /** Number of leaves. */
  readonly size: number;
  /**
   * Hash of the perfect subtree of 2^level leaves starting at leaf index × 2^level.
   * Callers ask only for subtrees that lie wholly inside the tree. A source is
   * append-only: a subtree's hash, once asked for, never changes.
   */
  subtree(level: number, index: number): Buffer;
}

function assertIndex(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError('PROOF_BAD_ARGUMENT', `${name} must be a non-negative safe integer, got ${n}`);
}

/** The largest power of two strictly less than n (n >= 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2(n) when n is a power of two, else -1. */
function exactLog2(n: number): number {
  let level = 0;
  let p = 1;
  while (p < n) {
    p *= 2;
    level++;
  }
  return p === n ? level : -1;
}

/**
 * Hashes of the ranges that are not perfect subtrees (they end at some tree size's
 * right edge), per source. A tree is append-only, so such a hash never changes; the
 * cache makes every proof at a size after the first cost no hashing at all.
 */
const rangeCache = new WeakMap<SubtreeSource, Map<string, Buffer>>();
const RANGE_CACHE_MAX = 8192;

/**
 * MTH(D[start:end]) for a range the RFC's decomposition produces: start is a
 * multiple of the largest power of two below (or equal to) the range's length.
 */
function rangeHash(src: SubtreeSource, start: number, end: number): Buffer {
  const n = end - start;
  const level = exactLog2(n);
  if (level >= 0 && start % n === 0) return src.subtree(level, start / n);
  if (n < 2) throw new ProofError('PROOF_INTERNAL', `range ${start}..${end} is not a subtree`);
  const k = largestPowerOfTwoBelow(n);
  if (start % k !== 0) throw new ProofError('PROOF_INTERNAL', `range ${start}..${end} is not aligned`);
  let cache = rangeCache.get(src);
  const key = `${start}-${end}`;
  const hit = cache?.get(key);
  if (hit) return Buffer.from(hit);
  const h = nodeHash(rangeHash(src, start, start + k), rangeHash(src, start + k, end));
  if (!cache || cache.size >= RANGE_CACHE_MAX) rangeCache.set(src, (cache = new Map()));
  cache.set(key, h);
  return Buffer.from(h);
}

function assertSize(src: SubtreeSource, size: number): void {
  assertIndex('tree size', size);
  if (size > src.size) throw new ProofError('PROOF_BAD_ARGUMENT', `tree size ${size} is beyond the tree's ${src.size} leaves`);
}

/** The root hash of the tree's first `size` leaves (default: all). */
export function rootAt(src: SubtreeSource, size: number = src.size): Buffer {
  assertSize(src, size);
  return size === 0 ? Buffer.from(EMPTY_ROOT) : rangeHash(src, 0, size);
}

/**
 * The inclusion proof of leaf `index` in the tree of the first `size` leaves: RFC
 * 9162 §2.1.3.1 PATH(m, D[n]), ordered from the leaf's sibling up to the root's child.
 */
export function inclusionProof(src: SubtreeSource, index: number, size: number = src.size): Buffer[] {
  assertSize(src, size);
  assertIndex('leaf index', index);
  if (index >= size) throw new ProofError('PROOF_BAD_ARGUMENT', `leaf index ${index} is not in a tree of ${size} leaves`);
  // Walk down from the root; each step keeps the half holding the leaf and records
  // the other half's hash. Recorded top-down, returned bottom-up.
  const path: Buffer[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (index < start + k) {
      path.push(rangeHash(src, start + k, end));
      end = start + k;
    } else {
      path.push(rangeHash(src, start, start + k));
      start += k;
    }
  }
  return path.reverse();
}

/**
 * The consistency proof that the tree of `size1` leaves is a prefix of the tree of
 * `size2` leaves: RFC 9162 §2.1.4.1 PROOF(m, D[n]). Empty when the sizes are equal.
 */
export function consistencyProof(src: SubtreeSource, size1: number, size2: number = src.size): Buffer[] {
  assertSize(src, size2);
  assertIndex('size1', size1);
  if (size1 === 0) throw new ProofError('PROOF_BAD_ARGUMENT', 'a consistency proof from the empty tree is meaningless');
  if (size1 > size2) throw new ProofError('PROOF_BAD_ARGUMENT', `size1 ${size1} is larger than size2 ${size2}`);
  // SUBPROOF(m, D[start:end], b), unrolled: the old tree is [0, size1); at each step
  // the subtree [start, end) holds the old tree's right edge.
  const proof: Buffer[] = [];
  let start = 0;
  let end = size2;
  let wholeOldTree = true; // b: is [start, end) still the old tree's own root?
  while (size1 !== end) {
    const k = largestPowerOfTwoBelow(end - start);
    if (size1 - start <= k) {
      proof.push(rangeHash(src, start + k, end));
      end = start + k;
    } else {
      proof.push(rangeHash(src, start, start + k));
      start += k;
      wholeOldTree = false;
    }
  }
  if (!wholeOldTree) proof.push(rangeHash(src, start, end));
  return proof.reverse();
}

/** Nodes per storage chunk: 1024 × 32 bytes, so a level grows 32 KiB at a time. */
const CHUNK_NODES = 1024;

/** An append-only array of 32-byte hashes in fixed-size chunks (no per-node objects). */
class HashArray {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(h: Uint8Array): void {
    const c = Math.floor(this.length / CHUNK_NODES);
    if (c === this.chunks.length) this.chunks.push(Buffer.alloc(CHUNK_NODES * HASH_SIZE));
    this.chunks[c]!.set(h, (this.length % CHUNK_NODES) * HASH_SIZE);
    this.length++;
  }

  /** A copy of hash i (callers may keep or change it). */
  get(i: number): Buffer {
    const off = (i % CHUNK_NODES) * HASH_SIZE;
    return Buffer.from(this.chunks[Math.floor(i / CHUNK_NODES)]!.subarray(off, off + HASH_SIZE));
  }

  /** Hash i without copying, for hashing it right away. */
  view(i: number): Buffer {
    const off = (i % CHUNK_NODES) * HASH_SIZE;
    return this.chunks[Math.floor(i / CHUNK_NODES)]!.subarray(off, off + HASH_SIZE);
  }

  bytes(): number {
    return this.chunks.length * CHUNK_NODES * HASH_SIZE;
  }
}

/**
 * An append-only Merkle tree that keeps the hash of every perfect subtree, so an
 * append costs one leaf hash plus on average one node hash, and the root and any
 * proof, for the current size or any earlier one, cost O(log n) hashes.
 *
 * Memory: about 64 bytes per leaf (32 for the leaf, 32 for the nodes above it).
 */
export class MerkleTree implements SubtreeSource {
  /** levels[l][i] = hash of leaves [i·2^l, (i+1)·2^l). */
  private readonly levels: HashArray[] = [new HashArray()];
  private _size = 0;

  get size(): number {
    return this._size;
  }

  /** Append a leaf by its hash (see {@link leafHash}). Returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (hash.length !== HASH_SIZE) throw new ProofError('PROOF_BAD_ARGUMENT', `a leaf hash has ${HASH_SIZE} bytes, got ${hash.length}`);
    if (this._size >= Number.MAX_SAFE_INTEGER) throw new ProofError('PROOF_TREE_FULL', 'the tree cannot grow past 2^53 - 1 leaves');
    const index = this._size;
    this.levels[0]!.push(hash);
    this._size++;
    // Each odd index completes a pair: hash it with its left sibling, one level up.
    let i = index;
    let level = 0;
    let h: Uint8Array = hash;
    while (i % 2 === 1) {
      h = nodeHash(this.levels[level]!.view(i - 1), h);
      level++;
      i = (i - 1) / 2;
      if (this.levels.length === level) this.levels.push(new HashArray());
      this.levels[level]!.push(h);
    }
    return index;
  }

  /** Append a leaf by its data (hashed as SHA-256(0x00 || data)). Returns its index. */
  append(data: string | Uint8Array): number {
    return this.appendLeafHash(leafHash(data));
  }

  subtree(level: number, index: number): Buffer {
    const l = this.levels[level];
    if (!l || index >= l.length) throw new ProofError('PROOF_INTERNAL', `no complete subtree at level ${level}, index ${index}`);
    return l.get(index);
  }

  /** The hash of leaf `index`. */
  leaf(index: number): Buffer {
    return this.subtree(0, index);
  }

  root(size: number = this._size): Buffer {
    return rootAt(this, size);
  }

  inclusionProof(index: number, size: number = this._size): Buffer[] {
    return inclusionProof(this, index, size);
  }

  consistencyProof(size1: number, size2: number = this._size): Buffer[] {
    return consistencyProof(this, size1, size2);
  }

  /** Bytes held for node hashes. */
  memoryBytes(): number {
    return this.levels.reduce((n, l) => n + l.bytes(), 0);
  }
}

/** Anything leaves can be appended to by hash: a full tree or a frontier. */
export interface LeafSink {
  readonly size: number;
  appendLeafHash(hash: Uint8Array): number;
  root(): Buffer;
}

/** The levels of the perfect subtrees that make up a tree of `size` leaves, left to right. */
function frontierLevels(size: number): number[] {
  const levels: number[] = [];
  let rest = size;
  let level = 0;
  while (rest > 0) {
    if (rest % 2 === 1) levels.push(level);
    rest = Math.floor(rest / 2);
    level++;
  }
  return levels.reverse();
}

/**
 * The right edge of a tree: the hashes of the perfect subtrees its leaves fall into
 * (one per set bit of the size, largest first), at most 53 hashes. Enough to append
 * and to compute the root, not to prove anything about earlier leaves. A checkpoint
 * stores its frontier, so the next checkpoint extends it by hashing only the new
 * entries — and so, by construction, extends the history the last one signed.
 */
export class Frontier implements LeafSink {
  private readonly stack: Array<{ level: number; hash: Buffer }>;
  private _size: number;

  constructor(size = 0, hashes: readonly Uint8Array[] = []) {
    assertIndex('frontier size', size);
    const levels = frontierLevels(size);
    if (hashes.length !== levels.length) throw new ProofError('PROOF_BAD_ARGUMENT', `a frontier of ${size} leaves has ${levels.length} hashes, got ${hashes.length}`);
    for (const h of hashes) if (h.length !== HASH_SIZE) throw new ProofError('PROOF_BAD_ARGUMENT', `a frontier hash has ${HASH_SIZE} bytes`);
    this.stack = levels.map((level, i) => ({ level, hash: Buffer.from(hashes[i]!) }));
    this._size = size;
  }

  /** The frontier of the first `size` leaves of a tree. */
  static of(src: SubtreeSource, size: number = src.size): Frontier {
    assertSize(src, size);
    let start = 0;
    const hashes = frontierLevels(size).map((level) => {
      const width = 2 ** level;
      const h = src.subtree(level, start / width);
      start += width;
      return h;
    });
    return new Frontier(size, hashes);
  }

  get size(): number {
    return this._size;
  }

  appendLeafHash(hash: Uint8Array): number {
    if (hash.length !== HASH_SIZE) throw new ProofError('PROOF_BAD_ARGUMENT', `a leaf hash has ${HASH_SIZE} bytes, got ${hash.length}`);
    if (this._size >= Number.MAX_SAFE_INTEGER) throw new ProofError('PROOF_TREE_FULL', 'the tree cannot grow past 2^53 - 1 leaves');
    let top: { level: number; hash: Buffer } = { level: 0, hash: Buffer.from(hash) };
    // Merge equal-height subtrees, like carrying in binary addition.
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.level === top.level) {
      const left = this.stack.pop()!;
      top = { level: top.level + 1, hash: nodeHash(left.hash, top.hash) };
    }
    this.stack.push(top);
    return this._size++;
  }

  root(): Buffer {
    if (this.stack.length === 0) return Buffer.from(EMPTY_ROOT);
    // MTH(D[n]) = H(MTH(D[0:k]), MTH(D[k:n])): fold the subtrees from the right.
    let h = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) h = nodeHash(this.stack[i]!.hash, h);
    return Buffer.from(h);
  }

  /** The subtree hashes, largest first (what {@link Frontier} is rebuilt from). */
  hashes(): Buffer[] {
    return this.stack.map((s) => Buffer.from(s.hash));
  }

  clone(): Frontier {
    return new Frontier(this._size, this.hashes());
  }
}
