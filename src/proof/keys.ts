import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog/index.js';
import { errorMessage } from '../core/index.js';
import { assertOrigin } from './checkpoint.js';
import { ProofError } from './errors.js';
import { ed25519Signer, ed25519Verifier, formatVerifierKey, parseVerifierKey, publicKeyFromPem, type NoteSigner, type NoteVerifier } from './note.js';

/**
 * The station key (created by `custody init`, see src/vault/station-key.ts) as the
 * checkpoint signer. Read only: a missing key is an error, never replaced here,
 * since checkpoints already handed out name it.
 */

function keyFiles(home: string): { privateKeyFile: string; publicKeyFile: string } {
  const dir = join(home, 'keys');
  return { privateKeyFile: join(dir, 'station.ed25519.pem'), publicKeyFile: join(dir, 'station.ed25519.pub.pem') };
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new ProofError('CHECKPOINT_NO_KEY', `cannot read the station key ${file} (run custody init): ${errorMessage(e)}`, { cause: e });
  }
}

/** The origin custody uses when none is configured: custody/<first 16 hex digits of SHA-256(public key)>. */
export function defaultOrigin(publicKey: Uint8Array): string {
  return `custody/${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;
}

/** The configured origin (checkpoints.origin), or the default one for this key. */
export function resolveOrigin(configured: string, publicKey: Uint8Array): string {
  const origin = configured === '' ? defaultOrigin(publicKey) : configured;
  assertOrigin(origin);
  return origin;
}

/**
 * What the ledger says of the station's earlier keys (issue 20): a station restored
 * without its key signs with a new one, and its `key.rotated` entry names the old key
 * and the origin the checkpoints keep. Checkpoints signed before a rotation verify with
 * the old key, those after it with the new one, all under the one origin.
 */
export interface KeyHistory {
  /** The origin kept across rotations (that of the first key), or null when the key never rotated. */
  origin: string | null;
  /** Raw Ed25519 public keys the station signed with before, oldest first. */
  previous: Buffer[];
}

export function keyHistory(catalog: Catalog): KeyHistory {
  const rows = catalog.db.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'key.rotated' ORDER BY seq").all();
  let origin: string | null = null;
  const previous: Buffer[] = [];
  for (const r of rows) {
    const d = JSON.parse(r.data) as { origin?: unknown; from?: { publicKey?: unknown } };
    if (origin === null && typeof d.origin === 'string') origin = d.origin;
    if (typeof d.from?.publicKey === 'string') previous.push(Buffer.from(d.from.publicKey, 'base64'));
  }
  return { origin, previous };
}

/** The configured origin, else the one kept across key rotations, else this key's default. */
function originFor(configured: string, pub: Uint8Array, history?: KeyHistory): string {
  return resolveOrigin(configured === '' && history?.origin ? history.origin : configured, pub);
}

/**
 * The keys a checkpoint of this station may be signed with: the station key and every
 * key it rotated from (by the ledger's `key.rotated` entries), under the station's origin.
 */
export async function stationTrust(home: string, configuredOrigin: string, catalog: Catalog): Promise<{ verifiers: NoteVerifier[]; origin: string }> {
  const history = keyHistory(catalog);
  const pub = await loadStationPublicKey(home);
  const origin = originFor(configuredOrigin, pub, history);
  return { origin, verifiers: [pub, ...history.previous].map((k) => ed25519Verifier(origin, k)) };
}

/** The station's raw Ed25519 public key, from its public key file. */
export async function loadStationPublicKey(home: string): Promise<Buffer> {
  return publicKeyFromPem(await readKeyFile(keyFiles(home).publicKeyFile));
}

/** The station key as a checkpoint signer whose key name is the origin. */
export async function loadStationSigner(home: string, configuredOrigin: string, history?: KeyHistory): Promise<NoteSigner> {
  const { privateKeyFile, publicKeyFile } = keyFiles(home);
  const pub = publicKeyFromPem(await readKeyFile(publicKeyFile));
  const signer = ed25519Signer(originFor(configuredOrigin, pub, history), await readKeyFile(privateKeyFile));
  if (!signer.publicKey.equals(pub)) throw new ProofError('CHECKPOINT_NO_KEY', `the station's public key file ${publicKeyFile} does not belong to its private key`);
  return signer;
}

/**
 * A trusted checkpoint key given by hand (an auditor's own copy): a verifier key
 * string (name+keyid+base64, which names the origin), or an Ed25519 public key PEM
 * file, used under the configured origin (or the default one for that key).
 */
export async function trustedVerifier(spec: string, configuredOrigin: string): Promise<NoteVerifier> {
  if (/^[^+\s]+\+[0-9a-f]{8}\+/.test(spec.trim())) return parseVerifierKey(spec);
  const pub = publicKeyFromPem(await readKeyFile(spec));
  return ed25519Verifier(resolveOrigin(configuredOrigin, pub), pub);
}

/** The station's own public key as the trusted checkpoint key. */
export async function stationVerifier(home: string, configuredOrigin: string, history?: KeyHistory): Promise<NoteVerifier> {
  const pub = await loadStationPublicKey(home);
  return ed25519Verifier(originFor(configuredOrigin, pub, history), pub);
}

export { formatVerifierKey };
