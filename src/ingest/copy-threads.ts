import { releaseOnce } from './slots.js';

/**
 * How many of the vault's copy threads (small files, see `src/vault/fs-copy.ts`) the
 * ingest service's sessions may hold at once. Each thread is about 10 MiB of memory,
 * and a session holds one from its first small file to its end: without a bound, a
 * rack of recorders docked at a shift change would add one per recorder (16 recorders:
 * 384 MiB peak against 224 without the threads). A session that finds none free
 * copies that file through Node's I/O thread pool, as it copies large files, and asks
 * again at its next small file.
 *
 * A thread counts until it has ended, not until its session let it go: one held in a
 * read that never returns (a hung recorder) still counts, so hung recorders cannot add
 * threads without bound either; the sessions after them copy through the pool.
 */
export class CopyThreads {
  private held = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  }

  /**
   * A thread's place, or null when all are held. The caller calls the release once the
   * thread it started has ended (or at once, if it started none); a second call does
   * nothing.
   */
  take(): (() => void) | null {
    if (this.held >= this.max) return null;
    this.held++;
    return releaseOnce(() => this.held--);
  }

  /** Places held now. */
  get inUse(): number {
    return this.held;
  }
}
