import type { Catalog } from '../catalog/index.js';
import { schemaVersion } from '../catalog/index.js';
import type { Logger } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import '../ledger/index.js';
import { lastSnapshot, nextSnapshotDue, pruneSnapshots, takeSnapshot, type SnapshotReason, type SnapshotRecord } from './snapshots.js';

/** After a scheduled snapshot failed, the next try comes this much later. */
const RETRY_MS = 10 * 60_000;

export interface SnapshotSchedulerOptions {
  catalog: Catalog;
  store: ObjectStore;
  /** The home: the temporary copy is made beside the catalog. */
  home: string;
  actor: string;
  log: Logger;
  /** backup.intervalHours: 0 takes none on a timer (only after a migration). */
  intervalHours: number;
  keepDaily: number;
  keepWeekly: number;
  timezone: string;
}

/**
 * The daemon's catalog snapshots: one at start when the catalog's schema is newer than
 * the last snapshot's (a migration ran), then one every `intervalHours` after the last
 * (at start too, when one is overdue or none was ever taken), each followed by the
 * prune of the snapshots the rule no longer keeps. A failure is logged and tried again
 * at the next turn. The start's snapshot runs beside the daemon's start, not before it:
 * intake does not wait for a copy of the catalog.
 */
export class SnapshotScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private started = false;

  constructor(private readonly opts: SnapshotSchedulerOptions) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    const last = lastSnapshot(this.opts.catalog);
    if (last && last.schemaVersion < schemaVersion(this.opts.catalog.db)) this.run('migration');
    this.arm(0);
  }

  /** Take a snapshot now (and prune); resolves when it is stored and ledgered. */
  snapshotNow(reason: SnapshotReason): Promise<SnapshotRecord> {
    const run = this.running.then(async () => {
      const rec = await takeSnapshot({ catalog: this.opts.catalog, store: this.opts.store, workDir: this.opts.home, actor: this.opts.actor, reason, log: this.opts.log });
      await pruneSnapshots({ ...this.opts });
      return rec;
    });
    this.running = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private run(reason: SnapshotReason): void {
    this.snapshotNow(reason).catch((err: unknown) => this.opts.log.error({ err, reason }, 'catalog snapshot failed; will try again'));
  }

  /** Wait for the next due snapshot (at least minWaitMs: a failed one is not retried at once). */
  private arm(minWaitMs: number): void {
    if (!this.started || this.opts.intervalHours === 0) return;
    const now = this.opts.catalog.clock.now();
    // A station with no snapshot yet takes its first at once.
    const due = nextSnapshotDue(lastSnapshot(this.opts.catalog), this.opts.intervalHours, now);
    // setTimeout holds at most ~24.8 days; the interval is at most a week.
    const wait = Math.max(minWaitMs, due.getTime() - now.getTime());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run('schedule');
      void this.running.then(() => this.arm(RETRY_MS));
    }, wait);
    this.timer.unref();
  }
}
