import { InvalidInputError } from '../access/index.js';

/**
 * Opaque keyset cursors: base64url of a small JSON array tagged with the list it
 * belongs to, so a cursor from one list (or one sort field) is refused by another.
 * The values are only ever bound as SQL parameters.
 */
export function encodeCursor(tag: string, values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([tag, ...values]), 'utf8').toString('base64url');
}

export function decodeCursor(tag: string, cursor: string, kinds: readonly ('string' | 'number')[]): (string | number)[] {
  const bad = (): never => {
    throw new InvalidInputError('cursor is not valid for this list; use the "next" value of the previous page');
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== kinds.length + 1 || parsed[0] !== tag) return bad();
  const values = parsed.slice(1) as unknown[];
  values.forEach((v, i) => {
    if (typeof v !== kinds[i]) bad();
    if (typeof v === 'string' && v.length > 200) bad();
    if (typeof v === 'number' && !Number.isSafeInteger(v)) bad();
  });
  return values as (string | number)[];
}
