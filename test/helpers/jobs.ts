import { Catalog } from '../../src/catalog/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { BullmqJobRunner } from '../../src/jobs/bullmq-runner.js';
import {
  SqliteJobRunner,
  type JobEvent,
  type JobRunner,
  type RunnerOptions,
} from '../../src/jobs/index.js';

/** Where the conformance suite's Redis is; CI starts one there. */
export const TEST_REDIS_URL = process.env.CUSTODY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Everything needed to open a runner on one store, as JSON (it is handed to a child process). */
export type StoreSpec = { kind: 'sqlite'; file: string } | { kind: 'bullmq'; redisUrl: string; prefix: string };

export interface TestRunnerOptions extends RunnerOptions {
  /** BullMQ only: short locks let a crashed worker's job be taken over quickly. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface OpenedRunner {
  runner: JobRunner;
  /** Stop the runner (if not yet stopped) and release what the helper opened for it. */
  close(): Promise<void>;
}

/** A runner on the store, with its own connection (a new Catalog for SQLite), as a fresh process would have. */
export function openRunner(spec: StoreSpec, opts: TestRunnerOptions = {}): OpenedRunner {
  const log = silentLogger;
  if (spec.kind === 'sqlite') {
    const catalog = Catalog.open(spec.file);
    const runner = new SqliteJobRunner({ catalog, log, ...opts });
    return {
      runner,
      async close() {
        await runner.stop({ deadlineMs: 0 });
        catalog.close();
      },
    };
  }
  const runner = new BullmqJobRunner({ redisUrl: spec.redisUrl, prefix: spec.prefix, log, connectTimeoutMs: 3_000, ...opts });
  return {
    runner,
    async close() {
      await runner.stop({ deadlineMs: 0 });
    },
  };
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Poll a condition on every turn of the event loop until it holds or the time is up. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records a runner's events and waits for the ones a test expects. */
export class EventLog {
  readonly events: JobEvent[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(runner: JobRunner) {
    runner.on((e) => {
      this.events.push(e);
      for (const w of [...this.waiters]) w();
    });
  }

  /** Resolve with the first recorded event matching pred, waiting for it if needed. */
  waitFor(pred: (e: JobEvent) => boolean, what: string, timeoutMs = 15_000): Promise<JobEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = this.events.find(pred);
        if (!e) return;
        cleanup();
        resolve(e);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events so far: ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  completed(id: string): Promise<JobEvent> {
    return this.waitFor((e) => e.type === 'completed' && e.id === id, `job ${id} to complete`);
  }

  failedFinally(id: string): Promise<JobEvent> {
    return this.waitFor((e) => e.type === 'failed' && e.id === id && !e.willRetry, `job ${id} to fail for good`);
  }
}
