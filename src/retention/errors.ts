import { CustodyError } from '../core/index.js';

/** A case number already in use in the same unit, or among the bureau-wide cases (409). */
export class CaseNumberTakenError extends CustodyError {
  constructor(number: string, unit: string | null) {
    super('CASE_NUMBER_TAKEN', `case number ${number} is already in use ${unit === null ? 'among the bureau-wide cases' : `in unit ${unit}`}`, {
      details: { number, unit },
    });
  }
}

/**
 * A case named by a number that several units use (409): it names no case. Lists the
 * cases (their units and ids) so the caller can name one by id; it is only thrown for
 * cases the caller may see.
 */
export class CaseNumberAmbiguousError extends CustodyError {
  constructor(number: string, cases: ReadonlyArray<{ id: string; unit: string | null }>) {
    const which = cases.map((c) => `${c.unit ?? 'bureau-wide'}: ${c.id}`).join(', ');
    super('CASE_NUMBER_AMBIGUOUS', `case number ${number} is used in more than one unit (${which}): name the case by its id`, {
      details: { number, cases: cases.map((c) => ({ id: c.id, unit: c.unit })) },
    });
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
