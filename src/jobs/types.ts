import type { Logger } from '../core/index.js';

/** A value that survives JSON.stringify / JSON.parse unchanged. Job payloads are JSON. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a handler is told about the attempt it is running. */
export interface JobContext {
  /** The job's id, as returned by {@link JobRunner.enqueue}. */
  readonly id: string;
  readonly name: string;
  /** 1 for the first try, 2 for the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborted when the runner is stopping and its deadline has passed. A handler that
   * does long work (ffprobe, ffmpeg, uploads) passes it on and gives up promptly;
   * the attempt is then put back to run again later, and does not count as failed.
   */
  readonly signal: AbortSignal;
  /** A child logger bound to this job (id, name, attempt). */
  readonly log: Logger;
}

/**
 * Does one job. It receives the payload as stored (JSON), already checked against
 * its job's schema in the runner's job table (src/jobs/table.ts), and resolves when
 * the work is done.
 *
 * Handlers must be idempotent: a job may run more than once (after a crash, after a
 * lost lock, after a stop that had to abort it). A handler must not block the event
 * loop for long: it would stall every other job, and BullMQ workers lose their locks.
 *
 * Failing: throw. A `CustodyError` whose `retryable` is false means "this payload can
 * never succeed": the job fails at once, without retries. Any other error is retried
 * with exponential backoff until `jobs.maxAttempts` attempts have been made.
 */
export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<void>;

export interface EnqueueOptions {
  /**
   * Deduplication key: while a job with this key is live (waiting, delayed or
   * running), enqueuing another one with the same key is a no-op that returns the
   * live job's id. The first payload wins. Once that job is done or has failed, the
   * key is free again.
   */
  key?: string;
  /** Run no sooner than this many milliseconds from now. */
  delayMs?: number;
}

/** Queue depth, for the API and for tests. */
export interface JobStats {
  /** Ready to run now, not yet started. */
  waiting: number;
  /** Running now. */
  active: number;
  /** Failed for good (out of attempts, not retryable, or no handler). */
  failed: number;
  /** Waiting for their time: enqueued with a delay, or backing off before a retry. */
  delayed: number;
}

/** What went wrong, in the shape logs and the API use. */
export interface JobError {
  /** A CustodyError's code, a Node errno code, or JOBS_HANDLER_FAILED. */
  code: string;
  message: string;
}

export type JobEvent =
  | {
      type: 'completed';
      id: string;
      name: string;
      attempt: number;
    }
  | {
      type: 'failed';
      id: string;
      name: string;
      attempt: number;
      error: JobError;
      /** true: the job backs off and runs again; false: it has failed for good. */
      willRetry: boolean;
    };

export type JobEventListener = (event: JobEvent) => void;

export interface StopOptions {
  /**
   * How long to wait for running handlers before aborting them through their
   * signal. After the abort the runner waits a short grace period more, then
   * returns regardless; a handler still running then is left behind, and its job
   * runs again when a runner next starts.
   */
  deadlineMs?: number;
}

/**
 * Runs follow-up work (probing media, thumbnails, sealing ledger segments,
 * retention runs) after evidence is safe. Two adapters: in-process on the SQLite
 * catalog, and BullMQ on Redis; one conformance suite checks both.
 *
 * Invariants every adapter keeps:
 * - Durable: a job enqueued (the returned promise resolved) survives a stop or a
 *   crash, and runs once a runner on the same store starts again.
 * - At least once: a job may run again after a crash, so handlers are idempotent.
 * - At most `jobs.concurrency` handlers of one runner run at the same time.
 * - With a job table: only its names are registered, start() fails while one has no
 *   handler (JOBS_HANDLER_MISSING), and each payload is checked against its schema
 *   on dequeue; one of the wrong shape fails at once (JOBS_PAYLOAD_INVALID).
 * - A job with no registered handler, or whose handler throws a non-retryable
 *   CustodyError, fails at once; other errors are retried with exponential backoff
 *   up to `jobs.maxAttempts` attempts.
 * - `stop()` takes no new job, lets running handlers finish up to a deadline, then
 *   aborts them; an aborted attempt runs again later and is not counted as failed.
 * - A runner is started at most once; after `stop()` make a new one.
 */
export interface JobRunner {
  readonly kind: 'sqlite' | 'bullmq';

  /**
   * Say which handler runs jobs of this name. Register every name of the job table
   * before `start()`; a name registered twice, or one not in the table, is an error.
   */
  register(name: string, handler: JobHandler): void;

  /**
   * Add a job and resolve with its id once it is stored durably. Allowed before
   * `start()` (the job waits) and until `stop()` resolves (handlers may enqueue
   * follow-ups while the runner stops). The payload is stored as JSON: what the
   * handler receives is `JSON.parse(JSON.stringify(payload))`.
   */
  enqueue(name: string, payload: JsonValue, opts?: EnqueueOptions): Promise<string>;

  /**
   * Add several jobs, as enqueue adds each, and resolve with their ids in order. The
   * in-process runner stores them in one transaction (one sync for all, not one each;
   * none is added when one is refused); BullMQ adds them one after another.
   */
  enqueueMany(jobs: ReadonlyArray<{ name: string; payload: JsonValue; opts?: EnqueueOptions }>): Promise<string[]>;

  /**
   * Begin taking jobs. Jobs left running by a runner that crashed are picked up
   * again. Rejects with a clear CustodyError when the store cannot be reached.
   */
  start(): Promise<void>;

  /** Stop taking jobs and release the store; see {@link StopOptions}. Idempotent. */
  stop(opts?: StopOptions): Promise<void>;

  /** Counts by state across the whole store, not only this runner's jobs. */
  stats(): Promise<JobStats>;

  /**
   * Hold (true) or release (false) the start of new jobs: running ones finish, enqueue
   * goes on, and held jobs start once released. Resolves when the change has taken
   * effect (BullMQ: the worker paused or resumed); never rejects. The station holds its
   * follow-ups while recorders are being copied.
   */
  hold(on: boolean): Promise<void>;

  /**
   * Be told when an attempt completes or fails, after the outcome is stored.
   * Listeners run synchronously and must not throw (a throw is logged and ignored).
   * Returns a function that removes the listener.
   */
  on(listener: JobEventListener): () => void;
}
