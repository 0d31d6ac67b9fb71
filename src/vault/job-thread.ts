import { Worker } from 'node:worker_threads';

/**
 * A worker thread run from source text that answers one reply per job, in any order,
 * matched by id. It is started at its first job, and holds the event loop only while
 * it has work, so an idle thread never keeps a one-shot command from ending.
 *
 * The worker's script receives `{ id, ...job }` and posts `{ id, result }`.
 */
export class JobThread<Job extends object, Result> {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Result) => void; reject: (e: unknown) => void }>();

  /** `what` names the thread in errors ("the vault's names thread"). */
  constructor(
    private readonly source: string,
    private readonly name: string,
    private readonly what: string,
  ) {}

  run(job: Job): Promise<Result> {
    const w = this.start();
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ id, ...job });
    });
  }

  /**
   * End the thread; jobs still waiting fail. Resolves once the thread has ended (at
   * once when none runs); callers need not wait for it: a thread held in a read that
   * never returns (a hung recorder) cannot be stopped, so it ends only when that read
   * returns, and it is left unreferenced meanwhile so it holds nothing else up.
   */
  close(): Promise<void> {
    const w = this.worker;
    if (!w) return Promise.resolve();
    const ended = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.stopped(w, new Error(`${this.what} was closed`));
    w.unref();
    void w.terminate().catch(() => undefined);
    return ended;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // trackUnmanagedFds off: a descriptor the worker opens and hands over (a copy's temp
    // file, synced and closed later by the caller) is the caller's, and must not be
    // closed by Node when the worker ends, nor its number's reuse taken for a leak.
    const w = new Worker(this.source, { eval: true, name: this.name, trackUnmanagedFds: false });
    w.unref();
    w.on('message', (r: { id: number; result: Result }) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      p.resolve(r.result);
    });
    // The worker is gone: every job in it fails, and the next job starts a new one.
    w.on('error', (e) => this.stopped(w, e));
    w.on('exit', (code) => this.stopped(w, new Error(`${this.what} exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private stopped(w: Worker, e: unknown): void {
    if (this.worker !== w) return;
    this.worker = null;
    const err = e instanceof Error ? e : new Error(`${this.what} stopped (${String(e)})`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** An error of the worker, as it crosses the thread: enough to rebuild a Node error. */
export interface ThreadError {
  message: string;
  code?: string;
  syscall?: string;
  path?: string;
}

/**
 * An error as it can cross to the main thread. Self-contained: it is also part of the
 * workers' source text (see {@link workerSource}).
 */
export function threadError(e: unknown): ThreadError {
  const x = e as NodeJS.ErrnoException;
  const out: ThreadError = { message: x instanceof Error ? x.message : String(e) };
  if (typeof x?.code === 'string') out.code = x.code;
  if (typeof x?.syscall === 'string') out.syscall = x.syscall;
  if (typeof x?.path === 'string') out.path = x.path;
  return out;
}

/**
 * A worker's source text: the function, called with {@link threadError}. It is given as
 * an argument, not referred to, because a module loader that rewrites imports (vitest's)
 * would turn a reference to an imported function into one to its module, which the
 * worker does not have. `__name` is defined for the case the function was compiled with
 * esbuild's keepNames (tsx, vitest), which wraps named inner functions in a call to it.
 */
export function workerSource(worker: (errorOf: typeof threadError) => void): string {
  return `var __name = (f) => f;\n(${worker.toString()})(${threadError.toString()});\n`;
}

/** A worker's error as a Node error again (code, syscall, path), so callers classify it as before. */
export function nodeError(e: ThreadError): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(e.message);
  if (e.code !== undefined) err.code = e.code;
  if (e.syscall !== undefined) err.syscall = e.syscall;
  if (e.path !== undefined) err.path = e.path;
  return err;
}
