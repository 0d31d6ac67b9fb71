import { hostname } from 'node:os';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { CustodyError, errorMessage, type Logger } from '../core/index.js';
import {
  EventHub,
  HandlerRegistry,
  RepeatFilter,
  checkEnqueue,
  describeError,
  isPermanent,
  resolveRunnerOptions,
  type ResolvedRunnerOptions,
  runAttempt,
  settledWithin,
  stoppedError,
  stoppingError,
  unknownNameError,
  type RunnerOptions,
} from './shared.js';
import type {
  EnqueueOptions,
  JobError,
  JobEventListener,
  JobHandler,
  JobRunner,
  JobStats,
  JsonValue,
  StopOptions,
} from './types.js';

export interface BullmqJobRunnerOptions extends RunnerOptions {
  /** redis:// or rediss:// URL (jobs.redisUrl). */
  redisUrl: string;
  /** Key prefix (jobs.prefix), so several stations can share one Redis. */
  prefix: string;
  log: Logger;
  /** The queue's name under the prefix. */
  queueName?: string;
  /** How long start() waits to reach Redis before it fails. */
  connectTimeoutMs?: number;
  /**
   * A worker's lock on a running job lasts this long and is renewed at half of it.
   * After a crash the job runs again once the lock has expired.
   */
  lockDurationMs?: number;
  /** How often the worker looks for jobs whose worker died (stalled jobs). */
  stalledIntervalMs?: number;
  /** Failed jobs are kept this long (and at most 1000 of them) for inspection. */
  retainFailedMs?: number;
}

/** A failure that must not be retried; BullMQ recognises it by class. */
class PermanentJobError extends UnrecoverableError {
  constructor(readonly jobError: JobError) {
    super(`${jobError.code}: ${jobError.message}`);
  }
}

interface InFlight {
  controller: AbortController;
  abandon: AbortController;
}

/**
 * BullMQ's job ids may not be integers and may not contain ':' (it separates Redis
 * key parts), so a dedupe key becomes the job id through a fixed, readable
 * encoding: `key.` + the key with '%' and ':' percent-encoded.
 */
export function jobIdForKey(key: string): string {
  return `key.${key.replaceAll('%', '%25').replaceAll(':', '%3A')}`;
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * The BullMQ adapter: one Queue and one Worker on Redis. The only module that
 * imports bullmq or ioredis.
 *
 * Invariants:
 * - One ioredis connection (maxRetriesPerRequest: null, as BullMQ workers require)
 *   is shared by the Queue and the Worker; the Worker adds its own blocking
 *   connection. stop() closes the Worker, then the Queue, then the connection.
 * - Completed jobs are removed at once, so their key is free for the next enqueue;
 *   failed ones are kept for a while for inspection, and enqueue removes a failed
 *   job that holds the key it is asked for.
 * - An attempt cut short by stop() goes back to the front of the waiting list
 *   without counting as failed, as in the SQLite adapter.
 */
export class BullmqJobRunner implements JobRunner {
  readonly kind = 'bullmq' as const;

  private readonly log: Logger;
  private readonly opts: ResolvedRunnerOptions;
  private readonly redisUrl: string;
  private readonly prefix: string;
  private readonly queueName: string;
  private readonly connectTimeoutMs: number;
  private readonly lockDurationMs: number;
  private readonly stalledIntervalMs: number;
  private readonly retainFailedMs: number;
  private readonly handlers: HandlerRegistry;
  private readonly events: EventHub;
  private readonly redisErrors: RepeatFilter;
  private readonly inFlight = new Set<InFlight>();
  /** The attempt number each running job was given, for its completion event. */
  private readonly attempts = new WeakMap<Job, number>();

  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private opening: Promise<Queue> | undefined;
  private stopping: Promise<void> | undefined;
  private conn: Redis | undefined;
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private held = false;
  /** hold() changes, applied to the worker in order. */
  private holding: Promise<void> = Promise.resolve();
  private workerRun: Promise<void> | undefined;

  constructor(o: BullmqJobRunnerOptions) {
    this.log = o.log;
    this.opts = resolveRunnerOptions(o);
    this.handlers = new HandlerRegistry(o.jobs);
    this.redisUrl = o.redisUrl;
    this.prefix = o.prefix;
    this.queueName = o.queueName ?? 'jobs';
    this.connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
    this.lockDurationMs = o.lockDurationMs ?? 30_000;
    this.stalledIntervalMs = o.stalledIntervalMs ?? 30_000;
    this.retainFailedMs = o.retainFailedMs ?? 30 * 24 * 60 * 60 * 1000;
    this.events = new EventHub(this.log);
    this.redisErrors = new RepeatFilter(this.log);
  }

  register(name: string, handler: JobHandler): void {
    this.handlers.register(name, handler);
  }

  on(listener: JobEventListener): () => void {
    return this.events.on(listener);
  }

  async enqueue(name: string, payload: JsonValue, opts: EnqueueOptions = {}): Promise<string> {
    if (this.state === 'stopped') throw stoppedError();
    checkEnqueue(name, payload, opts);
    const queue = await this.open();
    const jobId = opts.key === undefined ? undefined : jobIdForKey(opts.key);
    if (jobId !== undefined) {
      // A failed job keeps its id for inspection; the key must not stay taken by it.
      // (Completed jobs are removed when they complete, atomically.)
      const state = await queue.getJobState(jobId);
      if (state === 'failed' || state === 'completed') await queue.remove(jobId);
    }
    const job = await queue.add(name, payload, {
      ...(jobId === undefined ? {} : { jobId }),
      delay: Math.round(opts.delayMs ?? 0),
      attempts: this.opts.maxAttempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: Math.ceil(this.retainFailedMs / 1000), count: 1000 },
    });
    if (job.id === undefined) throw new CustodyError('JOBS_ENQUEUE_FAILED', `BullMQ gave job ${name} no id`);
    return job.id;
  }

  /** One after another, as enqueue: a key's dedupe needs each job's state first. */
  async enqueueMany(jobs: ReadonlyArray<{ name: string; payload: JsonValue; opts?: EnqueueOptions }>): Promise<string[]> {
    const ids: string[] = [];
    for (const j of jobs) ids.push(await this.enqueue(j.name, j.payload, j.opts));
    return ids;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new CustodyError('JOBS_ALREADY_STARTED', 'a job runner starts once; make a new one');
    this.handlers.checkComplete();
    this.state = 'running';
    let conn: Redis;
    try {
      await this.open();
      conn = this.conn!;
    } catch (e) {
      this.state = 'new';
      throw e;
    }
    const worker = new Worker(this.queueName, (job, token, signal) => this.process(job, token, signal), {
      connection: conn,
      prefix: this.prefix,
      name: `custody@${hostname()}`,
      concurrency: this.opts.concurrency,
      autorun: false,
      lockDuration: this.lockDurationMs,
      stalledInterval: this.stalledIntervalMs,
      // A job whose worker died this often may be what kills it (as in the SQLite adapter).
      maxStalledCount: this.opts.maxAttempts,
    });
    this.worker = worker;
    worker.on('error', (err) => this.redisErrors.error(err, 'job worker error'));
    worker.on('completed', (job) => {
      this.events.emit({ type: 'completed', id: job.id ?? '', name: job.name, attempt: this.attempts.get(job) ?? job.attemptsMade });
    });
    worker.on('failed', (job, err) => {
      if (!job) {
        this.log.warn({ err }, 'a job failed and was removed before it could be reported');
        return;
      }
      const permanent = err instanceof UnrecoverableError || err.name === 'UnrecoverableError';
      this.events.emit({
        type: 'failed',
        id: job.id ?? '',
        name: job.name,
        attempt: this.attempts.get(job) ?? job.attemptsMade,
        error: err instanceof PermanentJobError ? err.jobError : describeError(err),
        // BullMQ stamps finishedOn only when the job has moved to the failed set.
        willRetry: !permanent && !job.finishedOn,
      });
    });
    // Held at its start: the worker takes no job until released.
    if (!this.held) this.runWorker(worker);
    await worker.waitUntilReady();
  }

  private runWorker(worker: Worker): void {
    this.workerRun = worker.run().catch((err: unknown) => {
      this.log.error({ err }, 'job worker stopped with an error');
    });
  }

  hold(on: boolean): Promise<void> {
    this.held = on;
    this.holding = this.holding
      .then(async () => {
        const worker = this.worker;
        if (!worker || this.state !== 'running' || on !== this.held) return;
        // pause() without doNotWaitActive also ends the worker's blocking fetch, so no job
        // slips in after it; it resolves when the running jobs have finished.
        if (on) await worker.pause();
        else if (!this.workerRun) this.runWorker(worker);
        else await worker.resume();
      })
      .catch((err: unknown) => this.log.warn({ err, hold: on }, 'could not hold or release the job worker'));
    return this.holding;
  }

  stop(opts: StopOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(opts.deadlineMs ?? this.opts.stopDeadlineMs);
    return this.stopping;
  }

  async stats(): Promise<JobStats> {
    const queue = await this.open();
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'failed', 'delayed');
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      failed: c.failed ?? 0,
      delayed: c.delayed ?? 0,
    };
  }

  /** Connect once (for enqueue, stats or start), failing clearly when Redis cannot be reached. */
  private open(): Promise<Queue> {
    if (this.state === 'stopped') return Promise.reject(stoppedError());
    this.opening ??= this.connect().catch((e: unknown) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private async connect(): Promise<Queue> {
    const conn = new Redis(this.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      connectTimeout: this.connectTimeoutMs,
      connectionName: `${this.prefix}:custody@${hostname()}`,
    });
    let lastError: unknown;
    conn.on('error', (err: unknown) => {
      lastError = err;
      if (this.conn === conn) this.redisErrors.error(err, 'redis connection error');
    });
    try {
      await conn.connect();
    } catch (e) {
      // Without this, ioredis would go on reconnecting in the background.
      conn.disconnect();
      const cause = lastError ?? e;
      throw new CustodyError('JOBS_REDIS_UNREACHABLE', `cannot reach Redis at ${safeUrl(this.redisUrl)}: ${errorMessage(cause)}`, { cause });
    }
    conn.on('ready', () => this.redisErrors.clear());
    this.conn = conn;
    const queue = new Queue(this.queueName, { connection: conn, prefix: this.prefix });
    queue.on('error', (err) => this.redisErrors.error(err, 'job queue error'));
    this.queue = queue;
    await queue.waitUntilReady();
    return queue;
  }

  /** The Worker's processor: run the handler and turn its outcome into what BullMQ understands. */
  private async process(job: Job, token: string | undefined, bullSignal: AbortSignal | undefined): Promise<void> {
    const attempt = job.attemptsMade + 1;
    this.attempts.set(job, attempt);
    const id = job.id ?? '';
    const log = this.log.child({ job: id, name: job.name, attempt });
    const handler = this.handlers.get(job.name);
    if (!handler) throw new PermanentJobError(describeError(unknownNameError(job.name)));

    const flight: InFlight = { controller: new AbortController(), abandon: new AbortController() };
    // BullMQ aborts its own signal when it cancels a job; pass that on as well.
    const onBullAbort = (): void => flight.controller.abort(bullSignal?.reason);
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    this.inFlight.add(flight);
    try {
      const outcome = await runAttempt(
        handler,
        job.data as unknown,
        { id, name: job.name, attempt, signal: flight.controller.signal, log },
        flight.abandon.signal,
      );
      if (outcome.ok) return;
      if (flight.controller.signal.aborted && this.state !== 'running' && token !== undefined) {
        // Cut short by stop(): back to the front of the waiting list, attempt not spent.
        await job.moveToWait(token);
        log.info({ err: outcome.error }, 'job interrupted by stop; it will run again');
        throw new WaitingError();
      }
      if (isPermanent(outcome.error)) throw new PermanentJobError(describeError(outcome.error));
      throw outcome.error instanceof Error ? outcome.error : new Error(errorMessage(outcome.error));
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.inFlight.delete(flight);
    }
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.state = 'stopping';
    const worker = this.worker;
    if (worker) {
      // A hold waits for running jobs: no longer than the stop's own deadline.
      await settledWithin([this.holding], deadlineMs);
      // close() stops fetching at once and resolves when running jobs have finished.
      const closing = worker.close();
      if (!(await settledWithin([closing], deadlineMs))) {
        this.log.warn({ jobs: this.inFlight.size }, 'stop deadline passed; aborting running jobs');
        for (const f of this.inFlight) f.controller.abort(stoppingError());
        if (!(await settledWithin([closing], this.opts.abortGraceMs))) {
          this.log.error(
            { jobs: this.inFlight.size },
            'job handlers ignored the abort; their jobs are put back and run again when a worker next starts',
          );
          for (const f of this.inFlight) f.abandon.abort();
          if (!(await settledWithin([closing], this.opts.abortGraceMs))) {
            this.log.error('the job worker did not close; closing its connection anyway');
          }
        }
      }
      await settledWithin([this.workerRun ?? Promise.resolve()], this.opts.abortGraceMs);
    }
    // A connection still being opened (a concurrent enqueue) is closed too.
    await settledWithin([this.opening ?? Promise.resolve()], this.connectTimeoutMs);
    this.state = 'stopped';
    try {
      await this.queue?.close();
    } catch (err) {
      this.log.warn({ err }, 'closing the job queue failed');
    }
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      try {
        await conn.quit();
      } catch (err) {
        this.log.debug({ err }, 'quitting the redis connection failed; disconnecting');
        conn.disconnect();
      }
    }
  }
}
