import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SHA256_HEX, VaultError } from '../core/index.js';

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutResult {
  key: string;
  sha256: string;
  size: number;
  /** false when the content was already in the vault (the put was a no-op). */
  created: boolean;
}

/**
 * A file the store reads itself, with its own reused buffers: no stream and no
 * allocation per chunk (the ingest copy path). The store reads from offset 0 to the end
 * and never closes the handle.
 */
export interface FileSource {
  readonly handle: FileHandle;
  /** Turns a read error into the caller's own (a recorder's SourceFileError, say). */
  readonly readError?: (e: unknown) => Error;
}

/** What a put stores: a stream, or an open file the store reads itself. */
export type PutBody = Readable | FileSource;

export function isFileSource(body: PutBody): body is FileSource {
  return !(body instanceof Readable) && typeof (body as FileSource).handle?.read === 'function';
}

/** A FileSource as a stream, for stores that take streams (S3). */
export function bodyStream(body: PutBody, highWaterMark = 1024 * 1024): Readable {
  if (!isFileSource(body)) return body;
  const s = body.handle.createReadStream({ start: 0, autoClose: false, highWaterMark });
  if (!body.readError) return s;
  const map = body.readError;
  const out = new Readable({ read: () => s.resume(), highWaterMark });
  s.on('data', (c) => {
    if (!out.push(c)) s.pause();
  });
  s.once('end', () => out.push(null));
  s.once('error', (e) => out.destroy(map(e)));
  out.once('close', () => s.destroy());
  return out;
}

/**
 * A put whose bytes are written and hashed but neither durable nor published yet
 * ({@link ObjectStore.stage}); its store's `publishStaged` makes a group of them
 * durable and published together, `discardStaged` drops one.
 */
export interface StagedPut {
  readonly sha256: string;
  readonly size: number;
}

/** A source file's lstat, taken by a copier after it read the file. */
export interface SourceStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
}

/** Stages small local files by path in a thread of its own ({@link ObjectStore.localCopier}). */
export interface LocalCopier {
  /** The largest file it takes; larger ones are staged from an open file. */
  readonly maxBytes: number;
  /**
   * As `stage`, for the file at a local path, opened read-only without following a
   * symlink; with the file's lstat after it was read (`after`), for the caller to check
   * it did not change meanwhile. Errors opening, reading or stat-ing it go through
   * `readError`, as a FileSource's.
   */
  stage(
    path: string,
    opts: PutOptions & { expectedSize: number; readError?: (e: unknown) => Error },
  ): Promise<{ staged: StagedPut; after: SourceStat }>;
  /**
   * End its thread. Resolves once the thread has ended, which a read that never returns
   * (a hung recorder) delays until it returns: callers need not wait.
   */
  close(): Promise<void>;
}

/** The outcome of one staged put in a published group. */
export type PublishOutcome = { ok: true; put: PutResult } | { ok: false; error: Error };

export interface PutOptions {
  /** When known, a mismatch fails the put and nothing is published. */
  expectedSha256?: string;
  expectedSize?: number;
  signal?: AbortSignal;
  /** Called as bytes are written (for progress). */
  onProgress?: (bytesSoFar: number) => void;
  /** Copy buffer size in bytes for a FileSource (the store's own when omitted). */
  bufferBytes?: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; to the end when omitted. */
  end?: number;
}

/**
 * The vault's object store. Two adapters: the local filesystem and S3.
 *
 * Invariants every adapter keeps (checked by the conformance suite):
 * - A reader never sees a partial object: an object is published whole or not at all.
 * - Objects are never overwritten; putting content that exists is a no-op.
 * - Content objects live at {@link contentKey}(sha256) and hold exactly those bytes.
 * - Memory stays bounded whatever the object's size: bodies are streamed.
 */
export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** A human-readable location for messages (a folder, or s3://bucket/prefix). */
  readonly location: string;

  /** Create the folder or check the bucket. Idempotent. */
  init(): Promise<void>;

  /**
   * Store a stream by its content: hash while writing, publish atomically at
   * contentKey(sha256), and check what was stored (size and hash, with a full
   * read-back when the store is configured for it) before resolving.
   */
  putContent(body: PutBody, opts?: PutOptions): Promise<PutResult>;

  /**
   * Group commit, for stores where durability costs a sync per object (fs): write and
   * hash now (checking expectedSize/expectedSha256 as putContent does), make durable
   * and publish later, many at once, with {@link ObjectStore.publishStaged}. Nothing
   * staged is visible or durable before it is published; a crash leaves only temp
   * files, which init() removes. Stores without it publish in putContent.
   */
  stage?(body: PutBody, opts?: PutOptions): Promise<StagedPut>;
  /** Make staged puts durable (data and names) and publish them; one outcome per put, in order. */
  publishStaged?(staged: StagedPut[]): Promise<PublishOutcome[]>;
  /** Drop a staged put that will not be published. */
  discardStaged?(staged: StagedPut): Promise<void>;
  /**
   * A copier of small local files for one reader (an ingest session), for stores that
   * stage: each file is read by its path and staged in the copier's own thread, one
   * message per file instead of a hand-off per call. Close it when the reader is done.
   */
  localCopier?(): LocalCopier;

  /**
   * Store a small immutable named object (ledger segments, checkpoints). Identical
   * content under an existing key is a no-op; different content fails with
   * VAULT_OBJECT_EXISTS and changes nothing.
   */
  putNamed(key: string, data: Buffer): Promise<PutResult>;

  /** Stream an object, or a byte range of it. Missing: VaultError VAULT_OBJECT_MISSING. */
  get(key: string, range?: ByteRange): Promise<Readable>;

  /** Size of an object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;

  /**
   * Bytes a writer may still use on the store's disk (fs), or null where the store
   * cannot tell (a bucket's quota is not asked for).
   */
  freeBytes?(): Promise<number | null>;

  /** Every object under a key prefix, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Remove an object (retention purge only). Missing is not an error. */
  delete(key: string): Promise<void>;

  /** Release clients and handles. */
  close(): Promise<void>;
}

export const CONTENT_PREFIX = 'objects/sha256/';

/** objects/sha256/<hex[0:2]>/<hex[2:4]>/<hex> */
export function contentKey(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new VaultError('VAULT_BAD_KEY', `not a lowercase hex SHA-256: ${sha256}`);
  return `${CONTENT_PREFIX}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** The sha256 of a content key, or null when the key is not one. */
export function shaOfContentKey(key: string): string | null {
  const m = /^objects\/sha256\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key);
  if (!m || !m[3]!.startsWith(m[1]! + m[2]!)) return null;
  return m[3]!;
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/**
 * Keys are relative, slash-separated, with no empty, "." or ".." parts, so no key
 * can name a path outside the store.
 */
export function assertSafeKey(key: string): void {
  if (key.length > 512 || !KEY_RE.test(key) || key.split('/').some((p) => p === '.' || p === '..')) {
    throw new VaultError('VAULT_BAD_KEY', `unsafe object key: ${JSON.stringify(key)}`);
  }
}

export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  assertSafeKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
