import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ProofError } from './errors.js';

/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, on node:crypto.
 *
 *     <text, ending in a newline>
 *     <blank line>
 *     — <key name> base64(4-byte key ID || 64-byte signature)
 *
 * key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
 */

const ED25519_TYPE = 0x01;
const EM_DASH = '\u2014';
/** Notes larger than this are refused before any parsing (a checkpoint is ~150 bytes). */
export const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;

/** Key names: non-empty, no Unicode spaces, no '+'. */
const KEY_NAME_RE = /^[^\s+]+$/u;

export function assertKeyName(name: string): void {
  if (!KEY_NAME_RE.test(name)) throw new ProofError('NOTE_BAD_KEY_NAME', `a key name must be non-empty without spaces or "+": ${JSON.stringify(name)}`);
}

/** Strict standard base64 (RFC 4648 §4): what Buffer.from would silently repair is refused. */
function decodeBase64(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'base64');
  if (s.length === 0 || b.toString('base64') !== s) throw new ProofError('NOTE_MALFORMED', `${what} is not standard base64`);
  return b;
}

export function ed25519KeyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, ED25519_TYPE])).update(publicKey).digest().subarray(0, 4);
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new ProofError('NOTE_BAD_KEY', 'not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new ProofError('NOTE_BAD_KEY', `an Ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** Someone who can check signatures of one key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  verify(text: Buffer, signature: Buffer): boolean;
}

/** Someone who can sign: a verifier that also holds the private key. */
export interface NoteSigner extends NoteVerifier {
  sign(text: Buffer): Buffer;
}

export function ed25519Verifier(name: string, publicKey: Uint8Array): NoteVerifier {
  assertKeyName(name);
  const key = publicKeyObject(publicKey);
  const raw = Buffer.from(publicKey);
  return {
    name,
    keyId: ed25519KeyId(name, raw),
    publicKey: raw,
    verify: (text, signature) => signature.length === 64 && verify(null, text, key, signature),
  };
}

/** A signer for `name` from an Ed25519 private key (a KeyObject or PKCS#8 PEM). */
export function ed25519Signer(name: string, privateKey: KeyObject | string): NoteSigner {
  const priv = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (priv.asymmetricKeyType !== 'ed25519') throw new ProofError('NOTE_BAD_KEY', `the signing key is ${priv.asymmetricKeyType ?? 'not asymmetric'}, not ed25519`);
  const v = ed25519Verifier(name, rawPublicKey(createPublicKey(priv)));
  return { ...v, sign: (text) => sign(null, text, priv) };
}

/** The verifier key string of golang.org/x/mod/sumdb/note: name+hex key ID+base64(0x01 || key). */
export function formatVerifierKey(v: Pick<NoteVerifier, 'name' | 'keyId' | 'publicKey'>): string {
  return `${v.name}+${v.keyId.toString('hex')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), v.publicKey]).toString('base64')}`;
}

/** Parse a verifier key string; its key ID must match its name and key. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new ProofError('NOTE_BAD_KEY', 'a verifier key reads name+keyid+base64key');
  const key = decodeBase64(m[3]!, 'the verifier key');
  if (key.length !== 33 || key[0] !== ED25519_TYPE) throw new ProofError('NOTE_BAD_KEY', 'the verifier key is not an Ed25519 key');
  const v = ed25519Verifier(m[1]!, key.subarray(1));
  if (v.keyId.toString('hex') !== m[2]) throw new ProofError('NOTE_BAD_KEY', 'the verifier key ID does not match its name and key');
  return v;
}

/** The raw public key of an Ed25519 SPKI PEM (e.g. <home>/keys/station.ed25519.pub.pem). */
export function publicKeyFromPem(pem: string): Buffer {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new ProofError('NOTE_BAD_KEY', 'not a PEM public key', { cause: e });
  }
  return rawPublicKey(key);
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new ProofError('NOTE_MALFORMED', 'note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new ProofError('NOTE_MALFORMED', 'note text holds a control character');
}

/** Sign `text` (which must end in a newline) with every signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  assertNoteText(text);
  if (signers.length === 0) throw new ProofError('NOTE_NO_SIGNER', 'a note needs at least one signature');
  const bytes = Buffer.from(text, 'utf8');
  const lines = signers.map((s) => `${EM_DASH} ${s.name} ${Buffer.concat([s.keyId, s.sign(bytes)]).toString('base64')}\n`);
  return `${text}\n${lines.join('')}`;
}

export interface NoteSignature {
  name: string;
  keyId: Buffer;
  signature: Buffer;
}

export interface SplitNote {
  text: string;
  signatures: NoteSignature[];
}

/** Split a signed note into its text and signature lines, checking only the form. */
export function splitNote(msg: string | Uint8Array): SplitNote {
  let s: string;
  if (typeof msg === 'string') {
    s = msg;
  } else {
    if (msg.length > MAX_NOTE_BYTES) throw new ProofError('NOTE_MALFORMED', `a note is at most ${MAX_NOTE_BYTES} bytes`);
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(msg);
    } catch (e) {
      throw new ProofError('NOTE_MALFORMED', 'the note is not valid UTF-8', { cause: e });
    }
  }
  if (Buffer.byteLength(s, 'utf8') > MAX_NOTE_BYTES) throw new ProofError('NOTE_MALFORMED', `a note is at most ${MAX_NOTE_BYTES} bytes`);
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new ProofError('NOTE_MALFORMED', 'no blank line separates the note text from its signatures');
  const text = s.slice(0, split + 1);
  assertNoteText(text);
  const sigBlock = s.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw new ProofError('NOTE_MALFORMED', 'the signature lines must end with a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new ProofError('NOTE_MALFORMED', `more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) throw new ProofError('NOTE_MALFORMED', `not a signature line: ${JSON.stringify(line.slice(0, 80))}`);
    const raw = decodeBase64(m[2]!, 'a signature');
    if (raw.length < 5) throw new ProofError('NOTE_MALFORMED', 'a signature is shorter than its key ID');
    return { name: m[1]!, keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

export interface OpenedNote {
  text: string;
  /** The known keys whose signatures verified (at least one). */
  verifiedBy: NoteVerifier[];
  /** Signatures by keys the caller does not know (ignored, as the spec requires). */
  unknown: NoteSignature[];
}

/**
 * Verify a signed note. Signatures by unknown keys (name and key ID not both
 * matching a known key) are ignored; a signature by a known key that fails rejects
 * the whole note (NOTE_BAD_SIGNATURE); a note no known key signed is rejected
 * (NOTE_UNKNOWN_KEY).
 */
export function openNote(msg: string | Uint8Array, known: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = splitNote(msg);
  const bytes = Buffer.from(text, 'utf8');
  const verifiedBy: NoteVerifier[] = [];
  const unknown: NoteSignature[] = [];
  for (const sig of signatures) {
    const v = known.find((k) => k.name === sig.name && k.keyId.equals(sig.keyId));
    if (!v) {
      unknown.push(sig);
      continue;
    }
    if (!v.verify(bytes, sig.signature)) throw new ProofError('NOTE_BAD_SIGNATURE', `the signature by ${sig.name} does not verify: the note was altered or forged`);
    if (!verifiedBy.includes(v)) verifiedBy.push(v);
  }
  if (verifiedBy.length === 0) {
    const names = signatures.map((s) => `${s.name}+${s.keyId.toString('hex')}`).join(', ');
    throw new ProofError('NOTE_UNKNOWN_KEY', `the note is not signed by a known key (signed by: ${names})`);
  }
  return { text, verifiedBy, unknown };
}
