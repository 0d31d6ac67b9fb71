import { type ErrorCode, errorSpec } from './error-codes.js';

export { ERROR_CODES, type ErrorCode, type ErrorSpec, errorSpec, isErrorCode } from './error-codes.js';

/**
 * Typed errors with a stable `code`, used everywhere below the CLI and API.
 * The CLI maps them to exit codes; the API maps them to HTTP statuses.
 * `code` is a key of the registry (`error-codes.ts`), which says whether trying the
 * same thing again can help (`retryable`) and which HTTP status the API answers.
 */
export class CustodyError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = errorSpec(code).retryable;
    this.details = opts.details;
  }
}

/** Bad configuration or bad command-line usage: the CLI exits 2. */
export class ConfigError extends CustodyError {
  readonly problems: string[];
  constructor(message: string, problems: string[] = [], opts: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, opts);
    this.problems = problems;
  }
}

export class UsageError extends CustodyError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export class NotFoundError extends CustodyError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} not found: ${id}`, { details: { what, id } });
  }
}

/** The vault refused or failed an operation on an object. */
export class VaultError extends CustodyError {}

/** What was stored is not what was sent (size or hash mismatch after write). */
export class ObjectCorruptError extends VaultError {
  constructor(message: string, details: Record<string, unknown>) {
    super('VAULT_OBJECT_CORRUPT', message, { details });
  }
}

/** The vault's disk or bucket has no room: pause, never drop data. */
export class VaultFullError extends VaultError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('VAULT_FULL', message, opts);
  }
}

export class LedgerError extends CustodyError {}

/** A file on a recorder could not be ingested this time; the session goes on. */
export class SourceFileError extends CustodyError {}

export function isCustodyError(e: unknown): e is CustodyError {
  return e instanceof CustodyError;
}

/** Node errno codes that mean the destination filesystem is out of space. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
