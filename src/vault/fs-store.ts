import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, stat, unlink, link, rm, readFile } from 'node:fs/promises';
import {
  CustodyError,
  errorMessage,
  HashingPassThrough,
  isDiskFull,
  type Logger,
  ObjectCorruptError,
  pidAlive,
  processStart,
  sha256Hex,
  VaultError,
  VaultFullError,
} from '../core/index.js';
import { join, dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  assertSafeKey,
  assertSafePrefix,
  contentKey,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';
import { hashStream } from './read-back.js';

export interface FsStoreOptions {
  root: string;
  /** fsync file and folders before publishing (on by default; tests may turn it off). */
  fsync?: boolean;
  /** Re-read and re-hash every object after writing it. */
  readBack?: 'size' | 'full';
  /** Write buffer size in bytes. */
  highWaterMark?: number;
  /** Where init() says what it freed. */
  log?: Logger;
}

const TMP_DIR = '.tmp';
/** A temp file of the old, ownerless naming untouched this long belongs to a writer that died. */
const STALE_TMP_MS = 6 * 60 * 60 * 1000;

/*
 * Temp files are owned by `<pid>-<start>`: the writer's pid and its start time (see
 * processStart), so a pid reused by another process after a crash is not taken for the
 * writer. Where there is no /proc, the start time is 0 and only the pid is compared.
 */
let selfOwner: Promise<string> | null = null;
/** `<pid>-<start>`: the prefix of every temp file this process writes. */
function ownerTag(): Promise<string> {
  selfOwner ??= processStart(process.pid).then((start) => `${process.pid}-${start ?? '0'}`);
  return selfOwner;
}

/** Temp names: `<pid>-<start>.<uuid>.part`. */
const OWNED_TMP = /^(\d+)-(\d+)\.[0-9a-f-]+\.part$/;

/** Does a live process own this temp file? Unknown naming: decided by its age. */
async function tempOwnerAlive(name: string, mtimeMs: number, now: number): Promise<boolean> {
  const m = OWNED_TMP.exec(name);
  if (!m) return now - mtimeMs <= STALE_TMP_MS;
  const pid = Number(m[1]);
  if (pid === process.pid) return `${pid}-${m[2]}` === (await ownerTag());
  if (!pidAlive(pid)) return false;
  const start = await processStart(pid);
  // No /proc: a live pid is taken as the owner (a reused pid keeps a file until it exits).
  return start === null || m[2] === '0' || start === m[2];
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

  constructor(opts: FsStoreOptions) {
    this.root = opts.root;
    this.location = opts.root;
    this.fsync = opts.fsync ?? true;
    this.readBack = opts.readBack ?? 'size';
    this.hwm = opts.highWaterMark ?? 1024 * 1024;
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
      if (await tempOwnerAlive(name, st.mtimeMs, now)) continue;
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

  private async tempPath(): Promise<string> {
    return join(this.root, TMP_DIR, `${await ownerTag()}.${randomUUID()}.part`);
  }

  async putContent(body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const tmp = await this.tempPath();
    const hasher = new HashingPassThrough({ highWaterMark: this.hwm, onProgress: opts.onProgress });
    let published = false;
    try {
      // 'wx': a fresh temp file; flush: fsync before close, so the bytes are durable
      // before the object is published.
      const out = createWriteStream(tmp, { flags: 'wx', flush: this.fsync, highWaterMark: this.hwm });
      await pipeline(body, hasher, out, opts.signal ? { signal: opts.signal } : {});

      const sha256 = hasher.digest;
      const size = hasher.bytes;
      if (opts.expectedSize !== undefined && opts.expectedSize !== size) {
        throw new ObjectCorruptError(`stream gave ${size} bytes, expected ${opts.expectedSize}`, { expectedSize: opts.expectedSize, size });
      }
      if (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256) {
        throw new ObjectCorruptError(`stream hashed to ${sha256}, expected ${opts.expectedSha256}`, { expected: opts.expectedSha256, sha256 });
      }
      const key = contentKey(sha256);
      const created = await this.publish(tmp, key, size);
      published = true;
      if (created) {
        try {
          await this.checkStored(key, sha256, size);
        } catch (e) {
          // What this put stored is not what it was given: take it down again, so a
          // damaged copy never stands under the content's name (where every later put
          // of the same content would take it as already there).
          await rm(this.pathOf(key), { force: true });
          throw e;
        }
      }
      return { key, sha256, size, created };
    } catch (e) {
      throw this.writeError(e, tmp);
    } finally {
      if (!published) await rm(tmp, { force: true });
    }
  }

  /** Link tmp into place; returns false when the object already existed. Removes tmp. */
  private async publish(tmp: string, key: string, size: number): Promise<boolean> {
    const final = this.pathOf(key);
    const dir = dirname(final);
    await mkdir(dir, { recursive: true });
    let created = true;
    try {
      await link(tmp, final);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      created = false;
    }
    await unlink(tmp);
    if (created) {
      // The object's name is durable once its folder is synced. The temp name's removal
      // need not be: were a crash to bring it back, it is only a second name for the
      // same bytes in .tmp, which init() tidies.
      if (this.fsync) await this.syncDir(dir);
    } else {
      const st = await stat(final);
      if (st.size !== size) {
        throw new ObjectCorruptError(`stored object ${key} has ${st.size} bytes, its content has ${size}: the vault copy is damaged`, {
          key,
          storedSize: st.size,
          size,
        });
      }
    }
    return created;
  }

  private async checkStored(key: string, sha256: string, size: number): Promise<void> {
    const st = await stat(this.pathOf(key));
    if (st.size !== size) {
      throw new ObjectCorruptError(`stored ${key} has ${st.size} bytes, wrote ${size}`, { key, storedSize: st.size, size });
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
    const tmp = await this.tempPath();
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
      const st = await stat(join(abs, name)).catch(() => null);
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

