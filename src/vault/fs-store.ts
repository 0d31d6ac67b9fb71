import { close as closeFd, createReadStream, fsync as fsyncFd } from 'node:fs';
import { promisify } from 'node:util';
import { constants as fsConstants, mkdir, open, readdir, stat, statfs, unlink, link, rm, readFile, type FileHandle } from 'node:fs/promises';
import {
  CustodyError,
  errorMessage,
  HashingPassThrough,
  isDiskFull,
  type Logger,
  ObjectCorruptError,
  processTag,
  processTagAlive,
  sha256Hex,
  VaultError,
  VaultFullError,
} from '../core/index.js';
import { join, dirname } from 'node:path';
import { createHash, type Hash, randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { type Readable, Writable } from 'node:stream';
import {
  assertSafeKey,
  assertSafePrefix,
  contentKey,
  isFileSource,
  type ByteRange,
  type FileSource,
  type LocalCopier,
  type SourceStat,
  type ObjectInfo,
  type ObjectStore,
  type PublishOutcome,
  type PutBody,
  type PutOptions,
  type PutResult,
  type StagedPut,
} from './store.js';
import { hashStream } from './read-back.js';
import { publishNames, type NameOutcome } from './fs-names.js';
import { COPY_THREAD_MAX_BYTES, copyThread, type CopyJob, type CopyResult } from './fs-copy.js';
import { nodeError, type JobThread } from './job-thread.js';
import { AlignedPool, DIRECT_ALIGN } from './aligned.js';

export interface FsStoreOptions {
  root: string;
  /** fsync file and folders before publishing (on by default; tests may turn it off). */
  fsync?: boolean;
  /** Re-read and re-hash every object after writing it. */
  readBack?: 'size' | 'full';
  /** Write buffer size in bytes. */
  highWaterMark?: number;
  /**
   * Write footage with O_DIRECT, around the page cache (off by default): files staged
   * from an open file of at least {@link DIRECT_MIN_BYTES}, and the copy thread's small
   * files. Where the file system refuses it, they are written as before.
   */
  directWrites?: boolean;
  /** Where init() says what it freed. */
  log?: Logger;
}

const TMP_DIR = '.tmp';
/** Files smaller than this are written through the page cache even with directWrites. */
export const DIRECT_MIN_BYTES = 1024 * 1024;
/** A temp file of the old, ownerless naming untouched this long belongs to a writer that died. */
const STALE_TMP_MS = 6 * 60 * 60 * 1000;

/*
 * Temp files are owned by `<pid>-<start>`: the writer's pid and its start time (see
 * processStart), so a pid reused by another process after a crash is not taken for the
 * writer. Where there is no /proc, the start time is 0 and only the pid is compared.
 */
let selfOwner: string | null = null;
/** `<pid>-<start>` (processTag): the prefix of every temp file this process writes. */
function ownerTag(): string {
  selfOwner ??= processTag();
  return selfOwner;
}

/** A staged put of the fs store: its temp file, still open (to be synced) when fsync is on. */
interface FsStaged extends StagedPut {
  readonly tmp: string;
  readonly key: string;
  fh: FileHandle | null;
  /** The temp file's descriptor instead, when a copy thread wrote it. */
  fd: number | null;
  /** The vault root it was staged in. */
  readonly root: string;
}

const syncDescriptor = promisify(fsyncFd);
const closeDescriptor = promisify(closeFd);

/** Sync (when asked) and close a staged temp file, however it is held; it is closed even when the sync fails. */
async function closeStagedFile(s: FsStaged, sync: boolean): Promise<void> {
  const { fh, fd } = s;
  s.fh = null;
  s.fd = null;
  if (fh) {
    try {
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
  } else if (fd !== null) {
    try {
      if (sync) await syncDescriptor(fd);
    } finally {
      await closeDescriptor(fd);
    }
  }
}

function sizeMismatch(expectedSize: number, size: number): ObjectCorruptError {
  return new ObjectCorruptError(`stream gave ${size} bytes, expected ${expectedSize}`, { expectedSize, size });
}

/** A staged copy's size and hash against what the caller expected. */
function checkExpected(opts: PutOptions, sha256: string, size: number): void {
  if (opts.expectedSize !== undefined && opts.expectedSize !== size) throw sizeMismatch(opts.expectedSize, size);
  if (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256) {
    throw new ObjectCorruptError(`stream hashed to ${sha256}, expected ${opts.expectedSha256}`, { expected: opts.expectedSha256, sha256 });
  }
}

/** Write the first `length` bytes of buf at the file's position, however many calls it takes. */
async function writeAll(fh: FileHandle, buf: Buffer, length: number): Promise<void> {
  let off = 0;
  while (off < length) off += (await fh.write(buf, off, length - off, null)).bytesWritten;
}

/**
 * Hash a chunk and write it while the next read (already started) runs. That read may
 * fail (a card's EIO) while this chunk is still being written: it is marked handled
 * here, so its failure is not an unhandled rejection that ends the process, and is
 * thrown where the caller awaits it, as the put's error. A failed write waits for the
 * read to settle first.
 */
async function hashAndWriteBeside(next: Promise<number>, hash: Hash, chunk: Buffer, write: () => Promise<void>): Promise<void> {
  next.catch(() => undefined);
  try {
    hash.update(chunk);
    await write();
  } catch (e) {
    await next.catch(() => 0);
    throw e;
  }
}

async function writeAllAt(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let off = 0;
  while (off < length) off += (await fh.write(buf, off, length - off, position + off)).bytesWritten;
}

/** Temp names: `<pid>-<start>.<uuid>.part`. */
const OWNED_TMP = /^(\d+)-(\d+)\.[0-9a-f-]+\.part$/;

/**
 * Does a live process own this temp file (no /proc: a live pid is taken as the owner, so
 * a reused pid keeps a file until it exits)? Unknown naming: decided by its age.
 */
function tempOwnerAlive(name: string, mtimeMs: number, now: number): boolean {
  const m = OWNED_TMP.exec(name);
  if (!m) return now - mtimeMs <= STALE_TMP_MS;
  return processTagAlive(`${m[1]}-${m[2]}`);
}

/**
 * The local-disk object store. A put writes a temp file in the same filesystem,
 * fsyncs it, then hard-links it into place (link fails if the name exists, so an
 * object is never overwritten even by a concurrent put of the same content),
 * removes the temp name and fsyncs the folder.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly location: string;
  private readonly root: string;
  private readonly fsync: boolean;
  private readonly readBack: 'size' | 'full';
  private readonly hwm: number;
  private readonly log: Logger | undefined;
  private readonly directWrites: boolean;
  /** Aligned buffers for direct writes, by size. */
  private readonly alignedPools = new Map<number, AlignedPool>();
  /** Set once the file system has refused O_DIRECT (said once in the log). */
  private directRefused = false;

  constructor(opts: FsStoreOptions) {
    this.root = opts.root;
    this.location = opts.root;
    this.fsync = opts.fsync ?? true;
    this.readBack = opts.readBack ?? 'size';
    this.hwm = opts.highWaterMark ?? 1024 * 1024;
    this.directWrites = opts.directWrites ?? false;
    this.log = opts.log?.child({ module: 'vault' });
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return join(this.root, ...key.split('/'));
  }

  async init(): Promise<void> {
    try {
      await mkdir(join(this.root, TMP_DIR), { recursive: true });
      await mkdir(join(this.root, 'objects'), { recursive: true });
    } catch (e) {
      throw new VaultError('VAULT_UNAVAILABLE', `cannot create vault folder ${this.root}: ${errorMessage(e)}`, { cause: e });
    }
    await this.sweepTemps();
  }

  /**
   * Remove the temp files no running process owns: copies a crash (power loss, SIGKILL)
   * interrupted. They are never objects (an object is published by a link from a whole,
   * synced temp file), so removing them loses nothing; a live writer's files (the daemon
   * while `custody ingest` starts, say) are left alone. Returns what was freed.
   */
  async sweepTemps(): Promise<{ files: number; bytes: number }> {
    const dir = join(this.root, TMP_DIR);
    const now = Date.now();
    let files = 0;
    let bytes = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const p = join(dir, name);
      const st = await stat(p).catch(() => null);
      if (!st?.isFile()) continue;
      if (tempOwnerAlive(name, st.mtimeMs, now)) continue;
      try {
        await rm(p, { force: true });
        files++;
        bytes += st.size;
      } catch (e) {
        this.log?.warn({ err: e, file: p }, 'could not remove an interrupted copy from the vault temp folder');
      }
    }
    if (files > 0) this.log?.info({ files, bytes, dir }, 'removed interrupted copies left in the vault temp folder by a process that stopped');
    return { files, bytes };
  }

  private tempPath(): string {
    return join(this.root, TMP_DIR, `${ownerTag()}.${randomUUID()}.part`);
  }

  async putContent(body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    const staged = await this.stage(body, opts);
    const [outcome] = await this.publishStaged([staged]);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.put;
  }

  /**
   * Write the body to a fresh temp file while hashing it: one read of the source. The
   * temp file is neither synced nor published here; {@link publishStaged} does both for
   * a group, so a group of small files shares its syncs.
   */
  async stage(body: PutBody, opts: PutOptions = {}): Promise<StagedPut> {
    if (this.directWrites && !this.directRefused && isFileSource(body) && (opts.expectedSize ?? 0) >= DIRECT_MIN_BYTES) {
      const direct = await this.openDirect();
      if (direct) return this.stageDirect(body, direct.tmp, direct.fh, opts);
    }
    const tmp = this.tempPath();
    let fh: FileHandle | null = null;
    try {
      // 'wx': a fresh temp file, never someone else's.
      fh = await open(tmp, 'wx');
      const { sha256, size } = isFileSource(body) ? await this.copyFile(body, fh, opts) : await this.copyStream(body, fh, opts);
      checkExpected(opts, sha256, size);
      if (!this.fsync) {
        await fh.close();
        fh = null;
      }
      // With fsync on, the handle stays open until publishStaged syncs it.
      const staged: FsStaged = { sha256, size, tmp, key: contentKey(sha256), fh, fd: null, root: this.root };
      return staged;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw this.writeError(e, tmp);
    }
  }

  /** A fresh temp file opened with O_DIRECT, or null when the file system refuses it (EINVAL). */
  private async openDirect(): Promise<{ tmp: string; fh: FileHandle } | null> {
    const tmp = this.tempPath();
    try {
      return { tmp, fh: await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DIRECT, 0o666) };
    } catch (e) {
      // Linux checks O_DIRECT after creating the file: a refusal leaves it behind.
      await rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'EINVAL') {
        this.refuseDirect(tmp);
        return null;
      }
      throw this.writeError(e, tmp);
    }
  }

  /** The file system refused O_DIRECT: files are written through the page cache from now on (said once). */
  private refuseDirect(tmp: string): void {
    if (this.directRefused) return;
    this.directRefused = true;
    this.log?.warn({ dir: dirname(tmp) }, 'the vault file system refuses O_DIRECT: files are written through the page cache');
  }

  /**
   * As {@link stage} for a large open file, its temp file opened with O_DIRECT: whole
   * aligned buffers are written around the page cache; the tail (not a multiple of the
   * block), and anything after a write the file system refused, go through a second,
   * ordinary descriptor of the same file. The group commit's sync of the first
   * descriptor syncs the file whole (fsync is the file's, not the descriptor's).
   */
  private async stageDirect(src: FileSource, tmp: string, fh: FileHandle, opts: PutOptions): Promise<StagedPut> {
    let out: FileHandle | null = fh;
    let tail: FileHandle | null = null;
    try {
      const { sha256, size } = await this.copyFileDirect(src, fh, opts, async () => (tail ??= await open(tmp, 'r+')));
      checkExpected(opts, sha256, size);
      if (tail) {
        const t: FileHandle = tail;
        tail = null;
        await t.close();
      }
      if (!this.fsync) {
        await fh.close();
        out = null;
      }
      const staged: FsStaged = { sha256, size, tmp, key: contentKey(sha256), fh: out, fd: null, root: this.root };
      return staged;
    } catch (e) {
      await (tail as FileHandle | null)?.close().catch(() => undefined);
      await out?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw this.writeError(e, tmp);
    }
  }

  /**
   * copyFile for a direct temp file: the same single pass with two reused buffers, here
   * aligned ones from a pool, each filled whole before it is written (a short read in
   * the middle of a file would leave every later write unaligned).
   */
  private async copyFileDirect(src: FileSource, out: FileHandle, opts: PutOptions, tail: () => Promise<FileHandle>): Promise<{ sha256: string; size: number }> {
    const want = Math.max(64 * 1024, opts.bufferBytes ?? this.hwm);
    let pool = this.alignedPools.get(want);
    if (!pool) this.alignedPools.set(want, (pool = new AlignedPool(want)));
    const n = pool.size;
    const readErr = src.readError ?? ((e: unknown) => e as Error);
    const fill = async (buf: Buffer, position: number): Promise<number> => {
      let got = 0;
      while (got < n && position + got !== opts.expectedSize) {
        let r: number;
        try {
          r = (await src.handle.read(buf, got, n - got, position + got)).bytesRead;
        } catch (e) {
          throw readErr(e);
        }
        if (r === 0) break;
        got += r;
      }
      return got;
    };
    let buffered: FileHandle | null = null;
    const write = async (buf: Buffer, length: number, position: number): Promise<void> => {
      if (!buffered && length % DIRECT_ALIGN === 0) {
        try {
          await writeAllAt(out, buf, length, position);
          return;
        } catch (e) {
          // Taken at the open but not for this write (or a short write left the rest
          // unaligned): the rest goes through the page cache.
          if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        }
      }
      buffered ??= await tail();
      await writeAllAt(buffered, buf, length, position);
    };
    let a = pool.take();
    let b: Buffer | null = null;
    const hash = createHash('sha256');
    let size = 0;
    try {
      let got = await fill(a, 0);
      while (got > 0) {
        opts.signal?.throwIfAborted();
        // A buffer not filled whole is the end of the file (or its expected size).
        const atEnd = got < n || size + got === opts.expectedSize;
        if (!atEnd) b ??= pool.take();
        const next = atEnd ? Promise.resolve(0) : fill(b!, size + got);
        await hashAndWriteBeside(next, hash, a.subarray(0, got), () => write(a, got, size));
        size += got;
        opts.onProgress?.(size);
        got = await next;
        if (!atEnd) [a, b] = [b!, a];
      }
      return { sha256: hash.digest('hex'), size };
    } finally {
      pool.give(a);
      if (b) pool.give(b);
    }
  }

  async discardStaged(staged: StagedPut): Promise<void> {
    const s = this.own(staged);
    await closeStagedFile(s, false).catch(() => undefined);
    await rm(s.tmp, { force: true });
  }

  localCopier(): LocalCopier {
    const thread = copyThread();
    return {
      maxBytes: COPY_THREAD_MAX_BYTES,
      stage: (path, opts) => this.stageCopied(thread, path, opts),
      close: () => thread.close(),
    };
  }

  /** As {@link stage}, the file at `path` copied and hashed by a copy thread. */
  private async stageCopied(
    thread: JobThread<CopyJob, CopyResult>,
    path: string,
    opts: PutOptions & { expectedSize: number; readError?: (e: unknown) => Error },
  ): Promise<{ staged: StagedPut; after: SourceStat }> {
    if (opts.expectedSize > COPY_THREAD_MAX_BYTES) throw new RangeError(`a copy thread takes files of at most ${COPY_THREAD_MAX_BYTES} bytes`);
    const tmp = this.tempPath();
    let r: CopyResult;
    try {
      r = await thread.run({ src: path, tmp, expectedSize: opts.expectedSize, keepOpen: this.fsync, direct: this.directWrites && !this.directRefused });
    } catch (e) {
      // The thread stopped: whatever it had written is removed.
      await rm(tmp, { force: true });
      throw this.writeError(e, tmp);
    }
    if (r.kind === 'source') {
      const e = nodeError(r.error);
      throw opts.readError ? opts.readError(e) : e;
    }
    if (r.kind === 'vault') throw this.writeError(nodeError(r.error), tmp);
    if (r.kind === 'size') throw sizeMismatch(opts.expectedSize, r.size);
    if (r.directRefused) this.refuseDirect(tmp);
    const staged: FsStaged = { sha256: r.sha256, size: r.size, tmp, key: contentKey(r.sha256), fh: null, fd: r.fd, root: this.root };
    try {
      opts.signal?.throwIfAborted();
      checkExpected(opts, r.sha256, r.size);
    } catch (e) {
      await this.discardStaged(staged);
      throw e;
    }
    opts.onProgress?.(r.size);
    return { staged, after: r.after };
  }

  /**
   * Make a group of staged puts durable and publish them: every temp file synced (in
   * parallel, so the filesystem commits them together), linked into place, then each
   * folder that gained a name (and the parent of any folder created) synced once for
   * the group. An object's name is durable only after that last step; only then does
   * an outcome say ok.
   */
  async publishStaged(staged: StagedPut[]): Promise<PublishOutcome[]> {
    const items = staged.map((s) => this.own(s));
    const errors = new Map<FsStaged, Error>();
    const fail = (s: FsStaged, e: unknown): void => {
      if (!errors.has(s)) errors.set(s, this.writeError(e, s.tmp));
    };
    // 1. The bytes: fsync (flush) and close every temp file.
    await Promise.all(items.map((s) => closeStagedFile(s, this.fsync).catch((e: unknown) => fail(s, e))));
    // 2. The names, in the names thread for the whole group: each linked into place (one
    // at a time, so two puts of one content in a group see each other's link), every
    // folder that gained a name (and the parent of any folder created) synced once, the
    // new names stat-ed, the temp names removed.
    const linkable = items.filter((s) => !errors.has(s));
    let outcomes: NameOutcome[] = [];
    if (linkable.length > 0) {
      try {
        outcomes = await publishNames({ fsync: this.fsync, items: linkable.map((s) => ({ tmp: s.tmp, final: this.pathOf(s.key) })) });
      } catch (e) {
        for (const s of linkable) fail(s, e);
      }
    }
    const outcomeOf = new Map(outcomes.map((o, k) => [linkable[k]!, o]));
    // 3. What was stored is what was given.
    const out: PublishOutcome[] = [];
    for (const s of items) {
      try {
        const err = errors.get(s);
        if (err) throw err;
        const o = outcomeOf.get(s)!;
        if (o.kind === 'failed' || o.kind === 'unsynced') throw nodeError(o.error);
        if (o.kind === 'exists' && o.storedSize !== s.size) {
          throw new ObjectCorruptError(`stored object ${s.key} has ${o.storedSize} bytes, its content has ${s.size}: the vault copy is damaged`, {
            key: s.key,
            storedSize: o.storedSize,
            size: s.size,
          });
        }
        const isNew = o.kind === 'created';
        if (isNew) {
          try {
            await this.checkStored(s.key, s.sha256, s.size, o.storedSize);
          } catch (e) {
            // What this put stored is not what it was given: take it down again, so a
            // damaged copy never stands under the content's name (where every later put
            // of the same content would take it as already there).
            await rm(this.pathOf(s.key), { force: true });
            throw e;
          }
        }
        out.push({ ok: true, put: { key: s.key, sha256: s.sha256, size: s.size, created: isNew } });
      } catch (e) {
        out.push({ ok: false, error: this.writeError(e, s.tmp) });
      } finally {
        // The names thread removed the temp names it was given; a failed copy's is removed here.
        if (!outcomeOf.has(s)) await unlink(s.tmp).catch(() => undefined);
      }
    }
    return out;
  }

  private own(staged: StagedPut): FsStaged {
    const s = staged as FsStaged;
    if (s.root !== this.root || typeof s.tmp !== 'string') throw new VaultError('VAULT_WRITE_FAILED', 'a staged put of another store');
    return s;
  }

  /**
   * One pass over a file with two reused buffers: the next chunk is read while this one
   * is hashed and written, so the source is read once, each byte is copied into user
   * space once, and nothing is allocated per chunk.
   */
  private async copyFile(src: FileSource, out: FileHandle, opts: PutOptions): Promise<{ sha256: string; size: number }> {
    const full = Math.max(64 * 1024, opts.bufferBytes ?? this.hwm);
    // A file smaller than the buffer gets a buffer just larger than itself (its one read
    // comes back short, which ends it), and the second buffer only when a second read
    // is needed: 2,000 photos do not each allocate (and leave the collector) 2 MiB.
    const n = opts.expectedSize !== undefined && opts.expectedSize < full ? Math.ceil((opts.expectedSize + 1) / 4096) * 4096 : full;
    let a = Buffer.allocUnsafeSlow(n);
    let spare: Buffer<ArrayBuffer> | null = null;
    const hash = createHash('sha256');
    const readErr = src.readError ?? ((e: unknown) => e as Error);
    const read = (buf: Buffer, position: number): Promise<number> =>
      src.handle.read(buf, 0, n, position).then(
        (r) => r.bytesRead,
        (e: unknown) => {
          throw readErr(e);
        },
      );
    let size = 0;
    let got = await read(a, 0);
    while (got > 0) {
      opts.signal?.throwIfAborted();
      size += got;
      // A short read that brings the file to its expected size is its end: a small file
      // is copied with one read, not two. (A file that grew meanwhile is the caller's to
      // find, by its stat after the copy, as for growth after the last read.)
      const atEnd = got < n && size === opts.expectedSize;
      const b = atEnd ? null : (spare ??= Buffer.allocUnsafeSlow(n));
      const next = b ? read(b, size) : Promise.resolve(0);
      await hashAndWriteBeside(next, hash, a.subarray(0, got), () => writeAll(out, a, got));
      opts.onProgress?.(size);
      got = await next;
      if (b) {
        spare = a;
        a = b;
      }
    }
    return { sha256: hash.digest('hex'), size };
  }

  private async copyStream(body: Readable, out: FileHandle, opts: PutOptions): Promise<{ sha256: string; size: number }> {
    const hasher = new HashingPassThrough({ highWaterMark: this.hwm, onProgress: opts.onProgress });
    // Writes to the open temp file, which stays open for publishStaged to sync.
    const ws = new Writable({
      highWaterMark: this.hwm,
      write: (chunk: Buffer, _enc, cb) => {
        writeAll(out, chunk, chunk.length).then(() => cb(), cb);
      },
    });
    await pipeline(body, hasher, ws, opts.signal ? { signal: opts.signal } : {});
    return { sha256: hasher.digest, size: hasher.bytes };
  }

  /** Link a synced temp file into place; false when the object already existed. Adds the folders to sync. */
  private async link(s: FsStaged, dirs: Set<string>): Promise<boolean> {
    const final = this.pathOf(s.key);
    const dir = dirname(final);
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      // New folders are names in their parents: each is synced, from the parent of the first one down.
      for (let d = dir; d.length >= first.length; d = dirname(d)) dirs.add(d);
      dirs.add(dirname(first));
    }
    try {
      await link(s.tmp, final);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await stat(final);
      if (st.size !== s.size) {
        throw new ObjectCorruptError(`stored object ${s.key} has ${st.size} bytes, its content has ${s.size}: the vault copy is damaged`, {
          key: s.key,
          storedSize: st.size,
          size: s.size,
        });
      }
      return false;
    }
    // The temp name's removal need not be durable: were a crash to bring it back, it is
    // only a second name for the same bytes in .tmp, which init() tidies.
    dirs.add(dir);
    return true;
  }

  /** Link tmp into place and sync its folder (putNamed); returns false when the object already existed. Removes tmp. */
  private async publish(tmp: string, key: string, size: number): Promise<boolean> {
    const dirs = new Set<string>();
    const created = await this.link({ tmp, key, size, sha256: '', fh: null, fd: null, root: this.root }, dirs);
    await unlink(tmp);
    if (this.fsync) for (const d of dirs) await this.syncDir(d);
    return created;
  }

  /** The size check (and, with readBack full, the hash) of a new object; storedSize when it was just stat-ed. */
  private async checkStored(key: string, sha256: string, size: number, storedSize?: number): Promise<void> {
    const stored = storedSize ?? (await stat(this.pathOf(key))).size;
    if (stored !== size) {
      throw new ObjectCorruptError(`stored ${key} has ${stored} bytes, wrote ${size}`, { key, storedSize: stored, size });
    }
    if (this.readBack === 'full') {
      const got = await hashStream(await this.get(key));
      if (got.sha256 !== sha256) throw new ObjectCorruptError(`read-back of ${key} hashed to ${got.sha256}`, { key, sha256: got.sha256 });
    }
  }

  private async syncDir(dir: string): Promise<void> {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private writeError(e: unknown, where: string): Error {
    // Errors already typed (the vault's own, or the source's) pass through unchanged.
    if (e instanceof CustodyError) return e;
    if (isDiskFull(e)) return new VaultFullError(`vault disk is full (${this.root}): ${errorMessage(e)}`, { cause: e });
    if ((e as Error).name === 'AbortError') return e as Error;
    return new VaultError('VAULT_WRITE_FAILED', `cannot write to the vault at ${where}: ${errorMessage(e)}`, { cause: e });
  }

  async putNamed(key: string, data: Buffer): Promise<PutResult> {
    const final = this.pathOf(key);
    const sha256 = sha256Hex(data);
    const existing = await readFile(final).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (existing) {
      if (sha256Hex(existing) === sha256) return { key, sha256, size: data.length, created: false };
      throw new VaultError('VAULT_OBJECT_EXISTS', `object ${key} already exists with other content`, { details: { key } });
    }
    const tmp = this.tempPath();
    let created = false;
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      created = await this.publish(tmp, key, data.length);
    } catch (e) {
      await rm(tmp, { force: true });
      throw this.writeError(e, tmp);
    }
    if (!created) {
      // Lost a race with an identical or different writer: check which.
      const now = await readFile(final);
      if (sha256Hex(now) !== sha256) throw new VaultError('VAULT_OBJECT_EXISTS', `object ${key} already exists with other content`);
    }
    return { key, sha256, size: data.length, created };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const p = this.pathOf(key);
    const fh = await open(p, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new VaultError('VAULT_OBJECT_MISSING', `object not in the vault: ${key}`, { details: { key } });
      throw new VaultError('VAULT_READ_FAILED', `cannot read ${key}: ${e.message}`, { cause: e });
    });
    return createReadStream('', {
      fd: fh,
      highWaterMark: this.hwm,
      ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {}),
    });
  }

  async freeBytes(): Promise<number | null> {
    const s = await statfs(this.root);
    return s.bavail * s.bsize;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.pathOf(key));
      return st.isFile() ? { key, size: st.size } : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertSafePrefix(prefix);
    // Walk only the folder the prefix points into, then filter by the prefix.
    const cut = prefix.lastIndexOf('/');
    const base = cut >= 0 ? prefix.slice(0, cut) : '';
    yield* this.walk(base, prefix);
  }

  private async *walk(relDir: string, prefix: string): AsyncIterable<ObjectInfo> {
    const abs = relDir ? join(this.root, ...relDir.split('/')) : this.root;
    let names: string[];
    try {
      // Key order is byte order of the whole key, so a folder "a" sorts as "a/": after
      // "a-b" and "a.b", before "a0". A plain name sort would list "a/c" before "a-b".
      names = (await readdir(abs, { withFileTypes: true }))
        .map((d) => ({ name: d.name, sortKey: d.isDirectory() ? `${d.name}/` : d.name }))
        .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))
        .map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw e;
    }
    for (const name of names) {
      if (!relDir && name === TMP_DIR) continue;
      const rel = relDir ? `${relDir}/${name}` : name;
      if (!(rel.startsWith(prefix) || prefix.startsWith(rel + '/'))) continue;
      const st = await stat(join(abs, name)).catch((e: unknown) => {
        // Gone since its folder was read (a purge, a temp file renamed): not listed. Any
        // other failure (a disk error, a link that loops) fails the listing: an object
        // the listing cannot see is never a silent gap in what it reports.
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw e;
      });
      if (!st) continue;
      if (st.isDirectory()) yield* this.walk(rel, prefix);
      else if (st.isFile() && rel.startsWith(prefix)) yield { key: rel, size: st.size };
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
    if (this.fsync) await this.syncDir(dirname(this.pathOf(key))).catch(() => undefined);
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /** Absolute path of an object, for tests and tools that need the file itself. */
  filePath(key: string): string {
    return this.pathOf(key);
  }
}

