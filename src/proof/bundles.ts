import { errorMessage, isCustodyError } from '../core/index.js';
import { canonicalLine, type Ledger } from '../ledger/index.js';
import { openCheckpoint, type OpenCheckpointOptions, type SignedCheckpoint } from './checkpoint.js';
import { ProofError } from './errors.js';
import { leafHash, type MerkleTree } from './merkle.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

/**
 * Self-contained proofs, as JSON documents an auditor can check offline with the
 * station's public key alone (scripts/verify-proof.mjs; docs/proofs.md). Hashes are
 * standard base64, as in checkpoints.
 */

export const INCLUSION_FORMAT = 'custody-inclusion-proof/v1';
export const CONSISTENCY_FORMAT = 'custody-consistency-proof/v1';

/** Entry `seq` is leaf seq - 1 of the tree of `treeSize` entries whose root `checkpoint` signs. */
export interface InclusionBundle {
  format: typeof INCLUSION_FORMAT;
  seq: number;
  treeSize: number;
  /** The entry's line in `custody ledger export` (the leaf's data). */
  line: string;
  /** SHA-256(0x00 || line). */
  leafHash: string;
  /** RFC 9162 inclusion path, from the leaf's sibling upwards. */
  proof: string[];
  rootHash: string;
  /** The signed checkpoint of treeSize entries, or null when none was signed at that size. */
  checkpoint: string | null;
}

/** The tree of size1 entries (checkpoint1) is a prefix of the tree of size2 entries. */
export interface ConsistencyBundle {
  format: typeof CONSISTENCY_FORMAT;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  /** RFC 9162 consistency proof. */
  proof: string[];
  checkpoint1: string;
  /** The signed checkpoint of size2 entries, or null when size2 is the ledger's current, unsigned size. */
  checkpoint2: string | null;
}

const b64 = (b: Buffer): string => b.toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

/**
 * Prove that ledger entry `seq` is in the tree of `size` entries. `tree` is the full
 * tree of the current ledger; the proof is checked against `checkpoint`'s root (when
 * given) before it is returned, so a ledger that no longer matches the checkpoint
 * fails here with LEDGER_INCONSISTENT instead of producing a proof that fails later.
 */
export function proveInclusion(tree: MerkleTree, ledger: Ledger, seq: number, size: number, checkpoint: SignedCheckpoint | null): InclusionBundle {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > size) throw new ProofError('PROOF_BAD_ARGUMENT', `entry ${seq} is not in a tree of ${size} entries`);
  if (size > tree.size) throw new ProofError('PROOF_BAD_ARGUMENT', `the ledger has ${tree.size} entries, fewer than ${size}`);
  if (checkpoint && checkpoint.size !== size) throw new ProofError('PROOF_BAD_ARGUMENT', `the checkpoint is for ${checkpoint.size} entries, not ${size}`);
  const entry = ledger.get(seq);
  if (!entry) throw new ProofError('PROOF_BAD_ARGUMENT', `entry ${seq} is not in the ledger`);
  const line = canonicalLine(entry);
  const leaf = leafHash(line);
  if (!leaf.equals(tree.leaf(seq - 1))) throw new ProofError('LEDGER_INCONSISTENT', `entry ${seq} changed while its proof was made`);
  const proof = tree.inclusionProof(seq - 1, size);
  const root = tree.root(size);
  if (checkpoint && !checkpoint.root.equals(root)) {
    throw new ProofError('LEDGER_INCONSISTENT', `the ledger's first ${size} entries no longer hash to the signed checkpoint's root: history was rewritten since it was signed`);
  }
  verifyInclusion(seq - 1, size, leaf, proof, root);
  return {
    format: INCLUSION_FORMAT,
    seq,
    treeSize: size,
    line,
    leafHash: b64(leaf),
    proof: proof.map(b64),
    rootHash: b64(root),
    checkpoint: checkpoint?.note ?? null,
  };
}

/**
 * Check an inclusion bundle: the checkpoint's signature by a trusted key, then the
 * leaf hash of the line, then the path to the signed root. Returns the checkpoint.
 */
export function verifyInclusionBundle(b: InclusionBundle, trust: OpenCheckpointOptions): SignedCheckpoint {
  if (b.format !== INCLUSION_FORMAT) throw new ProofError('PROOF_MALFORMED', `not a ${INCLUSION_FORMAT} document`);
  if (b.checkpoint === null) throw new ProofError('PROOF_UNSIGNED', 'the proof is to an unsigned root: no checkpoint was signed at its size');
  const cp = openCheckpoint(b.checkpoint, trust);
  if (cp.size !== b.treeSize) throw new ProofError('PROOF_MALFORMED', `the checkpoint is for ${cp.size} entries, the proof for ${b.treeSize}`);
  const leaf = leafHash(b.line);
  if (b64(leaf) !== b.leafHash) throw new ProofError('PROOF_MALFORMED', 'the leaf hash is not the hash of the line');
  let seqInLine: unknown;
  try {
    seqInLine = (JSON.parse(b.line) as { seq?: unknown }).seq;
  } catch (e) {
    throw new ProofError('PROOF_MALFORMED', 'the line is not a ledger entry', { cause: e });
  }
  if (seqInLine !== b.seq) throw new ProofError('PROOF_MALFORMED', `the line is entry ${String(seqInLine)}, the proof says ${b.seq}`);
  verifyInclusion(b.seq - 1, b.treeSize, leaf, b.proof.map(unb64), cp.root);
  return cp;
}

/** The outcome of checking that the ledger extends a checkpoint. */
export interface ExtendsResult {
  ok: boolean;
  /** LEDGER_INCONSISTENT, or a PROOF_* code, when not ok. */
  code?: string;
  reason?: string;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
}

/**
 * Does the ledger (its full, lenient tree) extend `from`? Builds the RFC 9162
 * consistency proof from the checkpoint's size to the tree's and verifies it against
 * the signed root: a rewritten history (even with every hash recomputed) cannot
 * pass, nor can a ledger that lost entries.
 */
export function checkExtends(tree: MerkleTree, from: SignedCheckpoint): ExtendsResult {
  const size2 = tree.size;
  const base = { size1: from.size, size2, root1: b64(from.root), root2: b64(tree.root()), proof: [] as string[] };
  if (from.size > size2) {
    return { ...base, ok: false, code: 'LEDGER_INCONSISTENT', reason: `the ledger has ${size2} entries, fewer than the ${from.size} the checkpoint signed: entries were removed` };
  }
  if (from.size === 0) return { ...base, ok: true };
  const proof = tree.consistencyProof(from.size, size2);
  base.proof = proof.map(b64);
  try {
    verifyConsistency(from.size, size2, proof, from.root, tree.root());
  } catch (e) {
    return {
      ...base,
      ok: false,
      code: 'LEDGER_INCONSISTENT',
      reason: `the ledger's first ${from.size} entries no longer hash to the checkpoint's root (${errorMessage(e)}): history was rewritten since it was signed`,
    };
  }
  return { ...base, ok: true };
}

/** A consistency bundle between two signed checkpoints (or one and the current ledger). */
export function proveConsistency(tree: MerkleTree, from: SignedCheckpoint, to: SignedCheckpoint | null): ConsistencyBundle {
  const size2 = to?.size ?? tree.size;
  if (from.size < 1 || from.size > size2) throw new ProofError('PROOF_BAD_ARGUMENT', `no consistency proof from ${from.size} to ${size2} entries`);
  const root1 = tree.root(from.size);
  const root2 = tree.root(size2);
  if (!root1.equals(from.root) || (to && !root2.equals(to.root))) {
    throw new ProofError('LEDGER_INCONSISTENT', 'the ledger no longer matches the checkpoints: history was rewritten since they were signed');
  }
  const proof = tree.consistencyProof(from.size, size2);
  verifyConsistency(from.size, size2, proof, root1, root2);
  return {
    format: CONSISTENCY_FORMAT,
    size1: from.size,
    size2,
    root1: b64(root1),
    root2: b64(root2),
    proof: proof.map(b64),
    checkpoint1: from.note,
    checkpoint2: to?.note ?? null,
  };
}

/** Check a consistency bundle: both signatures, then the proof between the signed roots. */
export function verifyConsistencyBundle(b: ConsistencyBundle, trust: OpenCheckpointOptions): { from: SignedCheckpoint; to: SignedCheckpoint } {
  if (b.format !== CONSISTENCY_FORMAT) throw new ProofError('PROOF_MALFORMED', `not a ${CONSISTENCY_FORMAT} document`);
  if (b.checkpoint2 === null) throw new ProofError('PROOF_UNSIGNED', 'the proof is to an unsigned root');
  const from = openCheckpoint(b.checkpoint1, trust);
  const to = openCheckpoint(b.checkpoint2, trust);
  if (from.size !== b.size1 || to.size !== b.size2) throw new ProofError('PROOF_MALFORMED', 'the checkpoints are not of the sizes the proof states');
  verifyConsistency(from.size, to.size, b.proof.map(unb64), from.root, to.root);
  return { from, to };
}

/** A stable code for an error, for reports. */
export function errorCode(e: unknown): string {
  return isCustodyError(e) ? e.code : 'ERROR';
}
