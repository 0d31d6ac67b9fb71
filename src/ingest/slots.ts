/** The copy slots one dock session draws from. */
export interface SessionSlots {
  /** Wait for a slot; resolves with its release. Rejects with the signal's reason when aborted. */
  acquire(signal?: AbortSignal): Promise<() => void>;
}

interface Waiter {
  owner: Owner;
  resolve: (release: () => void) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal | undefined;
  onAbort?: () => void;
}

interface Owner {
  held: number;
}

/**
 * The ingest service's copy slots, shared fairly by the recorders docked at once.
 *
 * Every session may always hold one slot, whatever the others hold: a newly docked
 * recorder starts copying at once (its first byte does not wait behind the files of
 * recorders docked before it), and a rack of recorders on their own USB buses all copy
 * together. A session's second and later files start only while fewer than
 * `concurrency` copies run, so at most `concurrency - 1 + sessions` run at once. A freed slot goes to the waiting session
 * that holds the fewest, the longest waiting first among equals.
 */
export class IngestSlots {
  private held = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
  }

  /** The slots of one session. */
  forSession(): SessionSlots {
    const owner: Owner = { held: 0 };
    return { acquire: (signal) => this.acquire(owner, signal) };
  }

  private grantable(o: Owner): boolean {
    return o.held === 0 || this.held < this.concurrency;
  }

  private grant(o: Owner): () => void {
    o.held++;
    this.held++;
    return releaseOnce(() => {
      o.held--;
      this.held--;
      this.wake();
    });
  }

  private acquire(owner: Owner, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.grantable(owner) && !this.waiters.some((w) => w.owner.held <= owner.held && this.grantable(w.owner))) {
      return Promise.resolve(this.grant(owner));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { owner, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
    });
  }

  private wake(): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.waiters.length; i++) {
        const w = this.waiters[i]!;
        if (!this.grantable(w.owner)) continue;
        if (best < 0 || w.owner.held < this.waiters[best]!.owner.held) best = i;
      }
      if (best < 0) return;
      const [w] = this.waiters.splice(best, 1);
      if (w!.signal && w!.onAbort) w!.signal.removeEventListener('abort', w!.onAbort);
      w!.resolve(this.grant(w!.owner));
    }
  }
}

/** A release that does its work the first time it is called, and nothing after. */
export function releaseOnce(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}
