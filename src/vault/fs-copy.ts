import { JobThread, workerSource, type ThreadError } from './job-thread.js';
import type { SourceStat } from './store.js';

/**
 * The copy half of staging a small local file in the fs vault, in a thread of its own:
 * the source opened (read-only, a symlink refused), read whole in one call into a reused
 * buffer, stat-ed again by its path, hashed, and written to a fresh temp file. Made
 * through Node's I/O thread pool, these are six hand-offs and as many wake-ups of the
 * event loop per file (open, read and close of the source, its stat, open and write of
 * the temp file), and the hash on the event loop as well; for a 64 KiB photo they cost
 * more than the copy.
 * Here the whole file is one message each way.
 *
 * One thread per reader (an ingest session): a read that never returns (a recorder's
 * hung file system) holds only that reader's thread, as it would hold one of the pool's.
 *
 * The worker's code is the function below, run from its source text (as the names
 * thread's); it imports nothing of the project.
 */

/** Largest file a copy thread takes: one read into a buffer of at most this much, plus one byte. */
export const COPY_THREAD_MAX_BYTES = 1024 * 1024;

export interface CopyJob {
  /** The source file's local path. */
  src: string;
  /** A fresh temp file to create ('wx') in the vault. */
  tmp: string;
  /** The size the source must have; a source of another size is not written. */
  expectedSize: number;
  /** Leave the temp file open and hand back its descriptor (to be synced later); else closed. */
  keepOpen: boolean;
  /**
   * Write the temp file with O_DIRECT (vault.fs.directWrites): the file padded to the
   * block from an aligned buffer, then cut to its size. Where the file system refuses
   * it, the file is written as without it, and the result says so.
   */
  direct: boolean;
}

export type CopyResult =
  /**
   * Copied: the temp file holds `size` bytes hashing to sha256; `fd` is its open
   * descriptor (keepOpen); `after` is the source as it was once read.
   */
  | { kind: 'copied'; sha256: string; size: number; fd: number | null; after: SourceStat; directRefused?: boolean }
  /** The source did not have the expected size (it read at least `size` bytes); nothing was written. */
  | { kind: 'size'; size: number }
  /** Opening or reading the source failed; nothing was written. */
  | { kind: 'source'; error: ThreadError }
  /** Writing the temp file failed; it was removed. */
  | { kind: 'vault'; error: ThreadError };

/* eslint-disable @typescript-eslint/no-require-imports -- the worker's source text runs as a CommonJS script */
function copyWorker(threadError: (e: unknown) => ThreadError): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  let ordinary = Buffer.allocUnsafeSlow(0);
  // For O_DIRECT: memory that starts on a page (Node's own buffers do not). The same
  // WebAssembly.Memory and 4 KiB block as aligned.ts's, restated: this thread imports nothing.
  let aligned = Buffer.allocUnsafeSlow(0);
  const Memory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory;
  const BLOCK = 4096;
  /** Write the file with O_DIRECT, padded to the block and cut back: its descriptor, or null (nothing left behind) where the file system refuses it. */
  const writeDirect = (tmp: string, buf: Buffer, size: number): number | null => {
    let out: number;
    try {
      out = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT, 0o666);
    } catch (e) {
      // Linux checks O_DIRECT after creating the file: a refusal leaves it behind.
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      fs.rmSync(tmp, { force: true });
      return null;
    }
    try {
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      buf.fill(0, size, padded);
      for (let off = 0; off < padded; ) off += fs.writeSync(out, buf, off, padded - off, off);
      if (padded !== size) fs.ftruncateSync(out, size);
      return out;
    } catch (e) {
      fs.closeSync(out);
      fs.rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      return null;
    }
  };
  const copy = (job: CopyJob): CopyResult => {
    // One byte more than expected is asked for, so a file that grew is seen as such.
    const want = job.expectedSize + 1;
    const room = Math.ceil(want / BLOCK) * BLOCK;
    if (job.direct && aligned.length < room) {
      const pages = Math.ceil(room / 65536);
      aligned = Buffer.from(new Memory({ initial: pages, maximum: pages }).buffer, 0, pages * 65536);
    }
    if (!job.direct && ordinary.length < want) ordinary = Buffer.allocUnsafeSlow(room);
    const buf = job.direct ? aligned : ordinary;
    let size = 0;
    let after: SourceStat;
    try {
      const src = fs.openSync(job.src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        // A read that brings the file to its expected size is its end (the file that
        // grows afterwards is the caller's to find, by its stat after the copy).
        while (size < want) {
          const n = fs.readSync(src, buf, size, want - size, size);
          if (n === 0) break;
          size += n;
          if (size === job.expectedSize) break;
        }
      } finally {
        fs.closeSync(src);
      }
      // By path, as the listing saw it: a file replaced meanwhile is seen as changed.
      const st = fs.lstatSync(job.src);
      after = { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() };
    } catch (e) {
      return { kind: 'source', error: threadError(e) };
    }
    if (size !== job.expectedSize) return { kind: 'size', size };
    const sha256 = createHash('sha256').update(buf.subarray(0, size)).digest('hex');
    let out: number | null = null;
    let directRefused = false;
    try {
      if (job.direct) {
        out = writeDirect(job.tmp, buf, size);
        directRefused = out === null;
      }
      if (out === null) {
        out = fs.openSync(job.tmp, 'wx');
        for (let off = 0; off < size; ) off += fs.writeSync(out, buf, off, size - off, off);
      }
      if (!job.keepOpen) {
        const fd = out;
        out = null;
        fs.closeSync(fd);
      }
      return { kind: 'copied', sha256, size, fd: out, after, ...(directRefused ? { directRefused } : {}) };
    } catch (e) {
      try {
        if (out !== null) fs.closeSync(out);
        fs.rmSync(job.tmp, { force: true });
      } catch {
        // left for the store's init to tidy
      }
      return { kind: 'vault', error: threadError(e) };
    }
  };
  parentPort!.on('message', (job: CopyJob & { id: number }) => {
    parentPort!.postMessage({ id: job.id, result: copy(job) });
  });
}
/* eslint-enable @typescript-eslint/no-require-imports */

const SOURCE = workerSource(copyWorker);

/** A copy thread: started at its first job, ended by close(). */
export function copyThread(): JobThread<CopyJob, CopyResult> {
  return new JobThread<CopyJob, CopyResult>(SOURCE, 'custody-vault-copy', "the vault's copy thread");
}
