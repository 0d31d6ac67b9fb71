/** How much finished work may wait for one group commit. */
export interface CommitWindow {
  /** Files in one group (and the most that may wait uncommitted). */
  files: number;
  /** Bytes in one group (and the most that may wait uncommitted): bounds unsynced data. */
  bytes: number;
  /**
   * How long a group that is not full may wait for more items when the last commit
   * ended less than this long ago (ms; 0 commits at once). In a stream of small files a
   * transaction's own cost (its WAL sync, the index pages it rewrites) is then shared by
   * the files copied meanwhile, instead of the groups shrinking to the number of copy
   * workers whenever commits keep up; a file after a quiet spell is committed at once.
   */
  lingerMs?: number;
}

export const DEFAULT_COMMIT_WINDOW: CommitWindow = { files: 64, bytes: 256 * 1024 * 1024, lingerMs: 10 };

interface Waiting<T, R> {
  item: T;
  bytes: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: items handed in while a group is being committed wait and go together
 * in the next one, so the fixed cost of a commit (the syncs, the transaction) is shared
 * by as many items as arrived during the last one. An item that finds the committer
 * idle right after a commit waits at most the window's lingerMs for others (a full
 * window, or `idle()`, commits at once; after a quiet spell nothing waits), and a burst
 * of small items settles into groups of the window's size. `add` resolves with the item's own outcome once its group's commit has
 * returned; `room` makes producers wait while a full window is already waiting.
 */
export class GroupCommit<T, R> {
  private queue: Array<Waiting<T, R>> = [];
  private queuedBytes = 0;
  private running: Promise<void> | null = null;
  private readonly roomWaiters: Array<() => void> = [];
  private linger: NodeJS.Timeout | null = null;
  /** Set by idle(): nothing more is coming soon, so nothing lingers. */
  private flushing = false;
  /** When the last commit returned (performance.now()). */
  private lastCommitEnd = -Infinity;

  constructor(
    /** Commit one group; returns one outcome per item, in order. A throw fails the whole group. */
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly window: CommitWindow,
  ) {}

  add(item: T, bytes: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.kick();
    });
  }

  /** Resolves when fewer than a full window of items wait. */
  async room(): Promise<void> {
    while (this.queue.length >= this.window.files || this.queuedBytes >= this.window.bytes) {
      await new Promise<void>((r) => this.roomWaiters.push(r));
    }
  }

  /** Resolves once everything handed in has been committed (or failed); what waits is committed at once. */
  async idle(): Promise<void> {
    this.flushing = true;
    try {
      this.kick();
      while (this.running) await this.running;
    } finally {
      this.flushing = false;
    }
  }

  private kick(): void {
    if (this.running || this.queue.length === 0) return;
    const full = this.queue.length >= this.window.files || this.queuedBytes >= this.window.bytes;
    const linger = this.window.lingerMs ?? 0;
    // Only a stream lingers: an item after a quiet spell (no commit ended within the
    // linger) is committed at once, as a single file's commit always was.
    const streaming = performance.now() - this.lastCommitEnd < linger;
    if (!full && !this.flushing && streaming) {
      this.linger ??= setTimeout(() => {
        this.linger = null;
        this.start();
      }, linger);
      return;
    }
    this.start();
  }

  private start(): void {
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = null;
    }
    if (this.running || this.queue.length === 0) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.take();
      let outcomes: R[];
      try {
        outcomes = await this.commit(group.map((w) => w.item));
      } catch (e) {
        for (const w of group) w.reject(e);
        continue;
      } finally {
        this.lastCommitEnd = performance.now();
      }
      group.forEach((w, i) => w.resolve(outcomes[i]!));
    }
  }

  private take(): Array<Waiting<T, R>> {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.window.files && (n === 0 || bytes + this.queue[n]!.bytes <= this.window.bytes)) {
      bytes += this.queue[n]!.bytes;
      n++;
    }
    const group = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    for (const r of this.roomWaiters.splice(0)) r();
    return group;
  }
}
