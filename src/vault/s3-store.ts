import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BuildMiddleware, FinalizeRequestMiddleware, InitializeMiddleware } from '@smithy/types';
import { errorMessage, HashingPassThrough, isCustodyError, type Logger, ObjectCorruptError, sha256Hex, silentLogger, VaultError, VaultFullError } from '../core/index.js';
import { hashStream } from './read-back.js';
import { EtagPassThrough, normaliseEtag } from './s3-etag.js';
import { S3_PROFILES, objectLockUse, type S3Profile, type S3ProfileName } from './s3-profiles.js';
import {
  assertSafeKey,
  assertSafePrefix,
  bodyStream,
  contentKey,
  type ByteRange,
  type PutBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';

/** One HTTP request as sent (after retries are decided, one record per attempt). */
export interface S3RequestRecord {
  /** SDK command, e.g. "PutObjectCommand". */
  command: string;
  method: string;
  path: string;
  /** Query parameter names, e.g. ["uploadId", "partNumber"]. */
  query: string[];
  /** Lower-case header names and values; the Authorization header is left out. */
  headers: Record<string, string>;
}

export interface S3StoreOptions {
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Prepended to every key: "" or "some/folder/". */
  prefix?: string;
  forcePathStyle?: boolean;
  profile?: S3ProfileName;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Read by the config loader into secretAccessKey; ignored here. */
  secretAccessKeyFile?: string | undefined;
  partSizeMb?: number;
  queueSize?: number;
  maxAttempts?: number;
  readBack?: 'size' | 'full';
  log?: Logger;
  /** Temp objects older than this are a crashed writer's and are removed by init(). */
  staleTempMs?: number;
  /** Called for every HTTP request sent (tests use it to see what reaches the store). */
  onRequest?: (req: S3RequestRecord) => void;
  /**
   * S3 Object Lock (issue 7, docs/retention.md): retain-until dates and legal holds on
   * content objects, and deletes of every version. Refused on a profile without it.
   */
  objectLock?: 'off' | 'governance' | 'compliance';
}

const MiB = 1024 * 1024;
/** Uploads in progress live here, under the configured prefix; list() never shows them. */
const TMP_DIR = 'tmp/';
const STALE_TMP_MS = 6 * 60 * 60 * 1000;
/** UploadPartCopy part sizes: at least this, and at most S3's 5 GiB. */
const MIN_COPY_PART = 512 * MiB;
const MAX_COPY_PART = 5 * 1024 * MiB;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'InternalError', 'TimeoutError', 'RequestTimeoutException']);
const DENIED_CODES = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled', 'CredentialsProviderError']);
const FULL_CODES = new Set(['QuotaExceeded', 'XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded', 'InsufficientStorage']);

type SdkError = Error & { Code?: string; code?: string; $metadata?: { httpStatusCode?: number; attempts?: number }; $retryable?: unknown };

function statusOf(e: unknown): number | undefined {
  return (e as SdkError | undefined)?.$metadata?.httpStatusCode;
}
function codeOf(e: unknown): string {
  const err = e as SdkError | undefined;
  return err?.Code ?? err?.name ?? err?.code ?? 'Error';
}
function isMissing(e: unknown): boolean {
  const code = codeOf(e);
  return code === 'NoSuchKey' || (statusOf(e) === 404 && code !== 'NoSuchBucket' && code !== 'NoSuchUpload');
}
function isPreconditionFailed(e: unknown): boolean {
  return statusOf(e) === 412 || codeOf(e) === 'PreconditionFailed';
}
function isConditionalConflict(e: unknown): boolean {
  return statusOf(e) === 409 && codeOf(e) === 'ConditionalRequestConflict';
}

/** An endpoint without any user:password part, fit for messages. */
function displayEndpoint(endpoint: string | undefined, region: string): string {
  if (!endpoint) return `https://s3.${region}.amazonaws.com`;
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable endpoint)';
  }
}

/**
 * The S3-protocol object store (AWS S3, Swift's s3api, MinIO; s3rver in tests).
 *
 * Atomic publish: a put streams into a temporary object `<prefix>tmp/<uuid>` (single
 * PutObject or a multipart upload, which S3 makes visible only when completed), checks
 * its size and ETag against what was hashed on the way, then server-side copies it to
 * its content key and deletes the temporary. A reader of the content key therefore sees
 * nothing or the whole verified object. Existing content keys are never replaced: the
 * copy is skipped when the key exists, and made conditional (If-None-Match) where the
 * store supports it.
 *
 * This is the only module that imports @aws-sdk/*; it returns domain types only.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly profile: S3Profile;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly endpointLabel: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly readBack: 'size' | 'full';
  private readonly log: Logger;
  private readonly staleTempMs: number;
  /** Per-key queues of publishes in this process (see oneAtATime). */
  private readonly keyLocks = new Map<string, Promise<void>>();
  /** Object Lock mode, or null when off. */
  readonly objectLock: 'GOVERNANCE' | 'COMPLIANCE' | null;

  constructor(opts: S3StoreOptions) {
    const prefix = opts.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) throw new VaultError('VAULT_BAD_KEY', `S3 key prefix must end with "/": ${JSON.stringify(prefix)}`);
    assertSafePrefix(prefix);
    this.profile = S3_PROFILES[opts.profile ?? 'aws'];
    this.bucket = opts.bucket;
    this.prefix = prefix;
    this.location = `s3://${opts.bucket}/${prefix}`;
    this.endpointLabel = displayEndpoint(opts.endpoint, opts.region);
    this.partSize = (opts.partSizeMb ?? 16) * MiB;
    this.queueSize = opts.queueSize ?? 2;
    this.readBack = opts.readBack ?? 'size';
    this.log = (opts.log ?? silentLogger).child({ module: 'vault.s3', bucket: opts.bucket });
    this.staleTempMs = opts.staleTempMs ?? STALE_TMP_MS;
    if (this.partSize < 5 * MiB) throw new VaultError('VAULT_MISCONFIGURED', `S3 part size must be at least 5 MiB, got ${opts.partSizeMb} MiB`);
    const lock = opts.objectLock ?? 'off';
    if (lock !== 'off' && !this.profile.objectLock) {
      throw new VaultError('VAULT_MISCONFIGURED', `vault.s3.objectLock is ${lock}, but the ${this.profile.name} profile has no Object Lock`);
    }
    this.objectLock = lock === 'off' ? null : lock === 'governance' ? 'GOVERNANCE' : 'COMPLIANCE';

    const credentials =
      opts.accessKeyId !== undefined && opts.secretAccessKey !== undefined
        ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
        : undefined; // the SDK's default chain: environment, shared files, instance role
    // The SDK warns on every start under Node 20 that its releases after January 2027
    // need Node 22; custody pins the SDK version exactly, so the warning would only
    // clutter every command's stderr. Operators are told once in the docs instead.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: this.profile.pathStyle === 'required' ? true : (opts.forcePathStyle ?? false),
      credentials,
      maxAttempts: opts.maxAttempts ?? 5,
      retryMode: 'standard',
      requestChecksumCalculation: this.profile.checksums,
      responseChecksumValidation: this.profile.checksums,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
    });
    this.installMiddleware(opts.onRequest);
  }

  private installMiddleware(onRequest: ((req: S3RequestRecord) => void) | undefined): void {
    const profile = this.profile;
    // Object Lock requests are refused before they are built: on Swift a retention or
    // legal-hold request replaces the object's bytes.
    const objectLockGuard: InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
      const use = profile.objectLock ? null : objectLockUse(context.commandName, args.input);
      if (use) throw new VaultError('VAULT_UNSUPPORTED', `the ${profile.name} profile has no Object Lock; refusing to send ${use}`);
      return next(args);
    };
    this.client.middlewareStack.add(objectLockGuard, { step: 'initialize', name: 'custodyObjectLockGuard', priority: 'high' });

    if (profile.deleteObjectsContentMd5) {
      const contentMd5: BuildMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
        if (context.commandName === 'DeleteObjectsCommand') {
          const req = args.request as { headers?: Record<string, string>; body?: unknown };
          if (req.headers && (typeof req.body === 'string' || req.body instanceof Uint8Array)) {
            req.headers['content-md5'] = createHash('md5').update(req.body).digest('base64');
          }
        }
        return next(args);
      };
      this.client.middlewareStack.add(contentMd5, { step: 'build', name: 'custodyDeleteObjectsContentMd5' });
    }

    if (onRequest) {
      const observe: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
        const req = args.request as { method?: string; path?: string; query?: Record<string, unknown>; headers?: Record<string, string> };
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() !== 'authorization') headers[k.toLowerCase()] = v;
        onRequest({
          command: context.commandName ?? 'unknown',
          method: req.method ?? '',
          path: req.path ?? '',
          query: Object.keys(req.query ?? {}),
          headers,
        });
        return next(args);
      };
      this.client.middlewareStack.add(observe, { step: 'finalizeRequest', name: 'custodyRequestObserver', priority: 'low' });
    }
  }

  // ---- keys ---------------------------------------------------------------------

  /** The bucket key of a vault key; rejects unsafe keys and the reserved temp area. */
  private full(key: string): string {
    assertSafeKey(key);
    if (key.startsWith(TMP_DIR)) {
      throw new VaultError('VAULT_BAD_KEY', `object keys under "${TMP_DIR}" are reserved for uploads in progress: ${JSON.stringify(key)}`);
    }
    return this.prefix + key;
  }

  private copySource(fullKey: string): string {
    return `${this.bucket}/${fullKey.split('/').map(encodeURIComponent).join('/')}`;
  }

  // ---- errors -------------------------------------------------------------------

  /**
   * A typed error for a failed S3 call. Messages name the bucket and endpoint and the
   * store's error code, never credentials.
   */
  private mapError(e: unknown, op: 'read' | 'write', what: string, key?: string): Error {
    if (isCustodyError(e)) return e;
    if ((e as Error | undefined)?.name === 'AbortError') return e as Error;
    const status = statusOf(e);
    const code = codeOf(e);
    const where = `bucket "${this.bucket}" at ${this.endpointLabel}`;
    const details = { bucket: this.bucket, endpoint: this.endpointLabel, code, status, ...(key !== undefined ? { key } : {}) };
    const attempts = (e as SdkError | undefined)?.$metadata?.attempts;
    if (code === 'NoSuchBucket') {
      return new VaultError('VAULT_BUCKET_MISSING', `${what}: ${where} does not exist`, { cause: e, details });
    }
    if (isMissing(e)) {
      return new VaultError('VAULT_OBJECT_MISSING', `object not in the vault: ${key ?? what}`, { cause: e, details });
    }
    if (status === 401 || status === 403 || DENIED_CODES.has(code)) {
      return new VaultError('VAULT_ACCESS_DENIED', `${what}: access to ${where} was refused (${code}); check the access key, secret and bucket policy`, {
        cause: e,
        details,
      });
    }
    if (status === 301 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
      return new VaultError('VAULT_MISCONFIGURED', `${what}: ${where} answered ${code}; check vault.s3.region and endpoint`, { cause: e, details });
    }
    if (status === 507 || FULL_CODES.has(code)) {
      return new VaultFullError(`${what}: ${where} has no room (${code})`, { cause: e });
    }
    const network = status === undefined && (NETWORK_CODES.has((e as SdkError).code ?? '') || NETWORK_CODES.has(code) || code === 'TimeoutError');
    if (network || status === 429 || (status !== undefined && status >= 500) || THROTTLE_CODES.has(code) || (e as SdkError)?.$retryable) {
      return new VaultError('VAULT_UNAVAILABLE', `${what}: ${where} is unavailable (${code}${attempts ? ` after ${attempts} attempts` : ''}): ${errorMessage(e)}`, {
        cause: e,
        details,
      });
    }
    return new VaultError(op === 'read' ? 'VAULT_READ_FAILED' : 'VAULT_WRITE_FAILED', `${what}: ${where} refused the request (${code}): ${errorMessage(e)}`, {
      cause: e,
      details,
    });
  }

  // ---- lifecycle ----------------------------------------------------------------

  /**
   * Check that the bucket exists and the credentials work. Never creates the bucket:
   * where it lives, its encryption, versioning and Object Lock are decisions for whoever
   * runs the store, not defaults to guess. Then removes temp objects a crashed writer left.
   */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const status = statusOf(e);
      if (status === 404 || codeOf(e) === 'NoSuchBucket' || codeOf(e) === 'NotFound') {
        throw new VaultError(
          'VAULT_BUCKET_MISSING',
          `vault bucket "${this.bucket}" does not exist at ${this.endpointLabel}; create it first (custody never creates buckets)`,
          { cause: e, details: { bucket: this.bucket, endpoint: this.endpointLabel } },
        );
      }
      throw this.mapError(e, 'read', 'checking the vault bucket');
    }
    await this.sweepStaleTemps();
  }

  private async sweepStaleTemps(): Promise<void> {
    const cutoff = Date.now() - this.staleTempMs;
    let batch: string[] = [];
    let removed = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      for (const err of out.Errors ?? []) this.log.warn({ key: err.Key, code: err.Code }, 'could not remove a stale temp object');
      removed += batch.length - (out.Errors?.length ?? 0);
      batch = [];
    };
    try {
      for await (const obj of this.listRaw(this.prefix + TMP_DIR)) {
        if (obj.lastModified !== undefined && obj.lastModified.getTime() <= cutoff) batch.push(obj.fullKey);
        if (batch.length === 1000) await flush();
      }
      await flush();
    } catch (e) {
      throw this.mapError(e, 'write', 'removing stale temp objects');
    }
    if (removed > 0) this.log.info({ removed }, 'removed temp objects left by interrupted uploads');
    await this.abortStaleUploads(cutoff);
  }

  /**
   * Abort the multipart uploads to temp keys that a crashed writer left incomplete:
   * their parts are stored (and billed) but never become an object. Only uploads
   * started before the cutoff: a live writer's upload is younger. Where the store cannot
   * abort (s3rver), the bucket's lifecycle rule is the only remedy (docs/object-stores.md).
   */
  private async abortStaleUploads(cutoff: number): Promise<void> {
    if (!this.profile.abortMultipartUpload) return;
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + TMP_DIR, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || u.Initiated === undefined || u.Initiated.getTime() > cutoff) continue;
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
          aborted++;
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (e) {
      // Not fatal: the vault works without the sweep (a store that cannot list uploads
      // answers NotImplemented), and the bucket's lifecycle rule is the second line.
      const err = this.mapError(e, 'write', 'aborting interrupted multipart uploads');
      this.log.warn({ err, aborted }, 'could not abort the multipart uploads interrupted writers left; give the bucket an AbortIncompleteMultipartUpload lifecycle rule');
      return;
    }
    if (aborted > 0) this.log.info({ aborted }, 'aborted multipart uploads left incomplete by interrupted uploads');
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  // ---- content puts -------------------------------------------------------------

  async putContent(input: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    const body = bodyStream(input, MiB);
    const tmpKey = `${this.prefix}${TMP_DIR}${randomUUID()}`;
    const partSize = this.partSizeFor(opts.expectedSize);
    const sha = new HashingPassThrough({ highWaterMark: MiB });
    const etag = new EtagPassThrough({ partSize, wholeMd5: this.profile.multipartEtag === 'md5-of-object', highWaterMark: MiB });
    if (opts.onProgress) {
      const cb = opts.onProgress;
      sha.on('data', () => cb(sha.bytes));
    }
    try {
      await this.uploadTemp(body, sha, etag, tmpKey, partSize, opts.signal);
      const sha256 = sha.digest;
      const size = sha.bytes;
      if (opts.expectedSize !== undefined && opts.expectedSize !== size) {
        throw new ObjectCorruptError(`stream gave ${size} bytes, expected ${opts.expectedSize}`, { expectedSize: opts.expectedSize, size });
      }
      if (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256) {
        throw new ObjectCorruptError(`stream hashed to ${sha256}, expected ${opts.expectedSha256}`, { expected: opts.expectedSha256, sha256 });
      }
      await this.checkTemp(tmpKey, size, etag);
      opts.signal?.throwIfAborted();
      const key = contentKey(sha256);
      return await this.oneAtATime(key, async () => {
        const created = await this.publish(tmpKey, key, size);
        if (created) await this.checkPublished(key, sha256, size);
        return { key, sha256, size, created };
      });
    } finally {
      // Success or not, the temp object goes: a published object is a copy of it.
      await this.deleteTemp(tmpKey);
    }
  }

  /**
   * Run fn for a key after any earlier call for the same key in this process has
   * finished. Without it two puts of the same content here could both find the key
   * absent and both copy; where the store has no conditional copy the second copy would
   * rewrite the object while the first checks it. Across processes the conditional
   * copy (where the profile has one) is what keeps a key written once.
   */
  private async oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.keyLocks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.keyLocks.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.keyLocks.get(key) === tail) this.keyLocks.delete(key);
    }
  }

  private partSizeFor(expectedSize: number | undefined): number {
    return partSizeFor(this.partSize, this.profile.maxParts, expectedSize);
  }

  /**
   * Stream body → SHA-256 → per-part MD5 → lib-storage Upload, in one pass with memory
   * bounded by (queueSize + 1) parts. A failing source or abort signal fails the upload
   * (lib-storage then aborts a multipart upload); a failing upload stops the source.
   */
  private async uploadTemp(body: Readable, sha: HashingPassThrough, etag: EtagPassThrough, tmpKey: string, partSize: number, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: tmpKey, Body: etag, ContentType: 'application/octet-stream' },
      partSize,
      queueSize: this.queueSize,
      // Where AbortMultipartUpload does not work (s3rver), sending it would only
      // replace the real error with a 405; the parts are never visible as objects.
      leavePartsOnError: !this.profile.abortMultipartUpload,
    });
    const failed: { upload?: unknown; injected?: Error } = {};
    const uploading = upload.done().catch((e: unknown) => {
      failed.upload = e;
      // The upload stopped reading: end the pipeline so the source is released.
      failed.injected = e instanceof Error ? e : new Error(String(e));
      etag.destroy(failed.injected);
    });
    const piping = pipeline(body, sha, etag, signal ? { signal } : {});
    const [piped] = await Promise.allSettled([piping, uploading]);
    if (piped.status === 'rejected' && piped.reason !== failed.injected) {
      // The source failed or was aborted; whatever the upload then reported (the same
      // error, or a failed AbortMultipartUpload) is a consequence.
      const e = piped.reason as Error;
      // Typed errors (the source's own, e.g. a recorder read error) pass through unchanged.
      if (e?.name === 'AbortError' || isCustodyError(e)) throw e;
      throw new VaultError('VAULT_WRITE_FAILED', `cannot write to the vault at ${this.location}: ${errorMessage(e)}`, { cause: e });
    }
    if ('upload' in failed) throw this.mapError(failed.upload, 'write', `uploading to ${this.location}`, tmpKey);
  }

  /** The uploaded temp object has the size and (where the store's ETag is an MD5) the ETag we computed. */
  private async checkTemp(tmpKey: string, size: number, etag: EtagPassThrough): Promise<void> {
    const head = await this.headRaw(tmpKey);
    if (!head) throw new VaultError('VAULT_WRITE_FAILED', `uploaded object ${tmpKey} is not in the bucket`);
    if (head.size !== size) {
      throw new ObjectCorruptError(`uploaded ${size} bytes but ${this.location} stored ${head.size}`, { key: tmpKey, storedSize: head.size, size });
    }
    if (!head.etagIsMd5 || head.etag === undefined) return;
    const expected = etag.partCount > 1 && this.profile.multipartEtag === 'md5-of-object' ? etag.md5 : etag.etag;
    if (head.etag !== expected) {
      throw new ObjectCorruptError(`${this.location} stored ETag ${head.etag} for the upload, expected ${expected}: bytes changed in transit`, {
        key: tmpKey,
        etag: head.etag,
        expected,
      });
    }
  }

  /**
   * Copy temp → content key unless the key exists. Returns false when it existed
   * (after checking its size), true when this call created it.
   */
  private async publish(tmpKey: string, key: string, size: number): Promise<boolean> {
    const finalKey = this.full(key);
    const existing = await this.headRaw(finalKey);
    if (existing) {
      this.assertSameSize(key, existing.size, size);
      return false;
    }
    try {
      if (size > this.profile.maxCopyObjectBytes) await this.copyMultipart(tmpKey, finalKey, size);
      else {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: finalKey,
            CopySource: this.copySource(tmpKey),
            MetadataDirective: 'COPY',
            ...(this.profile.conditionalCopy ? { IfNoneMatch: '*' } : {}),
          }),
        );
      }
      return true;
    } catch (e) {
      if (isPreconditionFailed(e) || isConditionalConflict(e)) {
        // Another writer published the same content first (or is doing so now).
        const now = await this.headRaw(finalKey);
        if (now) {
          this.assertSameSize(key, now.size, size);
          return false;
        }
        throw new VaultError('VAULT_UNAVAILABLE', `a concurrent write to ${key} is in progress`, { cause: e });
      }
      throw this.mapError(e, 'write', `publishing ${key}`, key);
    }
  }

  private assertSameSize(key: string, storedSize: number, size: number): void {
    if (storedSize !== size) {
      throw new ObjectCorruptError(`stored object ${key} has ${storedSize} bytes, its content has ${size}: the vault copy is damaged`, {
        key,
        storedSize,
        size,
      });
    }
  }

  /** Server-side copy in parts, for objects larger than one CopyObject may copy. */
  private async copyMultipart(srcKey: string, dstKey: string, size: number): Promise<void> {
    const partSize = Math.min(MAX_COPY_PART, Math.max(MIN_COPY_PART, Math.ceil(size / this.profile.maxParts / MiB) * MiB));
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: dstKey, ContentType: 'application/octet-stream' }));
    if (!UploadId) throw new VaultError('VAULT_WRITE_FAILED', `${this.location} returned no upload id for ${dstKey}`);
    const count = Math.ceil(size / partSize);
    const parts: CompletedPart[] = new Array(count);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const start = i * partSize;
        const end = Math.min(size, start + partSize) - 1;
        const out = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: dstKey,
            UploadId,
            PartNumber: i + 1,
            CopySource: this.copySource(srcKey),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts[i] = { PartNumber: i + 1, ETag: out.CopyPartResult?.ETag };
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.queueSize, count) }, worker));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: dstKey,
          UploadId,
          MultipartUpload: { Parts: parts },
          ...(this.profile.conditionalPut ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (e) {
      if (this.profile.abortMultipartUpload) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: dstKey, UploadId })).catch((abortErr: unknown) => {
          this.log.warn({ err: abortErr, key: dstKey }, 'could not abort a failed multipart copy; a bucket lifecycle rule will remove its parts');
        });
      }
      throw e;
    }
  }

  /** After a copy this call made: the content key has the right size, and with readBack 'full' the right hash. */
  private async checkPublished(key: string, sha256: string, size: number): Promise<void> {
    const finalKey = this.full(key);
    let problem: ObjectCorruptError | undefined;
    const head = await this.headRaw(finalKey);
    if (!head) throw new VaultError('VAULT_WRITE_FAILED', `copied object ${key} is not in the bucket`);
    if (head.size !== size) {
      problem = new ObjectCorruptError(`stored ${key} has ${head.size} bytes, wrote ${size}`, { key, storedSize: head.size, size });
    } else if (this.readBack === 'full') {
      const got = await hashStream(await this.get(key));
      if (got.sha256 !== sha256 || got.size !== size) {
        problem = new ObjectCorruptError(`read-back of ${key} hashed to ${got.sha256} (${got.size} bytes)`, { key, sha256: got.sha256, size: got.size });
      }
    }
    if (problem) {
      // This call created the bad copy, so it removes it: a content key only ever holds its content.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: finalKey })).catch((e: unknown) => {
        this.log.error({ err: e, key }, 'could not remove a corrupt copy');
      });
      throw problem;
    }
  }

  private async deleteTemp(tmpKey: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tmpKey }));
    } catch (e) {
      // Not fatal to the put: init() removes stale temp objects, and list() never shows them.
      this.log.warn({ err: e, key: tmpKey }, 'could not remove a temp object');
    }
  }

  // ---- named puts ---------------------------------------------------------------

  async putNamed(key: string, data: Buffer): Promise<PutResult> {
    const fullKey = this.full(key);
    return this.oneAtATime(key, () => this.putNamedNow(key, fullKey, data));
  }

  private async putNamedNow(key: string, fullKey: string, data: Buffer): Promise<PutResult> {
    const sha256 = sha256Hex(data);
    const result = { key, sha256, size: data.length };
    const existing = await this.readSmall(fullKey, key);
    if (existing) return this.sameOrExists(existing, result);

    const md5 = createHash('md5').update(data).digest();
    let out;
    try {
      out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Body: data,
          ContentLength: data.length,
          // The store refuses the body if it does not match.
          ContentMD5: md5.toString('base64'),
          ContentType: 'application/octet-stream',
          ...(this.profile.conditionalPut ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (e) {
      if (isPreconditionFailed(e) || isConditionalConflict(e)) {
        // Lost a race with another writer of this key: identical content is fine.
        const now = await this.readSmall(fullKey, key);
        if (now) return this.sameOrExists(now, result);
        throw new VaultError('VAULT_UNAVAILABLE', `a concurrent write to ${key} is in progress`, { cause: e });
      }
      throw this.mapError(e, 'write', `writing ${key}`, key);
    }
    const sse = out.ServerSideEncryption;
    const etagCheckable = this.profile.etagIsMd5 && (sse === undefined || sse === 'AES256') && out.SSECustomerAlgorithm === undefined;
    let problem: ObjectCorruptError | undefined;
    if (etagCheckable && out.ETag !== undefined && normaliseEtag(out.ETag) !== md5.toString('hex')) {
      problem = new ObjectCorruptError(`${this.location} stored ETag ${out.ETag} for ${key}, expected ${md5.toString('hex')}`, { key, etag: out.ETag });
    } else if (this.readBack === 'full') {
      const got = await this.readSmall(fullKey, key);
      if (!got || sha256Hex(got) !== sha256) problem = new ObjectCorruptError(`read-back of ${key} does not match what was written`, { key });
    }
    if (problem) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey })).catch((e: unknown) => {
        this.log.error({ err: e, key }, 'could not remove a corrupt named object');
      });
      throw problem;
    }
    return { ...result, created: true };
  }

  private sameOrExists(existing: Buffer, result: Omit<PutResult, 'created'>): PutResult {
    if (sha256Hex(existing) === result.sha256) return { ...result, created: false };
    throw new VaultError('VAULT_OBJECT_EXISTS', `object ${result.key} already exists with other content`, { details: { key: result.key } });
  }

  /** A small object's bytes, or null when missing. Only for named objects (ledger segments, checkpoints). */
  private async readSmall(fullKey: string, key: string): Promise<Buffer | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (e) {
      if (isMissing(e)) return null;
      throw this.mapError(e, 'read', `reading ${key}`, key);
    }
  }

  // ---- reads --------------------------------------------------------------------

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const fullKey = this.full(key);
    if (range && (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start)))) {
      throw new VaultError('VAULT_BAD_RANGE', `bad byte range ${JSON.stringify(range)} for ${key}`);
    }
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      const body = out.Body;
      if (!(body instanceof Readable)) throw new VaultError('VAULT_READ_FAILED', `the S3 client returned no Node stream for ${key}`);
      return range ? this.exactRange(body, range, out.ContentRange, key) : body;
    } catch (e) {
      // A range starting past the end reads as nothing, as it does from a file.
      if (range && (statusOf(e) === 416 || codeOf(e) === 'InvalidRange')) return Readable.from([]);
      throw this.mapError(e, 'read', `reading ${key}`, key);
    }
  }

  /**
   * The bytes asked for, whatever range the server actually sent. A server may ignore
   * Range and send the whole object (HTTP allows it), or send more than asked: s3rver
   * reads "bytes=0-0" as the whole object. Content-Range says where the body starts.
   */
  private exactRange(body: Readable, range: ByteRange, contentRange: string | undefined, key: string): Readable {
    const m = contentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange) : null;
    if (contentRange && !m) {
      body.destroy();
      throw new VaultError('VAULT_READ_FAILED', `${this.location} sent an unreadable Content-Range "${contentRange}" for ${key}`);
    }
    const servedStart = m ? Number(m[1]) : 0;
    const servedEnd = m ? Number(m[2]) : Number.POSITIVE_INFINITY;
    if (servedStart > range.start) {
      body.destroy();
      throw new VaultError('VAULT_READ_FAILED', `${this.location} answered a range from ${range.start} with bytes from ${servedStart} for ${key}`);
    }
    const skip = range.start - servedStart;
    const want = range.end === undefined ? Number.POSITIVE_INFINITY : range.end - range.start + 1;
    if (skip === 0 && servedEnd - servedStart + 1 <= want) return body;
    return Readable.from(sliceBytes(body, skip, want), { objectMode: false });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const head = await this.headRaw(this.full(key), key);
    return head ? { key, size: head.size } : null;
  }

  /** HEAD as domain facts, or null when the object does not exist. */
  private async headRaw(fullKey: string, key: string = fullKey): Promise<{ size: number; etag: string | undefined; etagIsMd5: boolean } | null> {
    let out: HeadObjectCommandOutput;
    try {
      out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }));
    } catch (e) {
      if (isMissing(e)) return null;
      throw this.mapError(e, 'read', `checking ${key}`, key);
    }
    // SSE-KMS and SSE-C ETags are not MD5s of the bytes.
    const sse = out.ServerSideEncryption;
    return {
      size: out.ContentLength ?? 0,
      etag: out.ETag === undefined ? undefined : normaliseEtag(out.ETag),
      etagIsMd5: this.profile.etagIsMd5 && (sse === undefined || sse === 'AES256') && out.SSECustomerAlgorithm === undefined,
    };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertSafePrefix(prefix);
    try {
      for await (const obj of this.listRaw(this.prefix + prefix)) {
        const key = obj.fullKey.slice(this.prefix.length);
        // Uploads in progress and "folder" placeholders made by consoles are not objects.
        if (key.startsWith(TMP_DIR) || key.endsWith('/')) continue;
        yield { key, size: obj.size };
      }
    } catch (e) {
      throw this.mapError(e, 'read', `listing ${this.location}${prefix}`);
    }
  }

  /** Every object under a bucket key prefix, following continuation tokens page by page. */
  private async *listRaw(fullPrefix: string): AsyncIterable<{ fullKey: string; size: number; lastModified: Date | undefined }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(fullPrefix)) continue;
        yield { fullKey: o.Key, size: o.Size ?? 0, lastModified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) throw new VaultError('VAULT_READ_FAILED', `${this.location} truncated a listing without a continuation token`);
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.full(key);
    try {
      if (this.objectLock !== null) {
        await this.deleteVersions(fullKey);
        return;
      }
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }));
    } catch (e) {
      if (isMissing(e)) return;
      throw this.mapError(e, 'write', `deleting ${key}`, key);
    }
  }

  /**
   * In an Object Lock bucket (always versioned) a plain delete only adds a delete
   * marker and the bytes stay: delete every version and marker of the key explicitly.
   * A version still under retention or legal hold is refused by the store, and the
   * error surfaces (the purge retries at its next run).
   */
  private async deleteVersions(fullKey: string): Promise<void> {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: fullKey, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key !== fullKey || v.VersionId === undefined) continue;
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey, VersionId: v.VersionId }));
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
  }

  /**
   * Object Lock: keep the object at least until `until`. Callers pass the latest
   * retention date of the live items with this content, so the date only grows
   * (compliance mode refuses to shorten one; governance would need a bypass, which
   * custody never sends). No-op when Object Lock is off.
   */
  async retainUntil(key: string, until: Date): Promise<void> {
    if (this.objectLock === null) return;
    const fullKey = this.full(key);
    try {
      await this.client.send(
        new PutObjectRetentionCommand({ Bucket: this.bucket, Key: fullKey, Retention: { Mode: this.objectLock, RetainUntilDate: until } }),
      );
    } catch (e) {
      throw this.mapError(e, 'write', `setting the retention of ${key}`, key);
    }
  }

  /** Object Lock: set or clear the legal hold of an object (held items). No-op when Object Lock is off. */
  async legalHold(key: string, on: boolean): Promise<void> {
    if (this.objectLock === null) return;
    const fullKey = this.full(key);
    try {
      await this.client.send(new PutObjectLegalHoldCommand({ Bucket: this.bucket, Key: fullKey, LegalHold: { Status: on ? 'ON' : 'OFF' } }));
    } catch (e) {
      throw this.mapError(e, 'write', `setting the legal hold of ${key}`, key);
    }
  }

  /** Temp objects currently in the bucket (uploads in progress or left by a crash), for tests and tools. */
  async *listTemporary(): AsyncIterable<ObjectInfo> {
    for await (const obj of this.listRaw(this.prefix + TMP_DIR)) yield { key: obj.fullKey.slice(this.prefix.length), size: obj.size };
  }
}

/**
 * Upload part size: the configured one, raised (in whole MiB) when a known size would
 * need more parts than the store allows (the profile's maxParts: 10,000 on S3, 1,000 on
 * a default Swift).
 */
export function partSizeFor(configured: number, maxParts: number, expectedSize: number | undefined): number {
  if (expectedSize === undefined || expectedSize <= configured * maxParts) return configured;
  return Math.ceil(expectedSize / maxParts / MiB) * MiB;
}

/** Skip `skip` bytes of a stream, then pass at most `want`; stops reading (and closes the source) once it has them. */
async function* sliceBytes(src: Readable, skip: number, want: number): AsyncGenerator<Buffer> {
  let toSkip = skip;
  let left = want;
  for await (const chunk of src) {
    let c = chunk as Buffer;
    if (toSkip > 0) {
      const n = Math.min(toSkip, c.length);
      toSkip -= n;
      c = c.subarray(n);
    }
    if (c.length === 0) continue;
    if (c.length >= left) {
      yield c.subarray(0, left);
      return; // leaving the loop destroys the source: the rest is never downloaded
    }
    left -= c.length;
    yield c;
  }
}
