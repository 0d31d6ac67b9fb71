import type { Catalog, Db } from '../catalog/index.js';
import { CustodyError, errorMessage, type Logger, rfc3339 } from '../core/index.js';
import {
  EventHub,
  HandlerRegistry,
  RepeatFilter,
  backoffDelay,
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
  type AttemptOutcome,
  type RunnerOptions,
} from './shared.js';
import type { EnqueueOptions, JobEventListener, JobHandler, JobRunner, JobStats, JsonValue, StopOptions } from './types.js';

export interface SqliteJobRunnerOptions extends RunnerOptions {
  catalog: Catalog;
  log: Logger;
  /**
   * Longest wait between two looks at the table. Enqueues from this process wake
   * the runner at once; the poll catches jobs other processes (the CLI) add.
   */
  pollIntervalMs?: number;
  /** Done rows older than this are deleted. Failed rows are kept for inspection. */
  retainDoneMs?: number;
}

interface JobRow {
  id: number;
  name: string;
  payload: string;
  attempts: number;
  run_after: number;
}

interface Running {
  /** Aborts the handler's signal: stop()'s deadline has passed. */
  controller: AbortController;
  /** Stops waiting for a handler that ignored the abort. */
  abandon: AbortController;
  done: Promise<void>;
}

/** Every statement the runner uses, prepared once. */
function prepareStatements(db: Db) {
  return {
    insert: db.prepare<[string, string, string | null, number, string, string]>(
      `INSERT INTO jobs (name, payload, dedupe_key, status, attempts, run_after, created_at, updated_at)
       VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)
       ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running') DO NOTHING`,
    ),
    liveByKey: db.prepare<[string], { id: number }>(`SELECT id FROM jobs WHERE dedupe_key = ? AND status IN ('pending', 'running')`),
    // One statement, so claiming is atomic without a transaction.
    claim: db.prepare<[string, number, number], JobRow>(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ?
       WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_after <= ? ORDER BY run_after, id LIMIT ?)
       RETURNING id, name, payload, attempts, run_after`,
    ),
    nextDue: db.prepare<[], { next: number | null }>(`SELECT MIN(run_after) AS next FROM jobs WHERE status = 'pending'`),
    done: db.prepare<[string, number, number]>(
      `UPDATE jobs SET status = 'done', last_error = NULL, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?`,
    ),
    retry: db.prepare<[number, string, string, number, number]>(
      `UPDATE jobs SET status = 'pending', run_after = ?, last_error = ?, updated_at = ?
       WHERE id = ? AND status = 'running' AND attempts = ?`,
    ),
    fail: db.prepare<[string, string, number, number]>(
      `UPDATE jobs SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?`,
    ),
    // An attempt cut short by stop() is given back: it was not the job's fault.
    putBack: db.prepare<[number, string, number, number]>(
      `UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_after = ?, updated_at = ?
       WHERE id = ? AND status = 'running' AND attempts = ?`,
    ),
    // A job that was running every time the process died may be what kills it.
    failInterrupted: db.prepare<[string, string, number]>(
      `UPDATE jobs SET status = 'failed', last_error = ?, updated_at = ? WHERE status = 'running' AND attempts >= ?`,
    ),
    recover: db.prepare<[number, string]>(`UPDATE jobs SET status = 'pending', run_after = ?, updated_at = ? WHERE status = 'running'`),
    prune: db.prepare<[string]>(`DELETE FROM jobs WHERE status = 'done' AND updated_at < ?`),
    stats: db.prepare<[number, number], JobStats>(
      `SELECT
         COALESCE(SUM(status = 'pending' AND run_after <= ?), 0) AS waiting,
         COALESCE(SUM(status = 'running'), 0) AS active,
         COALESCE(SUM(status = 'failed'), 0) AS failed,
         COALESCE(SUM(status = 'pending' AND run_after > ?), 0) AS delayed
       FROM jobs WHERE status IN ('pending', 'running', 'failed')`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * The in-process adapter: jobs are rows of the catalog's `jobs` table, run by this
 * process with bounded concurrency.
 *
 * Invariants:
 * - One started runner per catalog file: start() puts every row left 'running'
 *   (by a crash, or a handler that ignored stop's abort) back to 'pending'.
 *   Other processes may enqueue; only the daemon runs jobs.
 * - Every state change is one synchronous statement or transaction; nothing awaits
 *   while one is open.
 * - A row moves out of 'running' only from the attempt that claimed it (the update
 *   matches id, status and attempts), so a late handler cannot overwrite a newer run.
 * - At most one poll timer and one wake-up are pending at a time, and stop() clears both.
 */
export class SqliteJobRunner implements JobRunner {
  readonly kind = 'sqlite' as const;

  private readonly catalog: Catalog;
  private readonly log: Logger;
  private readonly opts: ResolvedRunnerOptions;
  private readonly pollIntervalMs: number;
  private readonly retainDoneMs: number;
  private readonly handlers: HandlerRegistry;
  private readonly events: EventHub;
  private readonly pollErrors: RepeatFilter;
  private readonly active = new Map<number, Running>();

  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wakeup: NodeJS.Immediate | undefined;
  private lastPruneMs = 0;
  private held = false;

  private readonly st: Statements;

  constructor(o: SqliteJobRunnerOptions) {
    this.catalog = o.catalog;
    this.log = o.log;
    this.opts = resolveRunnerOptions(o);
    this.handlers = new HandlerRegistry(o.jobs);
    this.pollIntervalMs = o.pollIntervalMs ?? 1_000;
    this.retainDoneMs = o.retainDoneMs ?? 7 * 24 * 60 * 60 * 1000;
    if (!(this.pollIntervalMs > 0)) throw new CustodyError('JOBS_INVALID_OPTION', 'pollIntervalMs must be > 0');
    this.events = new EventHub(this.log);
    this.pollErrors = new RepeatFilter(this.log);

    this.st = prepareStatements(this.catalog.db);
  }

  register(name: string, handler: JobHandler): void {
    this.handlers.register(name, handler);
  }

  on(listener: JobEventListener): () => void {
    return this.events.on(listener);
  }

  enqueue(name: string, payload: JsonValue, opts: EnqueueOptions = {}): Promise<string> {
    return this.enqueueMany([{ name, payload, opts }]).then(([id]) => id!);
  }

  enqueueMany(jobs: ReadonlyArray<{ name: string; payload: JsonValue; opts?: EnqueueOptions }>): Promise<string[]> {
    try {
      if (this.state === 'stopped') throw stoppedError();
      const texts = jobs.map((j) => checkEnqueue(j.name, j.payload, j.opts ?? {}));
      const now = this.catalog.clock.now();
      const stamp = rfc3339(now);
      const ids = this.catalog.tx(() =>
        jobs.map(({ name, opts = {} }, i) => {
          const key = opts.key ?? null;
          const r = this.st.insert.run(name, texts[i]!, key, now.getTime() + Math.round(opts.delayMs ?? 0), stamp, stamp);
          if (r.changes === 1) return String(r.lastInsertRowid);
          const live = this.st.liveByKey.get(key!);
          if (!live) throw new CustodyError('JOBS_ENQUEUE_FAILED', `job ${name} with key ${key} was neither added nor found`);
          return String(live.id);
        }),
      );
      if (ids.length > 0) this.wake();
      return Promise.resolve(ids);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new CustodyError('JOBS_ALREADY_STARTED', 'a job runner starts once; make a new one'));
    try {
      this.handlers.checkComplete();
      const now = this.catalog.clock.now();
      const stamp = rfc3339(now);
      const { failed, recovered } = this.catalog.tx(() => {
        const f = this.st.failInterrupted.run(
          `JOBS_INTERRUPTED: the process stopped while this job ran, ${this.opts.maxAttempts} times`,
          stamp,
          this.opts.maxAttempts,
        ).changes;
        const r = this.st.recover.run(now.getTime(), stamp).changes;
        return { failed: f, recovered: r };
      });
      if (failed > 0) this.log.error({ jobs: failed }, 'jobs interrupted on every attempt marked failed');
      if (recovered > 0) this.log.warn({ jobs: recovered }, 'jobs left running by a previous run will run again');
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.state = 'running';
    this.pump();
    return Promise.resolve();
  }

  stop(opts: StopOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(opts.deadlineMs ?? this.opts.stopDeadlineMs);
    return this.stopping;
  }

  stats(): Promise<JobStats> {
    try {
      const now = this.catalog.clock.now().getTime();
      return Promise.resolve({ ...this.st.stats.get(now, now)! });
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.state = 'stopping';
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.wakeup) clearImmediate(this.wakeup);
    this.wakeup = undefined;

    const inFlight = (): Promise<void>[] => [...this.active.values()].map((r) => r.done);
    if (!(await settledWithin(inFlight(), deadlineMs))) {
      this.log.warn({ jobs: [...this.active.keys()] }, 'stop deadline passed; aborting running jobs');
      for (const r of this.active.values()) r.controller.abort(stoppingError());
      if (!(await settledWithin(inFlight(), this.opts.abortGraceMs))) {
        this.log.error(
          { jobs: [...this.active.keys()] },
          'job handlers ignored the abort; their jobs are put back and run again when a runner next starts',
        );
        for (const r of this.active.values()) r.abandon.abort();
        // Putting back is a synchronous write per job: this settles at once.
        await Promise.allSettled(inFlight());
      }
    }
    this.state = 'stopped';
  }

  /** Look at the table soon, once: coalesces many enqueues and completions into one poll. */
  hold(on: boolean): Promise<void> {
    this.held = on;
    if (!on) this.wake();
    return Promise.resolve();
  }

  private wake(): void {
    if (this.state !== 'running' || this.wakeup) return;
    this.wakeup = setImmediate(() => {
      this.wakeup = undefined;
      this.pump();
    });
  }

  /** Claim as many due jobs as there are free slots, start them, and set the next poll. */
  private pump(): void {
    if (this.state !== 'running') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    let delay = this.pollIntervalMs;
    try {
      const now = this.catalog.clock.now();
      this.maybePrune(now);
      const free = this.held ? 0 : this.opts.concurrency - this.active.size;
      if (free > 0) {
        const rows = this.st.claim.all(rfc3339(now), now.getTime(), free);
        rows.sort((a, b) => a.run_after - b.run_after || a.id - b.id);
        for (const row of rows) this.launch(row);
      }
      // Full: a finishing job wakes the runner, no timer is needed until then.
      if (this.active.size >= this.opts.concurrency) return;
      const next = this.st.nextDue.get()?.next ?? null;
      if (next !== null) delay = Math.max(0, Math.min(delay, next - now.getTime()));
      this.pollErrors.clear();
    } catch (err) {
      this.pollErrors.error(err, 'job poll failed');
    }
    // Referenced on purpose: a started runner keeps its process alive until stop().
    this.timer = setTimeout(() => this.pump(), delay);
  }

  private maybePrune(now: Date): void {
    if (now.getTime() - this.lastPruneMs < PRUNE_EVERY_MS) return;
    this.lastPruneMs = now.getTime();
    const removed = this.st.prune.run(rfc3339(new Date(now.getTime() - this.retainDoneMs))).changes;
    if (removed > 0) this.log.debug({ jobs: removed }, 'pruned old done jobs');
  }

  private launch(row: JobRow): void {
    const controller = new AbortController();
    const abandon = new AbortController();
    // Started on a later tick, so handlers (and the event listeners they trigger)
    // never run inside pump().
    const done = Promise.resolve()
      .then(() => this.execute(row, controller.signal, abandon.signal))
      .catch((err: unknown) => this.log.error({ err, job: row.id }, 'job runner bug: an attempt escaped its error handling'))
      .finally(() => {
        this.active.delete(row.id);
        this.wake();
      });
    this.active.set(row.id, { controller, abandon, done });
  }

  /** Run one claimed attempt and record its outcome. Never rejects. */
  private async execute(row: JobRow, signal: AbortSignal, abandon: AbortSignal): Promise<void> {
    const id = String(row.id);
    const attempt = row.attempts;
    const log = this.log.child({ job: id, name: row.name, attempt });
    const handler = this.handlers.get(row.name);
    let outcome: AttemptOutcome;
    if (!handler) {
      outcome = { ok: false, error: unknownNameError(row.name) };
    } else {
      let payload: unknown;
      let corrupt: CustodyError | undefined;
      try {
        payload = JSON.parse(row.payload);
      } catch (e) {
        corrupt = new CustodyError('JOBS_PAYLOAD_CORRUPT', `stored payload is not JSON: ${errorMessage(e)}`);
      }
      outcome = corrupt
        ? { ok: false, error: corrupt }
        : await runAttempt(handler, payload, { id, name: row.name, attempt, signal, log }, abandon);
    }
    try {
      const now = this.catalog.clock.now();
      const stamp = rfc3339(now);
      if (outcome.ok) {
        if (this.st.done.run(stamp, row.id, attempt).changes === 1) {
          this.events.emit({ type: 'completed', id, name: row.name, attempt });
        } else {
          log.warn('job completed, but another runner had taken it over');
        }
        return;
      }
      if (signal.aborted && this.state !== 'running') {
        this.st.putBack.run(now.getTime(), stamp, row.id, attempt);
        log.info({ err: outcome.error }, 'job interrupted by stop; it will run again');
        return;
      }
      const error = describeError(outcome.error);
      const lastError = `${error.code}: ${error.message}`;
      const willRetry = handler !== undefined && !isPermanent(outcome.error) && attempt < this.opts.maxAttempts;
      const changes = willRetry
        ? this.st.retry.run(now.getTime() + backoffDelay(this.opts.backoffMs, attempt), lastError, stamp, row.id, attempt).changes
        : this.st.fail.run(lastError, stamp, row.id, attempt).changes;
      if (changes === 1) {
        this.events.emit({ type: 'failed', id, name: row.name, attempt, error, willRetry });
      } else {
        log.warn({ err: outcome.error }, 'job failed, but another runner had taken it over');
      }
    } catch (err) {
      log.error({ err }, 'could not record the job outcome; the job runs again when a runner next starts');
    }
  }
}
