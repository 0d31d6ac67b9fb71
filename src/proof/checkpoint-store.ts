import { VaultError } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import { parseCheckpoint, type SignedCheckpoint } from './checkpoint.js';
import { ProofError } from './errors.js';
import { Frontier, HASH_SIZE } from './merkle.js';
import type { LedgerPosition } from './ledger-tree.js';
import { MAX_NOTE_BYTES, splitNote } from './note.js';

/**
 * Checkpoints in the vault, as immutable named objects:
 *
 * - `ledger/checkpoints/<size, 12 digits>.checkpoint`: the signed note, byte for byte;
 * - `ledger/tree/<size, 12 digits>.json`: the tree's frontier at that size and the
 *   ledger position it stands at, so the next checkpoint extends this one by hashing
 *   only the entries appended since. Written before its checkpoint; a cache that is
 *   checked against the signed root whenever it is read.
 *
 * Ed25519 signatures are deterministic, so issuing the checkpoint of a size twice
 * writes the same bytes (a no-op); a different checkpoint for a size already signed
 * fails with VAULT_OBJECT_EXISTS and changes nothing.
 */
export const CHECKPOINT_PREFIX = 'ledger/checkpoints/';
export const TREE_STATE_PREFIX = 'ledger/tree/';

const DIGITS = 12;
const CHECKPOINT_KEY_RE = /^ledger\/checkpoints\/(\d{12})\.checkpoint$/;

export function checkpointKey(size: number): string {
  return `${CHECKPOINT_PREFIX}${String(size).padStart(DIGITS, '0')}.checkpoint`;
}

export function treeStateKey(size: number): string {
  return `${TREE_STATE_PREFIX}${String(size).padStart(DIGITS, '0')}.json`;
}

/** The tree size a checkpoint key names, or null when the key is not one. */
export function parseCheckpointKey(key: string): number | null {
  const m = CHECKPOINT_KEY_RE.exec(key);
  return m ? Number(m[1]) : null;
}

async function readSmall(store: ObjectStore, key: string, limit: number): Promise<Buffer | null> {
  let stream;
  try {
    stream = await store.get(key);
  } catch (e) {
    if (e instanceof VaultError && e.code === 'VAULT_OBJECT_MISSING') return null;
    throw e;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new ProofError('CHECKPOINT_TOO_LARGE', `${key} is larger than ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** Key of the checkpoint for the largest tree in the vault, or null when there is none. */
export async function latestCheckpointKey(store: ObjectStore): Promise<string | null> {
  let latest: string | null = null;
  // Keys list in key order and sizes are zero-padded, so the last one is the largest.
  for await (const obj of store.list(CHECKPOINT_PREFIX)) if (parseCheckpointKey(obj.key) !== null) latest = obj.key;
  return latest;
}

/** The stored signed note of a tree size, unverified, or null. */
export async function readCheckpointNote(store: ObjectStore, size: number): Promise<string | null> {
  const b = await readSmall(store, checkpointKey(size), MAX_NOTE_BYTES);
  return b ? b.toString('utf8') : null;
}

/**
 * The latest signed checkpoint note in the vault, as stored (what
 * `GET /api/v1/ledger/checkpoint` serves), or null when none was issued yet.
 */
export async function latestCheckpoint(store: ObjectStore): Promise<string | null> {
  const key = await latestCheckpointKey(store);
  if (key === null) return null;
  const b = await readSmall(store, key, MAX_NOTE_BYTES);
  return b ? b.toString('utf8') : null;
}

/** Store a signed checkpoint; identical bytes already there are fine. */
export async function putCheckpoint(store: ObjectStore, c: SignedCheckpoint): Promise<{ key: string; created: boolean }> {
  // Guard against storing under a size the note does not state.
  const stated = parseCheckpoint(splitNote(c.note).text);
  if (stated.size !== c.size) throw new ProofError('CHECKPOINT_MALFORMED', `the note states size ${stated.size}, not ${c.size}`);
  const key = checkpointKey(c.size);
  try {
    const put = await store.putNamed(key, Buffer.from(c.note, 'utf8'));
    return { key, created: put.created };
  } catch (e) {
    if (e instanceof VaultError && e.code === 'VAULT_OBJECT_EXISTS') {
      throw new ProofError('CHECKPOINT_CONFLICT', `the vault already holds a different checkpoint for ${c.size} entries (${key}): refusing to sign a second history`, {
        cause: e,
        details: { key },
      });
    }
    throw e;
  }
}

/** A tree's frontier and where it stands in the ledger. */
export interface TreeState {
  frontier: Frontier;
  position: LedgerPosition;
}

const STATE_FORMAT = 'custody-merkle-frontier/v1';

export function encodeTreeState(s: TreeState): Buffer {
  // Deterministic bytes: the same state always makes the same object.
  const doc = {
    format: STATE_FORMAT,
    size: s.frontier.size,
    lastSeq: s.position.seq,
    lastHash: s.position.hash,
    root: s.frontier.root().toString('base64'),
    frontier: s.frontier.hashes().map((h) => h.toString('base64')),
  };
  return Buffer.from(JSON.stringify(doc) + '\n', 'utf8');
}

export function decodeTreeState(data: Buffer): TreeState {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ProofError('CHECKPOINT_STATE_INVALID', 'the tree state is not JSON', { cause: e });
  }
  const ok =
    doc.format === STATE_FORMAT &&
    Number.isSafeInteger(doc.size) &&
    doc.size === doc.lastSeq &&
    typeof doc.lastHash === 'string' &&
    /^[0-9a-f]{64}$/.test(doc.lastHash) &&
    Array.isArray(doc.frontier) &&
    doc.frontier.every((h) => typeof h === 'string' && Buffer.from(h, 'base64').length === HASH_SIZE);
  if (!ok) throw new ProofError('CHECKPOINT_STATE_INVALID', 'the tree state is not a custody frontier');
  const frontier = new Frontier(doc.size as number, (doc.frontier as string[]).map((h) => Buffer.from(h, 'base64')));
  return { frontier, position: { seq: doc.lastSeq as number, hash: doc.lastHash as string } };
}

export async function putTreeState(store: ObjectStore, s: TreeState): Promise<void> {
  await store.putNamed(treeStateKey(s.frontier.size), encodeTreeState(s));
}

/** The stored tree state of a size, or null when missing; CHECKPOINT_STATE_INVALID when damaged. */
export async function readTreeState(store: ObjectStore, size: number): Promise<TreeState | null> {
  const b = await readSmall(store, treeStateKey(size), 64 * 1024);
  return b ? decodeTreeState(b) : null;
}
