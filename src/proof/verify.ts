import { ProofError } from './errors.js';
import { HASH_SIZE, nodeHash } from './merkle.js';

/**
 * Verification of inclusion and consistency proofs, as RFC 9162 §2.1.3.2 and
 * §2.1.4.2 specify them. Sizes and indices may be numbers or BigInts; the arithmetic
 * is done in BigInt, so it is exact over the whole uint64 range of any RFC 6962 log.
 *
 * Every failure throws a {@link ProofError} saying why; success returns nothing.
 */

export type Uint64 = number | bigint;

const MAX_UINT64 = (1n << 64n) - 1n;

function u64(name: string, v: Uint64): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new ProofError('PROOF_BAD_ARGUMENT', `${name} is not an integer: ${v}`);
  const b = BigInt(v);
  if (b < 0n || b > MAX_UINT64) throw new ProofError('PROOF_BAD_ARGUMENT', `${name} is outside 0..2^64-1: ${b}`);
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function assertHashes(what: string, proof: readonly Uint8Array[]): void {
  for (const [i, p] of proof.entries()) {
    if (p.length !== HASH_SIZE) throw new ProofError('PROOF_MALFORMED', `${what} element ${i} has ${p.length} bytes, not ${HASH_SIZE}`);
  }
}

/**
 * The root that an inclusion proof for `leafHash` at `index` leads to in a tree of
 * `size` leaves (RFC 9162 §2.1.3.2 steps 1–5, without the final comparison).
 */
export function rootFromInclusionProof(index: Uint64, size: Uint64, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  const idx = u64('leaf index', index);
  const n = u64('tree size', size);
  if (idx >= n) throw new ProofError('PROOF_BAD_INDEX', `leaf index ${idx} is not in a tree of ${n} leaves`);
  if (leafHash.length !== HASH_SIZE) throw new ProofError('PROOF_MALFORMED', `the leaf hash has ${leafHash.length} bytes, not ${HASH_SIZE}`);
  assertHashes('inclusion proof', proof);
  let fn = idx;
  let sn = n - 1n;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0n) throw new ProofError('PROOF_WRONG_LENGTH', `the inclusion proof is longer than a tree of ${n} leaves needs`);
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError('PROOF_WRONG_LENGTH', `the inclusion proof is shorter than a tree of ${n} leaves needs`);
  return r;
}

/** Check that `leafHash` is leaf `index` of the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(index: Uint64, size: Uint64, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const r = rootFromInclusionProof(index, size, leafHash, proof);
  if (!sameBytes(r, root)) throw new ProofError('PROOF_ROOT_MISMATCH', 'the inclusion proof does not lead to the expected root hash');
}

/**
 * Check that the tree of `size1` leaves with root `root1` is a prefix of the tree of
 * `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
 *
 * Equal sizes need an empty proof and equal roots. A proof from the empty tree is
 * refused as meaningless (it would prove nothing), as transparency-dev/merkle does.
 */
export function verifyConsistency(size1: Uint64, size2: Uint64, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  const first = u64('size1', size1);
  const second = u64('size2', size2);
  if (first === 0n) throw new ProofError('PROOF_BAD_ARGUMENT', 'a consistency proof from the empty tree is meaningless');
  if (second < first) throw new ProofError('PROOF_BAD_ARGUMENT', `size2 ${second} is smaller than size1 ${first}`);
  if (first === second) {
    if (proof.length > 0) throw new ProofError('PROOF_WRONG_LENGTH', 'the sizes are equal, so the proof must be empty');
    if (!sameBytes(root1, root2)) throw new ProofError('PROOF_ROOT_MISMATCH', 'the sizes are equal but the roots differ');
    return;
  }
  // 1. An empty path cannot prove anything between different sizes.
  if (proof.length === 0) throw new ProofError('PROOF_WRONG_LENGTH', 'the consistency proof is empty');
  assertHashes('consistency proof', proof);
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE) throw new ProofError('PROOF_MALFORMED', `root hashes have ${HASH_SIZE} bytes`);
  // 2. When first is a power of two, the old root is itself a node of the new tree.
  const path: readonly Uint8Array[] = (first & (first - 1n)) === 0n ? [root1, ...proof] : proof;
  // 3-4.
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  // 6.
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new ProofError('PROOF_WRONG_LENGTH', 'the consistency proof is longer than the trees need');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7.
  if (sn !== 0n) throw new ProofError('PROOF_WRONG_LENGTH', 'the consistency proof is shorter than the trees need');
  if (!sameBytes(fr, root1)) throw new ProofError('PROOF_ROOT_MISMATCH', `the proof does not lead to the root of the tree of ${first} leaves: the older tree is not a prefix`);
  if (!sameBytes(sr, root2)) throw new ProofError('PROOF_ROOT_MISMATCH', `the proof does not lead to the root of the tree of ${second} leaves`);
}
