import type { Worker } from 'node:worker_threads';
import type { Db } from '../../catalog/index.js';
import { type Logger, startModuleWorker } from '../../core/index.js';
import type { EvidenceFilter, EvidenceQueries, SearchPosition } from './evidence.js';

/** What the API's thread hands the search thread: a search of a catalog file, or the end of one's use. */
export type SearchJob =
  | { id: number; file: string; scope: string | null; filter: EvidenceFilter; after: SearchPosition | null; limit: number }
  | { id: number; file: string; close: true };

/** The search thread's answer: the page's items as JSON text, done (a close), or why not. */
export type SearchReply = { id: number; items: string[] } | { id: number; closed: true } | { id: number; error: { message: string; code?: string } };

type Pending = { resolve: (r: SearchReply) => void; reject: (e: Error) => void };
/** A job before the thread numbers it. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The process's search thread (src/api/queries/search-worker.ts): a read-only
 * connection per catalog file it is asked about, the API's own search statements.
 * Started at the first search, held only while it has work; one that fails takes the
 * searches waiting in it with it, and the next search starts a new one.
 */
class SearchThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private log: Logger | null = null) {}

  ask(job: Unnumbered<SearchJob>, log: Logger): Promise<SearchReply> {
    this.log = log;
    const w = this.start();
    const id = this.nextId++;
    return new Promise<SearchReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ ...job, id } as SearchJob);
    });
  }

  get running(): boolean {
    return this.worker !== null;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = startModuleWorker(import.meta.url, 'search-worker', null);
    w.unref();
    w.on('message', (r: SearchReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      p.resolve(r);
    });
    const gone = (e: Error): void => {
      if (this.worker !== w) return;
      this.worker = null;
      this.log?.error({ err: e }, 'the search thread stopped; the next search starts a new one');
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`the search thread exited with code ${code}`)));
    this.worker = w;
    return w;
  }
}

const thread = new SearchThread();

/**
 * Evidence searches of one catalog, run in the process's search thread: SQLite builds a
 * page's JSON there while the API's thread reads requests, authenticates and sends
 * answers, so the two use both cores instead of one. Each search is a new read of the
 * catalog file, so it sees every change committed before it, as on the API's own
 * connection. A catalog with no file (an in-memory one, in tests) is searched in the
 * calling thread.
 */
export class SearchPool {
  private readonly file: string | null;
  private used = false;
  private closed = false;

  constructor(
    db: Db,
    /** The same searches in this thread, where there is no file to open. */
    private readonly inThread: EvidenceQueries,
    private readonly log: Logger,
  ) {
    this.file = db.memory || db.name === '' ? null : db.name;
  }

  /** A page of items as JSON text, as {@link EvidenceQueries.searchJson} gives it. */
  async search(scope: string | null, filter: EvidenceFilter, after: SearchPosition | null, limit: number): Promise<string[]> {
    if (this.file === null || this.closed) return this.inThread.searchJson(scope, filter, after, limit);
    this.used = true;
    const r = await thread.ask({ file: this.file, scope, filter, after, limit }, this.log);
    if ('items' in r) return r.items;
    if ('error' in r) throw Object.assign(new Error(r.error.message), r.error.code === undefined ? {} : { code: r.error.code });
    throw new Error('the search thread answered a search with no items');
  }

  /** The API is stopping: the search thread closes its connection to this catalog. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.file === null || !this.used || !thread.running) return;
    await thread.ask({ file: this.file, close: true }, this.log).catch(() => undefined);
  }
}
