import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Passwords for browser sign-in (issue 15), hashed with scrypt from node:crypto: a
 * memory-hard function, so a leaked catalog costs an attacker 32 MiB and tens of
 * milliseconds per guess. Stored self-describing, `scrypt$15$8$1$<salt>$<key>`
 * (log2 N, r, p, base64 salt and key), so the cost can be raised later without a
 * migration: an old hash still verifies with its own parameters.
 */

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** 128 · N · r bytes is what scrypt needs; node's default ceiling (32 MiB) is exactly that, too tight. */
const MAX_MEM = 256 * 2 ** LOG_N * R;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { N: 2 ** logN, r, p, maxmem: Math.max(MAX_MEM, 256 * 2 ** logN * r) }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hash a new password (checked with `passwordProblems` first). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, LOG_N, R, P);
  return `scrypt$${LOG_N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const ENCODED = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{40,})$/;

/**
 * Does the password match the stored hash? A stored value that is not a hash this
 * code wrote never matches. Constant-time comparison of the derived keys.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = ENCODED.exec(encoded);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  if (password.length > PASSWORD_MAX_LENGTH) return false;
  const key = await derive(password, Buffer.from(m[4]!, 'base64'), logN, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * The same work as a real check, for a name that has no password: a sign-in with an
 * unknown name takes as long as one with a wrong password, so timing does not tell
 * which names exist.
 */
let dummy: Promise<string> | undefined;
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword('custody: no such user');
  await verifyPassword(password, await dummy);
  return false;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a new password is not acceptable (empty when it is). Messages are shown to the user. */
export function passwordProblems(password: string, userName: string): string[] {
  const problems: string[] = [];
  const chars = [...password];
  if (chars.length < PASSWORD_MIN_LENGTH) problems.push(`the password must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (chars.length > PASSWORD_MAX_LENGTH) problems.push(`the password must have at most ${PASSWORD_MAX_LENGTH} characters`);
  if (CONTROL.test(password)) problems.push('the password must not contain control characters');
  if (password.trim().toLowerCase() === userName.trim().toLowerCase()) problems.push('the password must not be the user name');
  if (chars.length >= PASSWORD_MIN_LENGTH && new Set(chars).size < 3) problems.push('the password must not repeat one or two characters');
  return problems;
}

/** A random password for an administrator's reset (16 characters, no look-alikes). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(32);
  let out = '';
  for (const b of bytes) {
    if (b >= 256 - (256 % alphabet.length)) continue;
    out += alphabet[b % alphabet.length];
    if (out.length === 16) break;
  }
  return out.length === 16 ? out : generatePassword();
}
