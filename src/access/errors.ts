import { CustodyError, NotFoundError } from '../core/index.js';

/**
 * Why a caller could not be identified. Recorded in `auth_failures` (never in the
 * ledger: there is no one to attribute it to).
 */
export type AuthFailureReason = 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' | 'rate-limited' | 'bad-password';

/** No valid token (code AUTH_REQUIRED), or too many failures from one address (AUTH_RATE_LIMITED). */
export class AuthenticationError extends CustodyError {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(reason === 'rate-limited' ? 'AUTH_RATE_LIMITED' : 'AUTH_REQUIRED', message);
  }
}

/**
 * An identified user asked for something they may not have. Every one is recorded in
 * the ledger as `access.denied`.
 */
export class AccessDeniedError extends CustodyError {
  constructor(
    code: 'FORBIDDEN' | 'ACCESS_GRANT_REQUIRED' | 'ACCESS_SELF_DECISION',
    message: string,
    /** What was asked for: an evidence id, a request id, or null for a whole route. */
    readonly subject: string | null = null,
  ) {
    super(code, message);
  }
}

/**
 * An item outside the caller's unit. It is answered exactly like an item that does
 * not exist (so nothing about other units leaks), and recorded as a denial.
 */
export class HiddenError extends NotFoundError {
  readonly subject: string;
  constructor(what: string, id: string) {
    super(what, id);
    this.subject = id;
  }
}

/** Input that is well-formed but not acceptable (an expiry in the past, a bad cursor). */
export class InvalidInputError extends CustodyError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_INPUT', message, details ? { details } : {});
  }
}

/** The request is valid but the state does not allow it (already decided, already running). */
export class ConflictError extends CustodyError {}
