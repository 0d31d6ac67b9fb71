import { CustodyError } from '../core/index.js';

/** A case number already in use (409). */
export class CaseNumberTakenError extends CustodyError {
  constructor(number: string) {
    super('CASE_NUMBER_TAKEN', `case number ${number} is already in use`, { details: { number } });
  }
}

/** A hold is not in the state the operation needs: already released, release already asked (409). */
export class HoldStateError extends CustodyError {
  constructor(message: string) {
    super('HOLD_STATE', message);
  }
}

/** Release approved by the one who asked for it (403): a second person must consent. */
export class HoldSelfApprovalError extends CustodyError {
  constructor(holdId: string) {
    super('HOLD_SELF_APPROVAL', `the release of hold ${holdId} must be approved by someone other than who asked for it`);
  }
}

/**
 * A purge run refused to start (a guard rail): the ledger does not verify, the clock
 * jumped, or too much would go at once. Never retryable as is.
 */
export class PurgeRefusedError extends CustodyError {
  constructor(code: 'PURGE_LEDGER_INVALID' | 'PURGE_CLOCK_JUMP' | 'PURGE_TOO_MUCH', message: string, details?: Record<string, unknown>) {
    super(code, message, details ? { details } : {});
  }
}
