import { type ActivityBus, type ActivityEvent, errorMessage, type Logger } from '../core/index.js';
import type { ComplianceRules } from './rules/index.js';

/**
 * The daemon's compliance part: a scan every `intervalMinutes`, a scan after every
 * dock's session (which raises one late-upload flag per recorder and session), and
 * the attribution check for each item as it is ingested.
 * Scans are idempotent, so a scan after a dock and a timed one may overlap in time
 * without raising anything twice; they are serialised anyway.
 */
export class ComplianceScanner {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: { rules: ComplianceRules; activity: ActivityBus; log: Logger; intervalMinutes: number },
  ) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.deps.activity.subscribe((e) => this.onEvent(e));
    if (this.deps.intervalMinutes > 0) {
      this.timer = setInterval(() => this.enqueue('interval', () => this.scan('interval')), this.deps.intervalMinutes * 60_000);
      this.timer.unref();
    }
    this.enqueue('start', () => this.scan('start'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.chain;
  }

  /** Resolves when every queued scan and check has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
  }

  private onEvent(e: ActivityEvent): void {
    if (e.type === 'ingested') {
      const id = e.evidenceId;
      this.enqueue('ingested', () => {
        const flags = this.deps.rules.checkEvidence(id);
        if (flags.length) this.deps.log.info({ evidenceId: id, flags: flags.map((f) => f.rule) }, 'flagged at ingest');
      });
    } else if (e.type === 'undock') {
      this.enqueue('undock', () => this.scan(`undock ${e.serial ?? '?'}`));
    }
  }

  private scan(why: string): void {
    const r = this.deps.rules.scan();
    if (r.raised.length || r.escalated.length) {
      this.deps.log.info({ why, raised: r.raised.length, escalated: r.escalated.length }, 'compliance scan');
    } else this.deps.log.debug({ why }, 'compliance scan: nothing new');
  }

  private enqueue(what: string, fn: () => void): void {
    if (this.stopped) return;
    this.chain = this.chain.then(
      () =>
        new Promise<void>((resolve) => {
          // Off the publisher's call stack; one at a time.
          setImmediate(() => {
            try {
              if (!this.stopped || what === 'ingested') fn();
            } catch (e) {
              this.deps.log.error({ err: e, what }, `compliance check failed: ${errorMessage(e)}`);
            }
            resolve();
          });
        }),
    );
  }
}
