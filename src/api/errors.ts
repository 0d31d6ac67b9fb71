import type { FastifyError } from 'fastify';
import { AuthenticationError } from '../access/index.js';
import { CustodyError, type ErrorCode, errorSpec } from '../core/index.js';

/** What a client is told about an error. */
export interface HttpError {
  status: number;
  code: ErrorCode;
  message: string;
  headers: Record<string, string>;
}

/**
 * The answer for a code, from the registry. A 4xx shows the error's message; a 5xx
 * shows the registry's public message, or is "internal error" (code INTERNAL) with the
 * details left in the log: a 5xx never shows internals.
 */
function answerFor(code: ErrorCode, message: string, headers: Record<string, string>): HttpError {
  const spec = errorSpec(code);
  if (spec.http < 500) return { status: spec.http, code, message, headers };
  if (spec.public !== undefined) return { status: spec.http, code, message: spec.public, headers };
  return { status: errorSpec('INTERNAL').http, code: 'INTERNAL', message: 'internal error', headers };
}

/** Fastify's own request errors (their messages describe the request, not the server). */
const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'BODY_TOO_LARGE', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'BAD_REQUEST', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'BAD_REQUEST', message: 'the body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_REQUEST', message: 'the body does not match its Content-Length' },
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
    const answer = answerFor(e.code, e.message, headers);
    if (e instanceof AuthenticationError) {
      if (e.retryAfterSeconds !== null) headers['retry-after'] = String(e.retryAfterSeconds);
      if (answer.status === 401) headers['www-authenticate'] = 'Bearer realm="custody"';
    }
    return answer;
  }
  if (fe.code === 'SQLITE_BUSY' || fe.code === 'SQLITE_LOCKED') {
    // Another process held the catalog's write lock past busy_timeout.
    return answerFor('CATALOG_BUSY', 'the catalog is busy', { 'retry-after': '1' });
  }
  if (typeof fe.code === 'string') {
    const known = FASTIFY_CODES[fe.code];
    if (known) return answerFor(known.code, known.message, headers);
    if (fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return { status: fe.statusCode, code: 'BAD_REQUEST', message: fe.message ?? 'bad request', headers };
    }
  }
  // Errors from reading the request stream (a client that went away, a bad chunk).
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 && !(e instanceof CustodyError)) {
    return { status: fe.statusCode, code: 'BAD_REQUEST', message: 'the request could not be read', headers };
  }
  return answerFor('INTERNAL', 'internal error', headers);
}
