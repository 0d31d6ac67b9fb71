import type { BullmqJobRunner, BullmqJobRunnerOptions } from './bullmq-runner.js';
import { HandlerRegistry } from './shared.js';
import type { JobEventListener, JobHandler, JobRunner, JobStats, JsonValue, EnqueueOptions, StopOptions } from './types.js';

/**
 * The BullMQ runner, its module (bullmq and ioredis, about 0.15 CPU-s to load) loaded
 * only when the runner is first used: a command that builds the station's runner and
 * never starts it (a one-shot `custody ingest` queues nothing on Redis before its
 * report) does not pay for it. Registration is checked here at once, as the runner
 * itself checks it (a name not in the table, or registered twice, throws).
 */
export class DeferredBullmqRunner implements JobRunner {
  readonly kind = 'bullmq' as const;
  private readonly checked: HandlerRegistry;
  private readonly handlers: Array<[string, JobHandler]> = [];
  private readonly listeners = new Map<JobEventListener, () => void>();
  private loading: Promise<BullmqJobRunner> | null = null;
  /** The runner once its module is loaded (handlers and listeners are handed over then). */
  private real: BullmqJobRunner | null = null;
  private held = false;

  constructor(private readonly opts: BullmqJobRunnerOptions) {
    this.checked = new HandlerRegistry(opts.jobs);
  }

  private runner(): Promise<BullmqJobRunner> {
    this.loading ??= import('./bullmq-runner.js').then(({ BullmqJobRunner }) => {
      const r = new BullmqJobRunner(this.opts);
      for (const [name, handler] of this.handlers) r.register(name, handler);
      if (this.held) void r.hold(true);
      for (const listener of this.listeners.keys()) this.listeners.set(listener, r.on(listener));
      this.real = r;
      return r;
    });
    return this.loading;
  }

  register(name: string, handler: JobHandler): void {
    this.checked.register(name, handler);
    if (this.real) this.real.register(name, handler);
    else this.handlers.push([name, handler]);
  }

  enqueue(name: string, payload: JsonValue, opts?: EnqueueOptions): Promise<string> {
    return this.runner().then((r) => r.enqueue(name, payload, opts));
  }

  enqueueMany(jobs: ReadonlyArray<{ name: string; payload: JsonValue; opts?: EnqueueOptions }>): Promise<string[]> {
    return this.runner().then((r) => r.enqueueMany(jobs));
  }

  start(): Promise<void> {
    return this.runner().then((r) => r.start());
  }

  async stop(opts?: StopOptions): Promise<void> {
    // Never used: nothing was opened, nothing to load in order to stop it.
    if (!this.loading) return;
    await (await this.loading).stop(opts);
  }

  stats(): Promise<JobStats> {
    return this.runner().then((r) => r.stats());
  }

  hold(on: boolean): Promise<void> {
    this.held = on;
    return this.real ? this.real.hold(on) : Promise.resolve();
  }

  on(listener: JobEventListener): () => void {
    this.listeners.set(listener, this.real ? this.real.on(listener) : () => undefined);
    return () => {
      this.listeners.get(listener)?.();
      this.listeners.delete(listener);
    };
  }
}
