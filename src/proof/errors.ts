import { CustodyError } from '../core/index.js';

/**
 * A proof, checkpoint or signed note that does not verify, or a request for one that
 * cannot exist. Never retryable: the same bytes fail the same way.
 *
 * Codes: PROOF_* (Merkle proofs), NOTE_* (signed notes), CHECKPOINT_* (checkpoints,
 * their storage and witnesses), LEDGER_INCONSISTENT (the ledger does not extend a
 * checkpoint: history was rewritten or entries removed).
 */
export class ProofError extends CustodyError {}
