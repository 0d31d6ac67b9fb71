/**
 * HTTP Range requests (RFC 9110 §14) for one representation of known size.
 *
 * - A header that is absent, not in bytes, or not well formed is ignored: the whole
 *   object is sent (200), as the RFC asks.
 * - Several ranges are coalesced into one that covers them all (the RFC allows it),
 *   so the answer is always a single-part 206: players ask for one range anyway.
 * - No satisfiable range (a start past the end, a zero suffix, an empty object): 416.
 */
export type RangeResult = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

const MAX_RANGES = 32;
const SPEC = /^(\d{0,15})-(\d{0,15})$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'none' };

  let start = Number.POSITIVE_INFINITY;
  let end = -1;
  for (const spec of specs) {
    const sm = SPEC.exec(spec);
    if (!sm) return { kind: 'none' };
    const [, a, b] = sm;
    let s: number;
    let e: number;
    if (a === '' && b === '') return { kind: 'none' };
    if (a === '') {
      // Suffix: the last n bytes.
      const n = Number(b);
      if (n === 0 || size === 0) continue;
      s = Math.max(0, size - n);
      e = size - 1;
    } else {
      s = Number(a);
      e = b === '' ? size - 1 : Number(b);
      if (b !== '' && e < s) return { kind: 'none' };
      if (s >= size) continue;
      e = Math.min(e, size - 1);
    }
    start = Math.min(start, s);
    end = Math.max(end, e);
  }
  if (end < 0) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}
