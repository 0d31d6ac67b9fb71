import { describe, expect, it } from 'vitest';
import { AuthenticationError } from '../access/index.js';
import { CustodyError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { toHttpError } from './errors.js';

describe('toHttpError derives from the error-code registry (issue 13)', () => {
  it('answers every registered code with its status; a 5xx never shows the message', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const spec = ERROR_CODES[code];
      const a = toHttpError(new CustodyError(code, 'secret /var/lib/custody detail'));
      if (spec.http < 500) {
        expect(a, code).toMatchObject({ status: spec.http, code, message: 'secret /var/lib/custody detail' });
      } else if ('public' in spec) {
        expect(a, code).toMatchObject({ status: spec.http, code, message: spec.public });
      } else {
        expect(a, code).toMatchObject({ status: 500, code: 'INTERNAL', message: 'internal error' });
      }
    }
  });

  it('vault and catalog trouble is a 503 that says to try again', () => {
    expect(toHttpError(new CustodyError('VAULT_UNAVAILABLE', 'S3 at 10.0.0.5 unreachable'))).toMatchObject({ status: 503, code: 'VAULT_UNAVAILABLE', message: 'the vault is unavailable right now; try again' });
    expect(toHttpError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toEqual({
      status: 503,
      code: 'CATALOG_BUSY',
      message: 'the catalog is busy; try again',
      headers: { 'retry-after': '1' },
    });
  });

  it('keeps the authentication headers', () => {
    expect(toHttpError(new AuthenticationError('missing', 'sign in'))).toEqual({ status: 401, code: 'AUTH_REQUIRED', message: 'sign in', headers: { 'www-authenticate': 'Bearer realm="custody"' } });
    expect(toHttpError(new AuthenticationError('rate-limited', 'slow down', 30))).toEqual({ status: 429, code: 'AUTH_RATE_LIMITED', message: 'slow down', headers: { 'retry-after': '30' } });
  });

  it('fastify request errors and anything else', () => {
    expect(toHttpError(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE' });
    expect(toHttpError(new Error('boom at /etc/passwd'))).toEqual({ status: 500, code: 'INTERNAL', message: 'internal error', headers: {} });
  });
});
