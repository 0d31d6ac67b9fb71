import type { FastifyError } from 'fastify';
import { AuthenticationError } from '../access/index.js';
import { CustodyError } from '../core/errors.js';

/** What a client is told about an error. */
export interface HttpError {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/**
 * Codes whose message is safe to show, and their status. Anything not listed here is
 * a 500 whose details stay in the log: a 5xx never shows internals.
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  USAGE: 400,
  INVALID_INPUT: 400,
  AUTH_REQUIRED: 401,
  FORBIDDEN: 403,
  ACCESS_GRANT_REQUIRED: 403,
  ACCESS_SELF_DECISION: 403,
  NOT_FOUND: 404,
  ACCESS_REQUEST_DECIDED: 409,
  CASE_NUMBER_TAKEN: 409,
  HOLD_STATE: 409,
  HOLD_SELF_APPROVAL: 403,
  FLAG_SELF_APPROVAL: 403,
  FLAG_RESOLVED: 409,
  ASSIGNMENT_OVERLAP: 409,
  ASSIGNMENT_ENDED: 409,
  ROSTER_INVALID: 400,
  PURGE_RUNNING: 409,
  VERIFY_RUNNING: 409,
  EXPORT_RUNNING: 409,
  EXPORT_EMPTY: 409,
  EXPORT_ISO_UNAVAILABLE: 409,
  EXPORT_DESTINATION_FORBIDDEN: 403,
  EXPORT_CASE_NOT_PROTECTED: 403,
  EXPORT_GRANT_REQUIRED: 403,
  EXPORT_APPROVER_INVALID: 403,
  ACCESS_REQUEST_NOT_GRANTED: 409,
  TOKEN_IN_URL: 400,
  EVIDENCE_PURGED: 410,
  RANGE_NOT_SATISFIABLE: 416,
  AUTH_RATE_LIMITED: 429,
};

/** Codes of 5xx answers that say what kind of trouble it is, without details. */
const SERVER_ERRORS: Readonly<Record<string, { status: number; message: string }>> = {
  VAULT_OBJECT_MISSING: { status: 500, message: 'the stored object for this item cannot be found; the vault needs verification' },
  VAULT_OBJECT_CORRUPT: { status: 500, message: 'the stored object for this item is damaged (its size or hash is wrong); it was not served, and the vault needs verification' },
  VAULT_READ_FAILED: { status: 503, message: 'the vault cannot be read right now; try again' },
  CATALOG_BUSY: { status: 503, message: 'the catalog is busy; try again' },
};

/** Fastify's own request errors (their messages describe the request, not the server). */
const FASTIFY_CODES: Readonly<Record<string, { status: number; code: string; message?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'BAD_REQUEST', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'BAD_REQUEST', message: 'the body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST', message: 'the body does not match its Content-Length' },
};

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One line per validation problem, naming where: "querystring/limit must be <= 500". */
export function describeValidation(issues: readonly AjvIssue[], context: string | undefined): string {
  const part = context ?? 'request';
  return issues
    .slice(0, 5)
    .map((i) => {
      const where = `${part}${i.instancePath}`;
      if (i.keyword === 'additionalProperties') return `${where} has an unknown property "${String(i.params.additionalProperty)}"`;
      if (i.keyword === 'required') return `${where} is missing "${String(i.params.missingProperty)}"`;
      if (i.keyword === 'enum') return `${where} must be one of ${(i.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      if (i.keyword === 'pattern') return `${where} is not in the expected form`;
      return `${where} ${i.message ?? 'is invalid'}`;
    })
    .join('; ');
}

/**
 * Map any error to what the client sees. Known domain errors keep their code and
 * message; request errors get 4xx; everything else is 500 "internal error".
 */
export function toHttpError(e: unknown): HttpError {
  const headers: Record<string, string> = {};
  const fe = e as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return { status: 400, code: 'BAD_REQUEST', message: describeValidation(fe.validation, fe.validationContext), headers };
  }
  if (e instanceof CustodyError) {
    const status = STATUS_BY_CODE[e.code];
    if (status !== undefined) {
      if (e instanceof AuthenticationError) {
        if (e.retryAfterSeconds !== null) headers['retry-after'] = String(e.retryAfterSeconds);
        if (status === 401) headers['www-authenticate'] = 'Bearer realm="custody"';
      }
      return { status, code: e.code, message: e.message, headers };
    }
    const server = SERVER_ERRORS[e.code];
    if (server) return { ...server, code: e.code, headers };
  }
  if (fe.code === 'SQLITE_BUSY' || fe.code === 'SQLITE_LOCKED') {
    // Another process held the catalog's write lock past busy_timeout.
    return { ...SERVER_ERRORS.CATALOG_BUSY!, code: 'CATALOG_BUSY', headers: { 'retry-after': '1' } };
  }
  if (typeof fe.code === 'string') {
    const known = FASTIFY_CODES[fe.code];
    if (known) return { status: known.status, code: known.code, message: known.message ?? fe.message ?? 'bad request', headers };
    if (fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return { status: fe.statusCode, code: 'BAD_REQUEST', message: fe.message ?? 'bad request', headers };
    }
  }
  // Errors from reading the request stream (a client that went away, a bad chunk).
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 && !(e instanceof CustodyError)) {
    return { status: fe.statusCode, code: 'BAD_REQUEST', message: 'the request could not be read', headers };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error', headers };
}
