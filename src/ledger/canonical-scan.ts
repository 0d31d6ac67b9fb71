/**
 * Whether a ledger row's data column is, beyond doubt, the canonical JSON (RFC 8785)
 * of an object, found in one pass over its characters: no object is built and nothing
 * is serialised again, only the keys are compared.
 *
 * Only plain forms are recognised — strings with no escape and no surrogate, integers
 * of at most 15 digits (exact as doubles), true, false, null, arrays, and objects
 * whose keys do not begin with a digit (JavaScript enumerates integer-like keys first,
 * so their order is the exact check's to judge) and are in strictly increasing UTF-16
 * code unit order. Anything else returns false, which means "not known here": the
 * caller then asks isCanonicalDataText, the exact check. So true here implies true
 * there (a test holds it to it, over generated texts); a false costs only speed.
 */
export function isPlainCanonicalObject(text: string): boolean {
  s = text;
  n = text.length;
  i = 0;
  const ok = s.charCodeAt(0) === OPEN_OBJECT && object(0) && i === n;
  s = '';
  return ok;
}

// The text being scanned and the position in it (module state: the scan is synchronous
// and does not re-enter).
let s = '';
let n = 0;
let i = 0;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MAX_DEPTH = 64;
/** Digits of an integer that is exact as a double and that JSON.stringify writes back unchanged. */
const MAX_DIGITS = 15;

function value(depth: number): boolean {
  switch (s.charCodeAt(i)) {
    case QUOTE:
      return string();
    case OPEN_OBJECT:
      return depth < MAX_DEPTH && object(depth + 1);
    case OPEN_ARRAY:
      return depth < MAX_DEPTH && array(depth + 1);
    case 0x74: // t
      return literal('true');
    case 0x66: // f
      return literal('false');
    case 0x6e: // n
      return literal('null');
    default:
      return integer();
  }
}

/** At a quote: a string with no escape, no control character and no surrogate. */
function string(): boolean {
  const text = s;
  const end = n;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) {
      i = j + 1;
      return true;
    }
    if (c < 0x20 || c === BACKSLASH || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return false;
}

/** -?(0|[1-9][0-9]{0,14}), but not -0. What follows is the container's to check (so 01, 1.5, 1e3 fail there). */
function integer(): boolean {
  let j = i;
  if (s.charCodeAt(j) === MINUS) j++;
  const first = s.charCodeAt(j);
  if (first === 0x30) {
    if (j !== i) return false; // -0 is written 0
    i = j + 1;
    return true;
  }
  if (!(first >= 0x31 && first <= 0x39)) return false;
  const start = j;
  for (j++; j < n; j++) {
    const c = s.charCodeAt(j);
    if (!(c >= 0x30 && c <= 0x39)) break;
  }
  if (j - start > MAX_DIGITS) return false;
  i = j;
  return true;
}

function literal(word: string): boolean {
  if (!s.startsWith(word, i)) return false;
  i += word.length;
  return true;
}

function object(depth: number): boolean {
  i++;
  if (s.charCodeAt(i) === CLOSE_OBJECT) {
    i++;
    return true;
  }
  let prev: string | null = null;
  for (;;) {
    if (s.charCodeAt(i) !== QUOTE) return false;
    const from = i + 1;
    if (!string()) return false;
    const key = s.slice(from, i - 1);
    const c0 = key.charCodeAt(0);
    if ((c0 >= 0x30 && c0 <= 0x39) || key === '__proto__') return false;
    if (prev !== null && !(prev < key)) return false;
    prev = key;
    if (s.charCodeAt(i) !== COLON) return false;
    i++;
    if (!value(depth)) return false;
    const c = s.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c !== CLOSE_OBJECT) return false;
    i++;
    return true;
  }
}

function array(depth: number): boolean {
  i++;
  if (s.charCodeAt(i) === CLOSE_ARRAY) {
    i++;
    return true;
  }
  for (;;) {
    if (!value(depth)) return false;
    const c = s.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c !== CLOSE_ARRAY) return false;
    i++;
    return true;
  }
}
