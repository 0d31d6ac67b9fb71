import { createPublicKey, generateKeyPairSync, createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { CustodyError, errorMessage } from '../core/index.js';

export interface StationKeyInfo {
  privateKeyFile: string;
  publicKeyFile: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  /** SHA-256 of the raw public key, hex: a short name for the key. */
  fingerprint: string;
  created: boolean;
}

function rawPublicKey(pem: string): Buffer {
  const der = createPublicKey(pem).export({ format: 'der', type: 'spki' });
  // An Ed25519 SPKI is a fixed 12-byte header followed by the 32-byte key.
  return der.subarray(der.length - 32);
}

/**
 * The station's Ed25519 key (signs ledger checkpoints). Created once; never
 * replaced, since checkpoints already given out name it.
 */
export async function ensureStationKey(home: string): Promise<StationKeyInfo> {
  const dir = join(home, 'keys');
  const privateKeyFile = join(dir, 'station.ed25519.pem');
  const publicKeyFile = join(dir, 'station.ed25519.pub.pem');
  let created = false;
  let pubPem: string;
  try {
    pubPem = await readFile(publicKeyFile, 'utf8');
    await readFile(privateKeyFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CustodyError('KEY_UNREADABLE', `cannot read the station key in ${dir}: ${errorMessage(e)}`, { cause: e });
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    // 'wx': never overwrite a key that appeared meanwhile.
    await writeFile(privateKeyFile, privateKey, { mode: 0o600, flag: 'wx' });
    await chmod(privateKeyFile, 0o600);
    await writeFile(publicKeyFile, publicKey, { mode: 0o644, flag: 'wx' });
    pubPem = publicKey;
    created = true;
  }
  const raw = rawPublicKey(pubPem);
  return {
    privateKeyFile,
    publicKeyFile,
    publicKey: raw.toString('base64'),
    fingerprint: createHash('sha256').update(raw).digest('hex'),
    created,
  };
}
