/**
 * What each S3-protocol store really does, so the adapter sends only requests the
 * store handles correctly. Pure data: no SDK import here (s3-store.ts is the only
 * module that talks to @aws-sdk). docs/object-stores.md has the same table with the
 * reasons; keep them in step.
 */

export type S3ProfileName = 'aws' | 'swift' | 'minio' | 's3rver';

export interface S3Profile {
  readonly name: S3ProfileName;
  /**
   * The SDK's flexible checksums (requestChecksumCalculation and
   * responseChecksumValidation). 'WHEN_REQUIRED' keeps uploads as plain bodies:
   * s3rver stores the aws-chunked framing as object data and Swift rejects it (501).
   * Integrity does not depend on it: the adapter checks the ETag (MD5) and SHA-256.
   */
  readonly checksums: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** 'required': always path-style URLs; 'config': as vault.s3.forcePathStyle says. */
  readonly pathStyle: 'required' | 'config';
  /** Add Content-MD5 to DeleteObjects (Swift refuses it without; the SDK sends a CRC32 instead). */
  readonly deleteObjectsContentMd5: boolean;
  /** ETag of an unencrypted (or SSE-S3) object is the MD5 of its bytes, so it can be checked. */
  readonly etagIsMd5: boolean;
  /**
   * ETag of a completed multipart upload: S3's MD5 of the concatenated part MD5s
   * plus "-<parts>", or (s3rver) the MD5 of the whole object.
   */
  readonly multipartEtag: 'md5-of-parts' | 'md5-of-object';
  /** `If-None-Match: *` is honoured on PutObject and CompleteMultipartUpload. */
  readonly conditionalPut: boolean;
  /** `If-None-Match: *` is honoured on CopyObject. */
  readonly conditionalCopy: boolean;
  /** AbortMultipartUpload works (s3rver answers 405; its parts stay hidden in its uploads folder). */
  readonly abortMultipartUpload: boolean;
  /** Largest object CopyObject copies in one request; above it UploadPartCopy is used. */
  readonly maxCopyObjectBytes: number;
  /**
   * Most parts one multipart upload may have. S3 allows 10,000; Swift's s3api allows
   * `max_upload_part_num` (1,000 unless its operator raised it). A put of known size
   * raises its part size so that it fits.
   */
  readonly maxParts: number;
  /**
   * Object Lock (retention, legal hold). Never sent where false: Swift treats
   * PutObjectRetention / PutObjectLegalHold as a plain PUT that REPLACES the object's
   * bytes with the XML body. Used only when vault.s3.objectLock is on (docs/retention.md).
   */
  readonly objectLock: boolean;
}

const GiB = 1024 * 1024 * 1024;

export const S3_PROFILES: Readonly<Record<S3ProfileName, S3Profile>> = Object.freeze({
  aws: Object.freeze({
    name: 'aws',
    checksums: 'WHEN_SUPPORTED',
    pathStyle: 'config',
    deleteObjectsContentMd5: false,
    etagIsMd5: true,
    multipartEtag: 'md5-of-parts',
    conditionalPut: true,
    conditionalCopy: true,
    abortMultipartUpload: true,
    maxCopyObjectBytes: 5 * GiB,
    maxParts: 10_000,
    objectLock: true,
  }),
  swift: Object.freeze({
    name: 'swift',
    checksums: 'WHEN_REQUIRED',
    pathStyle: 'required',
    deleteObjectsContentMd5: true,
    etagIsMd5: true,
    multipartEtag: 'md5-of-parts',
    conditionalPut: false,
    conditionalCopy: false,
    abortMultipartUpload: true,
    maxCopyObjectBytes: 5 * GiB,
    maxParts: 1_000,
    objectLock: false,
  }),
  minio: Object.freeze({
    name: 'minio',
    checksums: 'WHEN_REQUIRED',
    pathStyle: 'required',
    deleteObjectsContentMd5: true,
    etagIsMd5: true,
    multipartEtag: 'md5-of-parts',
    conditionalPut: true,
    conditionalCopy: false,
    abortMultipartUpload: true,
    maxCopyObjectBytes: 5 * GiB,
    maxParts: 10_000,
    objectLock: false,
  }),
  s3rver: Object.freeze({
    name: 's3rver',
    checksums: 'WHEN_REQUIRED',
    pathStyle: 'required',
    deleteObjectsContentMd5: false,
    etagIsMd5: true,
    multipartEtag: 'md5-of-object',
    conditionalPut: false,
    conditionalCopy: false,
    abortMultipartUpload: false,
    // s3rver copies a file on disk and has no UploadPartCopy (501), so never split.
    maxCopyObjectBytes: Number.POSITIVE_INFINITY,
    maxParts: 10_000,
    objectLock: false,
  }),
});

/** Commands that exist only for Object Lock. */
const OBJECT_LOCK_COMMANDS = new Set([
  'PutObjectRetentionCommand',
  'PutObjectLegalHoldCommand',
  'PutObjectLockConfigurationCommand',
  'GetObjectRetentionCommand',
  'GetObjectLegalHoldCommand',
  'GetObjectLockConfigurationCommand',
]);

/** Input fields that become Object Lock headers on otherwise ordinary requests. */
const OBJECT_LOCK_FIELDS = [
  'ObjectLockMode',
  'ObjectLockRetainUntilDate',
  'ObjectLockLegalHoldStatus',
  'ObjectLockEnabledForBucket',
  'BypassGovernanceRetention',
] as const;

/**
 * Why a command would use Object Lock (its name, or the input field), or null when
 * it does not. The adapter refuses such a command unless the profile has Object Lock.
 */
export function objectLockUse(commandName: string | undefined, input: unknown): string | null {
  if (commandName !== undefined && OBJECT_LOCK_COMMANDS.has(commandName)) return commandName;
  if (input !== null && typeof input === 'object') {
    for (const field of OBJECT_LOCK_FIELDS) {
      if ((input as Record<string, unknown>)[field] !== undefined) return `${commandName ?? 'request'}.${field}`;
    }
  }
  return null;
}

/** Whether a recorded HTTP request carries Object Lock (query or headers). */
export function requestUsesObjectLock(req: { query: readonly string[]; headers: Readonly<Record<string, string>> }): boolean {
  if (req.query.some((q) => q === 'retention' || q === 'legal-hold' || q === 'object-lock')) return true;
  return Object.keys(req.headers).some((h) => {
    const name = h.toLowerCase();
    return name.startsWith('x-amz-object-lock-') || name === 'x-amz-bypass-governance-retention' || name === 'x-amz-bucket-object-lock-enabled';
  });
}
