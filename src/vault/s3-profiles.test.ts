import { describe, expect, it } from 'vitest';
import { S3_PROFILES, objectLockUse, requestUsesObjectLock } from './s3-profiles.js';
import { partSizeFor } from './s3-store.js';

describe('S3 compatibility profiles', () => {
  it('keep plain (WHEN_REQUIRED) checksums, path style and no Object Lock for s3rver and Swift', () => {
    for (const name of ['s3rver', 'swift'] as const) {
      const p = S3_PROFILES[name];
      expect(p.checksums, name).toBe('WHEN_REQUIRED');
      expect(p.pathStyle, name).toBe('required');
      expect(p.objectLock, name).toBe(false);
    }
    expect(S3_PROFILES.swift.deleteObjectsContentMd5).toBe(true);
    expect(S3_PROFILES.s3rver.abortMultipartUpload).toBe(false);
    expect(S3_PROFILES.s3rver.multipartEtag).toBe('md5-of-object');
  });

  it("size parts to the store's part limit (Swift: 1,000)", () => {
    const MiB = 1024 * 1024;
    expect(S3_PROFILES.swift.maxParts).toBe(1_000);
    expect(S3_PROFILES.aws.maxParts).toBe(10_000);
    // 16 MiB parts hold 16,000 MiB on a default Swift; a 20 GiB recording needs bigger ones.
    expect(partSizeFor(16 * MiB, S3_PROFILES.swift.maxParts, 1_000 * 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(16 * MiB, S3_PROFILES.swift.maxParts, 20 * 1024 * MiB)).toBe(21 * MiB);
    expect(partSizeFor(16 * MiB, S3_PROFILES.aws.maxParts, 20 * 1024 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(16 * MiB, S3_PROFILES.swift.maxParts, undefined)).toBe(16 * MiB);
  });

  it('are frozen', () => {
    expect(Object.isFrozen(S3_PROFILES.swift)).toBe(true);
    expect(() => {
      (S3_PROFILES.swift as { objectLock: boolean }).objectLock = true;
    }).toThrow();
  });
});

describe('objectLockUse', () => {
  it('names Object Lock commands', () => {
    expect(objectLockUse('PutObjectRetentionCommand', {})).toBe('PutObjectRetentionCommand');
    expect(objectLockUse('PutObjectLegalHoldCommand', {})).toBe('PutObjectLegalHoldCommand');
    expect(objectLockUse('PutObjectLockConfigurationCommand', {})).toBe('PutObjectLockConfigurationCommand');
  });

  it('names Object Lock fields on ordinary commands', () => {
    expect(objectLockUse('PutObjectCommand', { Key: 'k', ObjectLockMode: 'COMPLIANCE' })).toBe('PutObjectCommand.ObjectLockMode');
    expect(objectLockUse('CopyObjectCommand', { ObjectLockLegalHoldStatus: 'ON' })).toBe('CopyObjectCommand.ObjectLockLegalHoldStatus');
    expect(objectLockUse('DeleteObjectCommand', { BypassGovernanceRetention: true })).toBe('DeleteObjectCommand.BypassGovernanceRetention');
  });

  it('passes ordinary commands', () => {
    expect(objectLockUse('PutObjectCommand', { Key: 'k', Body: 'x' })).toBeNull();
    expect(objectLockUse('ListObjectsV2Command', { Bucket: 'b' })).toBeNull();
    expect(objectLockUse(undefined, undefined)).toBeNull();
  });
});

describe('requestUsesObjectLock', () => {
  it('spots Object Lock sub-resources and headers', () => {
    expect(requestUsesObjectLock({ query: ['retention'], headers: {} })).toBe(true);
    expect(requestUsesObjectLock({ query: ['legal-hold'], headers: {} })).toBe(true);
    expect(requestUsesObjectLock({ query: ['object-lock'], headers: {} })).toBe(true);
    expect(requestUsesObjectLock({ query: [], headers: { 'X-Amz-Object-Lock-Mode': 'GOVERNANCE' } })).toBe(true);
    expect(requestUsesObjectLock({ query: [], headers: { 'x-amz-bypass-governance-retention': 'true' } })).toBe(true);
    expect(requestUsesObjectLock({ query: ['uploadId', 'partNumber'], headers: { 'content-md5': 'x' } })).toBe(false);
  });
});
