import { ProofError } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import { assertKeyName, ed25519Verifier, openNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';

/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text
 *
 *     <origin>
 *     <tree size, decimal, no leading zeros>
 *     <root hash, standard base64>
 *
 * signed as a signed note whose key name is the origin. custody writes no extension
 * lines (the spec recommends against them: monitors cannot audit them).
 */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

/** A checkpoint together with the exact signed note it came from. */
export interface SignedCheckpoint extends Checkpoint {
  note: string;
}

export function assertOrigin(origin: string): void {
  // The origin is also the key name, so it obeys the key-name rules too.
  assertKeyName(origin);
}

export function formatCheckpoint(c: Checkpoint): string {
  assertOrigin(c.origin);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new ProofError('CHECKPOINT_MALFORMED', `bad tree size ${c.size}`);
  if (c.root.length !== HASH_SIZE) throw new ProofError('CHECKPOINT_MALFORMED', `a root hash has ${HASH_SIZE} bytes`);
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;
}

/** Parse checkpoint note text (without signatures). Extension lines are refused. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new ProofError('CHECKPOINT_MALFORMED', 'checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new ProofError('CHECKPOINT_MALFORMED', 'a checkpoint has an origin, a tree size and a root hash line');
  if (lines.length > 3) throw new ProofError('CHECKPOINT_MALFORMED', 'custody checkpoints carry no extension lines');
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  if (origin === '') throw new ProofError('CHECKPOINT_MALFORMED', 'the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new ProofError('CHECKPOINT_MALFORMED', `the tree size is not a decimal number without leading zeros: ${JSON.stringify(sizeLine)}`);
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new ProofError('CHECKPOINT_MALFORMED', `the tree size ${sizeLine} is beyond what custody handles`);
  const root = Buffer.from(rootLine, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootLine) throw new ProofError('CHECKPOINT_MALFORMED', 'the root hash is not a base64 SHA-256 hash');
  return { origin, size, root };
}

/** Sign a checkpoint; the signer's key name must be the origin. */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner): SignedCheckpoint {
  if (signer.name !== c.origin) throw new ProofError('CHECKPOINT_KEY_NAME', `the signing key is named ${signer.name}, the checkpoint's origin is ${c.origin}`);
  return { ...c, note: signNote(formatCheckpoint(c), [signer]) };
}

export interface OpenCheckpointOptions {
  /** The trusted Ed25519 public key (raw 32 bytes), used under the name of `origin`. */
  publicKey?: Uint8Array;
  /** Trusted verifiers (e.g. from verifier key strings), instead of or besides publicKey. */
  verifiers?: readonly NoteVerifier[];
  /** The origin the checkpoint must have; default: whatever it names. */
  origin?: string;
}

/**
 * Verify a signed checkpoint: its signature by a trusted key first, then its text.
 * Throws NOTE_* when the signature is missing, unknown or bad, CHECKPOINT_* when the
 * text is not a checkpoint or not of the expected origin.
 */
export function openCheckpoint(note: string | Uint8Array, opts: OpenCheckpointOptions): SignedCheckpoint {
  const noteText = typeof note === 'string' ? note : Buffer.from(note).toString('utf8');
  const known: NoteVerifier[] = [...(opts.verifiers ?? [])];
  if (opts.publicKey) {
    // The key name of a log's signature is its origin: trust the key under the origin
    // expected, or under the one the note names (the signature still has to verify).
    const firstLine = noteText.slice(0, Math.max(0, noteText.indexOf('\n')));
    const name = opts.origin ?? firstLine;
    try {
      known.push(ed25519Verifier(name, opts.publicKey));
    } catch (e) {
      if (!(e instanceof ProofError && e.code === 'NOTE_BAD_KEY_NAME')) throw e;
      // A first line that cannot be a key name: no signature can match it either.
    }
  }
  const opened = openNote(note, known);
  const c = parseCheckpoint(opened.text);
  if (opts.origin !== undefined && c.origin !== opts.origin) {
    throw new ProofError('CHECKPOINT_WRONG_ORIGIN', `the checkpoint is for origin ${c.origin}, expected ${opts.origin}`);
  }
  if (!opened.verifiedBy.some((v) => v.name === c.origin)) {
    throw new ProofError('NOTE_UNKNOWN_KEY', `the checkpoint for ${c.origin} is not signed by that log's key`);
  }
  return { ...c, note: noteText };
}
