import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EtagPassThrough, normaliseEtag, s3Etag } from './s3-etag.js';

// Expected values were computed independently with Python's hashlib:
//   md5(b''.join(md5(p).digest() for p in parts)).hexdigest() + '-%d' % len(parts)
// and MD5("abc") / MD5("") are the RFC 1321 test-suite values.

async function etagOf(chunks: Buffer[], partSize: number, wholeMd5 = false): Promise<EtagPassThrough> {
  const t = new EtagPassThrough({ partSize, wholeMd5 });
  let passed = 0;
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    t,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        passed += chunk.length;
        cb();
      },
    }),
  );
  expect(passed).toBe(chunks.reduce((n, c) => n + c.length, 0));
  return t;
}

function md5(b: Buffer | string): Buffer {
  return createHash('md5').update(b).digest();
}

describe('s3Etag', () => {
  it('is the MD5 hex of a single part', () => {
    expect(s3Etag([md5('abc')])).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(s3Etag([md5('')])).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('is the MD5 of the concatenated part digests and the part count for several parts', () => {
    expect(s3Etag([md5('abc'), md5('def')])).toBe('4c8e93283780e078db9e0c6b9b3f8043-2');
    expect(s3Etag([md5('abc'), md5('def'), md5('gh')])).toBe('aeeee0d2676cb87233c9a93915c7631a-3');
  });

  it('refuses an object with no parts', () => {
    expect(() => s3Etag([])).toThrow();
  });
});

describe('normaliseEtag', () => {
  it('strips quotes and weak prefixes', () => {
    expect(normaliseEtag('"900150983CD24FB0D6963F7D28E17F72"')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(normaliseEtag('W/"aeeee0d2676cb87233c9a93915c7631a-3"')).toBe('aeeee0d2676cb87233c9a93915c7631a-3');
  });
});

describe('EtagPassThrough', () => {
  it('cuts parts every partSize bytes wherever the chunks split', async () => {
    for (const chunks of [['abcdefgh'], ['a', 'bcdefg', 'h'], ['ab', 'cd', 'ef', 'gh'], ['abc', 'def', 'gh']]) {
      const t = await etagOf(chunks.map((c) => Buffer.from(c)), 3);
      expect(t.partCount, chunks.join('|')).toBe(3);
      expect(t.etag, chunks.join('|')).toBe('aeeee0d2676cb87233c9a93915c7631a-3');
      expect(t.bytes).toBe(8);
    }
  });

  it('ends with a full last part when the size is an exact multiple (as lib-storage cuts it)', async () => {
    const t = await etagOf([Buffer.from('abcdef')], 3);
    expect(t.partCount).toBe(2);
    expect(t.etag).toBe('4c8e93283780e078db9e0c6b9b3f8043-2');
  });

  it('is a single PutObject ETag up to and including partSize bytes', async () => {
    expect((await etagOf([Buffer.from('abc')], 3)).etag).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect((await etagOf([Buffer.from('abc')], 1024)).etag).toBe('900150983cd24fb0d6963f7d28e17f72');
    const empty = await etagOf([], 5);
    expect(empty.partCount).toBe(1);
    expect(empty.etag).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('matches S3 for a 12 MiB body in 5 MiB parts, and keeps the whole-object MD5 on request', async () => {
    const size = 12 * 1024 * 1024 + 5;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) % 251;
    const chunks: Buffer[] = [];
    for (let off = 0; off < size; off += 65_521) chunks.push(data.subarray(off, off + 65_521));
    const t = await etagOf(chunks, 5 * 1024 * 1024, true);
    expect(t.partCount).toBe(3);
    expect(t.etag).toBe('e65d5484044edc6c4561892af7d68088-3');
    expect(t.md5).toBe('fb51bfe59b4292f6c85e90fc2949e417');
  });

  it('refuses to answer before the stream has ended', () => {
    const t = new EtagPassThrough({ partSize: 5 });
    expect(() => t.etag).toThrow(/before the stream ended/);
  });
});
