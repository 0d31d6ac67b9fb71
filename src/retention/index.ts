export { CasesService, HOLD_REASONS, type Case, type Hold, type HoldReason, type ItemHold, type NewCase } from './cases.js';
export { CaseNumberTakenError, HoldSelfApprovalError, HoldStateError, PurgeRefusedError } from './errors.js';
export { addCalendarMonths, nextDailyAt, retentionDate, type RetentionPolicy } from './policy.js';
export {
  PurgeService,
  type PendingItem,
  type PurgeDeps,
  type PurgeItemResult,
  type PurgeReport,
  type PurgeRun,
  type PurgeSettings,
} from './purge.js';
export { PurgeScheduler } from './scheduler.js';
export { RetentionView, type ItemRetention } from './view.js';
export { ObjectLockSync, objectLockSyncFor, objectLockerOf, type ObjectLocker } from './object-lock.js';
