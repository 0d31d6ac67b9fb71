import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/index.js';

/**
 * API tokens: "cst_" and 256 random bits in base64url (43 characters). The prefix lets
 * secret scanners and people recognise one. Only SHA-256(token) is stored: a 256-bit
 * random secret needs no salt or slow hash, and a leaked catalog gives no usable token.
 */
export const TOKEN_PREFIX = 'cst_';
export const TOKEN_RE = /^cst_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}
