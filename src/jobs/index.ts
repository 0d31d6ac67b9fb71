import type { Catalog } from '../catalog/index.js';
import type { Logger } from '../core/index.js';
import { DeferredBullmqRunner } from './deferred-bullmq.js';
import { SqliteJobRunner } from './sqlite-runner.js';
import { JOBS, type JobTable } from './table.js';
import type { JobRunner } from './types.js';

export type {
  EnqueueOptions,
  JobContext,
  JobError,
  JobEvent,
  JobEventListener,
  JobHandler,
  JobRunner,
  JobStats,
  JsonValue,
  StopOptions,
} from './types.js';
export { SqliteJobRunner, type SqliteJobRunnerOptions } from './sqlite-runner.js';
export type { BullmqJobRunner, BullmqJobRunnerOptions } from './bullmq-runner.js';
export { DeferredBullmqRunner } from './deferred-bullmq.js';
export { runnerDefaults, type RunnerOptions } from './shared.js';
export { JOBS, type JobName, type JobPayload, type JobTable } from './table.js';

/** The job runner's own options (the station maps the `jobs` section to them). */
export interface JobRunnerSettings {
  /** BullMQ on Redis when set; the in-process runner on the catalog otherwise. */
  redisUrl?: string | undefined;
  /** BullMQ key prefix, so several stations can share one Redis. */
  prefix: string;
  concurrency: number;
  maxAttempts: number;
}

export interface CreateJobRunnerDeps {
  settings: JobRunnerSettings;
  /** Holds the SQLite adapter's queue; unused with BullMQ. */
  catalog: Catalog;
  log: Logger;
  /** The jobs it runs; the station's table unless told otherwise. */
  jobs?: JobTable;
}

/**
 * The job runner the settings ask for: BullMQ on Redis when `redisUrl` is set,
 * otherwise the in-process runner on the catalog. Nothing connects until the runner
 * is used.
 */
export function createJobRunner({ settings, catalog, log, jobs = JOBS }: CreateJobRunnerDeps): JobRunner {
  const { redisUrl, prefix, concurrency, maxAttempts } = settings;
  if (redisUrl !== undefined) {
    return new DeferredBullmqRunner({ redisUrl, prefix, concurrency, maxAttempts, jobs, log: log.child({ module: 'jobs', adapter: 'bullmq' }) });
  }
  return new SqliteJobRunner({ catalog, concurrency, maxAttempts, jobs, log: log.child({ module: 'jobs', adapter: 'sqlite' }) });
}
