import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { BullmqJobRunner } from './bullmq-runner.js';
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
export { BullmqJobRunner, jobIdForKey, type BullmqJobRunnerOptions } from './bullmq-runner.js';
export { runnerDefaults, type RunnerOptions } from './shared.js';
export { JOBS, type JobName, type JobPayload, type JobTable } from './table.js';

export interface CreateJobRunnerDeps {
  config: Pick<Config, 'jobs'>;
  /** Holds the SQLite adapter's queue; unused with BullMQ. */
  catalog: Catalog;
  log: Logger;
  /** The jobs it runs; the station's table unless told otherwise. */
  jobs?: JobTable;
}

/**
 * The job runner the configuration asks for: BullMQ on Redis when `jobs.redisUrl`
 * is set, otherwise the in-process runner on the catalog. Nothing connects until
 * the runner is used.
 */
export function createJobRunner({ config, catalog, log, jobs = JOBS }: CreateJobRunnerDeps): JobRunner {
  const { redisUrl, prefix, concurrency, maxAttempts } = config.jobs;
  if (redisUrl !== undefined) {
    return new BullmqJobRunner({ redisUrl, prefix, concurrency, maxAttempts, jobs, log: log.child({ module: 'jobs', adapter: 'bullmq' }) });
  }
  return new SqliteJobRunner({ catalog, concurrency, maxAttempts, jobs, log: log.child({ module: 'jobs', adapter: 'sqlite' }) });
}
