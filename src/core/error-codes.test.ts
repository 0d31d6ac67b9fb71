import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, errorSpec, isErrorCode } from './error-codes.js';
import { CustodyError, NotFoundError, VaultFullError } from './errors.js';

describe('error-code registry (issue 13)', () => {
  it('an unknown code does not compile', () => {
    // `npm run typecheck` fails if this line stops being an error: the registry's keys
    // are the only codes a CustodyError takes.
    // @ts-expect-error NO_SUCH_CODE is not in the registry
    const e = new CustodyError('NO_SUCH_CODE', 'made up');
    // Only a cast gets one through at run time; it counts as INTERNAL, not retryable.
    expect(e.retryable).toBe(false);
    expect(errorSpec('NO_SUCH_CODE' as ErrorCode)).toBe(ERROR_CODES.INTERNAL);
    expect(isErrorCode('NO_SUCH_CODE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('a subclass code outside the registry does not compile either', () => {
    class Narrow extends CustodyError {
      // @ts-expect-error a subclass may narrow its code only to registered ones
      declare readonly code: 'NO_SUCH_CODE';
    }
    expect(new Narrow('NOT_FOUND', 'x').code).toBe('NOT_FOUND');
  });

  it('retryable comes from the registry', () => {
    expect(new VaultFullError('full').retryable).toBe(true);
    expect(new NotFoundError('evidence', 'x').retryable).toBe(false);
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(new CustodyError(code, 'x').retryable, code).toBe(ERROR_CODES[code].retryable);
    }
  });

  it('every entry is well-formed', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^[A-Z][A-Z0-9_]*[A-Z0-9]$/);
      expect(spec.http >= 400 && spec.http <= 599, `${code} http ${spec.http}`).toBe(true);
      expect(spec.meaning.length, code).toBeGreaterThan(10);
      if ('public' in spec) expect(spec.http, `${code} has a public message but is not a 5xx`).toBeGreaterThanOrEqual(500);
    }
  });

  it("docs/api.md's error table is the registry: same codes, statuses and retry", () => {
    const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const section = text.slice(text.indexOf('\n## Errors\n'), text.indexOf('\n## ', text.indexOf('\n## Errors\n') + 5));
    const rows = [...section.matchAll(/^\| (\d{3}) \| `([A-Z0-9_]+)` \| (yes|no) \|/gmu)].map((m) => ({ code: m[2]!, http: Number(m[1]), retryable: m[3] === 'yes' }));
    const want = Object.entries(ERROR_CODES).map(([code, s]) => ({ code, http: s.http, retryable: s.retryable }));
    const byCode = (a: { code: string }, b: { code: string }) => a.code.localeCompare(b.code);
    expect(rows.sort(byCode)).toEqual(want.sort(byCode));
  });
});
