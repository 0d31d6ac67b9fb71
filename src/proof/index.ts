/**
 * The provable ledger (issue 9): an RFC 6962 / 9162 Merkle tree over the ledger's
 * entries, inclusion and consistency proofs, C2SP checkpoints signed as C2SP signed
 * notes with the station key, stored in the vault and handed to witnesses.
 * docs/proofs.md describes the formats and how to check them without custody.
 */
export { ProofError } from './errors.js';
export { EMPTY_ROOT, Frontier, HASH_SIZE, MerkleTree, consistencyProof, inclusionProof, leafHash, nodeHash, rootAt, type LeafSink, type SubtreeSource } from './merkle.js';
export { rootFromInclusionProof, verifyConsistency, verifyInclusion, type Uint64 } from './verify.js';
export {
  ed25519KeyId,
  ed25519Signer,
  ed25519Verifier,
  formatVerifierKey,
  openNote,
  parseVerifierKey,
  publicKeyFromPem,
  signNote,
  splitNote,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
} from './note.js';
export { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint, type OpenCheckpointOptions, type SignedCheckpoint } from './checkpoint.js';
export { LEDGER_START, LedgerTree, entryLeafHash, type LedgerPosition, type LedgerTreeOptions } from './ledger-tree.js';
export {
  CHECKPOINT_PREFIX,
  TREE_STATE_PREFIX,
  checkpointKey,
  latestCheckpoint,
  latestCheckpointKey,
  parseCheckpointKey,
  readCheckpointNote,
  treeStateKey,
} from './checkpoint-store.js';
export { FolderWitness, originFolderName } from './witness.js';
export { CheckpointIssuer, type CheckpointIssuerOptions, type IssueResult, type WitnessReport } from './issuer.js';
export { CheckpointService, type CheckpointServiceOptions } from './service.js';
export {
  CONSISTENCY_FORMAT,
  INCLUSION_FORMAT,
  checkExtends,
  proveConsistency,
  proveInclusion,
  verifyConsistencyBundle,
  verifyInclusionBundle,
  type ConsistencyBundle,
  type ExtendsResult,
  type InclusionBundle,
} from './bundles.js';
export { defaultOrigin, keyHistory, loadStationPublicKey, loadStationSigner, resolveOrigin, stationTrust, stationVerifier, trustedVerifier, type KeyHistory } from './keys.js';
export { checkWitnesses, witnessesFor, type WitnessCheck } from './witnesses-check.js';
