import { CustodyError, errorMessage, type Logger } from '../core/index.js';
import type { JobTable } from './table.js';
import type { EnqueueOptions, JobContext, JobError, JobEvent, JobEventListener, JobHandler, JsonValue } from './types.js';

/** Settings both adapters share. Every field has a default (see {@link runnerDefaults}). */
export interface RunnerOptions {
  /** Handlers of this runner running at once (jobs.concurrency). */
  concurrency?: number;
  /** Attempts before a job fails for good (jobs.maxAttempts). */
  maxAttempts?: number;
  /** The first retry waits this long; each further one twice as long as the one before. */
  backoffMs?: number;
  /** stop()'s default deadline before running handlers are aborted. */
  stopDeadlineMs?: number;
  /** After aborting, how long stop() waits for handlers to give up before it returns anyway. */
  abortGraceMs?: number;
  /**
   * The jobs this runner runs and their payload schemas (see {@link JobTable}). The
   * station always passes one (`createJobRunner`: the station's {@link JOBS}).
   */
  jobs?: JobTable;
}

export const runnerDefaults = {
  concurrency: 2,
  maxAttempts: 5,
  backoffMs: 5_000,
  stopDeadlineMs: 20_000,
  abortGraceMs: 5_000,
} as const satisfies ResolvedRunnerOptions;

/** The settings with their defaults filled in (the job table stays with the handlers). */
export type ResolvedRunnerOptions = Required<Omit<RunnerOptions, 'jobs'>>;

export function resolveRunnerOptions(o: RunnerOptions): ResolvedRunnerOptions {
  const { jobs: _jobs, ...settings } = o;
  const r = { ...runnerDefaults, ...definedOnly(settings) };
  positiveInt('concurrency', r.concurrency);
  positiveInt('maxAttempts', r.maxAttempts);
  nonNegative('backoffMs', r.backoffMs);
  nonNegative('stopDeadlineMs', r.stopDeadlineMs);
  nonNegative('abortGraceMs', r.abortGraceMs);
  return r;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInt(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new CustodyError('JOBS_INVALID_OPTION', `${what} must be a positive integer, got ${n}`);
}

function nonNegative(what: string, n: number): void {
  if (!Number.isFinite(n) || n < 0) throw new CustodyError('JOBS_INVALID_OPTION', `${what} must be a number >= 0, got ${n}`);
}

/** Delay before the retry that follows failed attempt number `attempt` (1-based). */
export function backoffDelay(backoffMs: number, attempt: number): number {
  return Math.round(backoffMs * 2 ** (attempt - 1));
}

/** Names are identifiers like `media.probe`, so they read well in logs and Redis keys. */
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkName(name: string): void {
  if (!JOB_NAME.test(name)) {
    throw new CustodyError('JOBS_INVALID_NAME', `job name ${JSON.stringify(name)} must match ${JOB_NAME.source}`);
  }
}

/** Validate what enqueue was given and return the payload's JSON text. */
export function checkEnqueue(name: string, payload: JsonValue, opts: EnqueueOptions): string {
  checkName(name);
  if (opts.key !== undefined && (typeof opts.key !== 'string' || opts.key.length === 0 || opts.key.length > 500)) {
    throw new CustodyError('JOBS_INVALID_KEY', 'a job key must be a non-empty string of at most 500 characters');
  }
  if (opts.delayMs !== undefined && (!Number.isFinite(opts.delayMs) || opts.delayMs < 0)) {
    throw new CustodyError('JOBS_INVALID_DELAY', `delayMs must be a number >= 0, got ${opts.delayMs}`);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (e) {
    throw new CustodyError('JOBS_PAYLOAD_NOT_JSON', `payload of job ${name} is not JSON: ${errorMessage(e)}`, { cause: e });
  }
  if (text === undefined) throw new CustodyError('JOBS_PAYLOAD_NOT_JSON', `payload of job ${name} has no JSON form`);
  return text;
}

/**
 * Only a CustodyError that says so is permanent: anything else (a crashed ffprobe,
 * a full disk, a dropped connection) may pass on a later attempt.
 */
export function isPermanent(e: unknown): boolean {
  return e instanceof CustodyError && !e.retryable;
}

export function describeError(e: unknown): JobError {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return {
    code: typeof code === 'string' && code.length > 0 ? code : 'JOBS_HANDLER_FAILED',
    message: errorMessage(e),
  };
}

export function unknownNameError(name: string): CustodyError {
  return new CustodyError('JOBS_UNKNOWN_NAME', `no handler is registered for job "${name}"`);
}

/** The reason handed to a handler's signal when stop() runs out of patience. */
export function stoppingError(): CustodyError {
  return new CustodyError('JOBS_STOPPING', 'the job runner is stopping');
}

function abandonedError(): CustodyError {
  return new CustodyError('JOBS_ABANDONED', 'the job runner stopped without waiting for this handler, which ignored its abort signal');
}

export type AttemptOutcome = { ok: true } | { ok: false; error: unknown };

/**
 * Run one attempt of a handler. It settles early, as a failure, when `abandon` is
 * aborted: stop() has given up on a handler that ignored its signal, so the runner
 * can put the job back and close its store. The handler itself runs on unobserved
 * (JavaScript cannot kill it); its late outcome is only logged.
 */
export async function runAttempt(handler: JobHandler, payload: unknown, ctx: JobContext, abandon: AbortSignal): Promise<AttemptOutcome> {
  let onAbandon: (() => void) | undefined;
  const abandoned = new Promise<never>((_resolve, reject) => {
    onAbandon = () => reject(abandonedError());
    abandon.addEventListener('abort', onAbandon, { once: true });
  });
  const run = (async () => handler(payload, ctx))();
  try {
    await Promise.race([run, abandoned]);
    return { ok: true };
  } catch (error) {
    if (abandon.aborted) {
      run.then(
        () => ctx.log.warn('abandoned job handler finished after all'),
        (err: unknown) => ctx.log.warn({ err }, 'abandoned job handler failed'),
      );
    }
    return { ok: false, error };
  } finally {
    if (onAbandon) abandon.removeEventListener('abort', onAbandon);
  }
}

export function stoppedError(): CustodyError {
  return new CustodyError('JOBS_RUNNER_STOPPED', 'the job runner has been stopped');
}

/** Handlers by name, shared by both adapters so they refuse the same mistakes. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, JobHandler>();

  /** With a table, only its names are taken, and each payload is checked on dequeue. */
  constructor(private readonly table?: JobTable) {}

  register(name: string, handler: JobHandler): void {
    checkName(name);
    if (this.table && !Object.hasOwn(this.table, name)) {
      throw new CustodyError('JOBS_UNKNOWN_NAME', `job "${name}" is not in the job table; add it with its payload schema`);
    }
    if (this.handlers.has(name)) throw new CustodyError('JOBS_DUPLICATE_HANDLER', `a handler for job "${name}" is already registered`);
    this.handlers.set(name, handler);
  }

  /**
   * The handler for a dequeued job. With a table it first checks the payload against
   * the name's schema and hands the handler the parsed payload; a payload of the
   * wrong shape throws JOBS_PAYLOAD_INVALID, which is not retryable, so the job fails
   * for good at once instead of looping through its attempts.
   */
  get(name: string): JobHandler | undefined {
    const handler = this.handlers.get(name);
    const schema = this.table && Object.hasOwn(this.table, name) ? this.table[name] : undefined;
    if (!handler || !schema) return handler;
    return (payload, ctx) => {
      const r = schema.safeParse(payload);
      if (!r.success) {
        const problems = r.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`);
        throw new CustodyError('JOBS_PAYLOAD_INVALID', `job ${name} has a payload of the wrong shape (${problems.join('; ')}); it cannot succeed and is not retried`, {
          details: { name, problems },
        });
      }
      return handler(r.data, ctx);
    };
  }

  /** start() refuses a table with a job nobody handles: its jobs would pile up unrun. */
  checkComplete(): void {
    if (!this.table) return;
    const missing = Object.keys(this.table).filter((n) => !this.handlers.has(n));
    if (missing.length > 0) {
      throw new CustodyError('JOBS_HANDLER_MISSING', `no handler is registered for job${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} of the job table`, {
        details: { missing },
      });
    }
  }
}

/** Listeners for job events; one that throws is logged and cannot hurt the runner. */
export class EventHub {
  private readonly listeners = new Set<JobEventListener>();

  constructor(private readonly log: Logger) {}

  on(listener: JobEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: JobEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err, event: event.type, job: event.id }, 'job event listener threw');
      }
    }
  }
}

/**
 * Resolve true when every promise has settled within ms, false otherwise. The
 * timer is always cleared, so a fast finish leaves nothing behind.
 */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Log an error unless it repeats the previous one: a store that is down fails the
 * same way on every poll or reconnect, and one line says it.
 */
export class RepeatFilter {
  private last: string | undefined;

  constructor(private readonly log: Logger) {}

  error(err: unknown, msg: string): void {
    const key = `${msg}\u0000${errorMessage(err)}`;
    if (key === this.last) return;
    this.last = key;
    this.log.error({ err }, msg);
  }

  /** The trouble is over: the next error is logged again. */
  clear(): void {
    if (this.last !== undefined) {
      this.last = undefined;
      this.log.info('job store reachable again');
    }
  }
}
