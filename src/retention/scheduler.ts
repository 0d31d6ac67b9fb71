import { type Clock, errorMessage, type Logger } from '../core/index.js';
import { nextDailyAt } from './policy.js';
import type { PurgeReport, PurgeService } from './purge.js';

/**
 * The daemon's daily purge run at retention.dailyAt (local time in the configured
 * zone). After a run that changed the ledger, `afterRun` lets the daemon sign a
 * checkpoint. A run that fails or is refused is logged; the next day's run tries again.
 */
export class PurgeScheduler {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly deps: {
      purge: PurgeService;
      dailyAt: string;
      timezone: string;
      clock: Clock;
      log: Logger;
      actor: string;
      afterRun?: (report: PurgeReport) => Promise<unknown>;
    },
  ) {}

  start(): void {
    if (this.deps.dailyAt === '') {
      this.deps.log.info('no scheduled purge (retention.dailyAt is empty)');
      return;
    }
    this.stopped = false;
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const next = nextDailyAt(now, this.deps.dailyAt, this.deps.timezone);
    // setTimeout caps at about 24.8 days; a day is well within.
    this.timer = setTimeout(() => {
      this.current = this.runOnce().finally(() => {
        this.current = undefined;
        this.arm();
      });
    }, Math.max(0, next.getTime() - now.getTime()));
    this.timer.unref();
    this.deps.log.debug({ next: next.toISOString() }, 'next purge run');
  }

  /** One scheduled run now (also used by tests). */
  async runOnce(): Promise<PurgeReport | null> {
    try {
      const report = await this.deps.purge.execute({ actor: this.deps.actor });
      if (this.deps.afterRun && (report.announced > 0 || report.purged > 0)) await this.deps.afterRun(report);
      return report;
    } catch (e) {
      this.deps.log.error({ err: e }, `scheduled purge run failed: ${errorMessage(e)}`);
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }
}
