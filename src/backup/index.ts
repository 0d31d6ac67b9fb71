/**
 * Backup and restore (docs/operations.md): consistent snapshots of the catalog in the
 * vault, their schedule and the rule that keeps them, the replay of sealed ledger
 * entries onto a catalog, and the restore of a whole station from its vault alone.
 */
export {
  lastSnapshot,
  liveSnapshots,
  nextSnapshotDue,
  pruneSnapshots,
  snapshotOf,
  snapshotsToDelete,
  takeSnapshot,
  type PruneOptions,
  type SnapshotReason,
  type SnapshotRecord,
  type TakeSnapshotOptions,
} from './snapshots.js';
export { SnapshotScheduler, type SnapshotSchedulerOptions } from './scheduler.js';
export { CatalogReplayer } from './replay.js';
export { restoreStation, type RestoreOptions, type RestoreReport } from './restore.js';
