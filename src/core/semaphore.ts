/**
 * A FIFO counting semaphore. Waiters are served in arrival order, so sessions
 * that each keep one or two requests queued get slots round-robin (fair progress
 * per recorder under a bounded total).
 */
export class Semaphore {
  private free: number;
  private readonly waiters: Array<{ resolve: (release: () => void) => void; reject: (e: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('semaphore size must be a positive integer');
    this.free = size;
  }

  get available(): number {
    return this.free;
  }

  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const w: (typeof this.waiters)[number] = { resolve, reject };
      if (signal) {
        w.signal = signal;
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

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) {
        if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
        next.resolve(this.releaser());
      } else {
        this.free++;
      }
    };
  }
}
