import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';

/**
 * The ETag S3 gives an unencrypted object, from the MD5 digests of its parts:
 * one part (a plain PutObject) is that part's MD5 in hex; several parts are the MD5
 * of the concatenated binary part digests, a dash and the part count.
 */
export function s3Etag(partMd5s: readonly Buffer[]): string {
  if (partMd5s.length === 0) throw new Error('an object has at least one part');
  if (partMd5s.length === 1) return partMd5s[0]!.toString('hex');
  const h = createHash('md5');
  for (const d of partMd5s) h.update(d);
  return `${h.digest('hex')}-${partMd5s.length}`;
}

/** An ETag as the server sent it ("\"abc\"", W/ prefixes) in the form {@link s3Etag} returns. */
export function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
}

export interface EtagPassThroughOptions extends TransformOptions {
  /**
   * The upload's part size in bytes. Parts are cut the way @aws-sdk/lib-storage cuts
   * them: every part but the last is exactly partSize, and a body of partSize bytes or
   * fewer is one PutObject.
   */
  partSize: number;
  /** Also keep an MD5 of the whole object (s3rver's multipart ETag). */
  wholeMd5?: boolean;
}

/**
 * A pass-through that computes the MD5 of each upload part as the bytes go by, so
 * the object's ETag can be checked without reading it back.
 */
export class EtagPassThrough extends Transform {
  private readonly partSize: number;
  private readonly parts: Buffer[] = [];
  private part: Hash = createHash('md5');
  private partBytes = 0;
  private readonly whole: Hash | undefined;
  private _bytes = 0;
  private done = false;
  private wholeHex: string | undefined;

  constructor(opts: EtagPassThroughOptions) {
    const { partSize, wholeMd5, ...streamOpts } = opts;
    super(streamOpts);
    if (!Number.isSafeInteger(partSize) || partSize < 1) throw new RangeError(`bad part size ${partSize}`);
    this.partSize = partSize;
    this.whole = wholeMd5 ? createHash('md5') : undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.whole?.update(chunk);
    this._bytes += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      // A full part is closed only when another byte arrives after it: a body of
      // exactly N parts' bytes ends with a full last part, not an empty one.
      if (this.partBytes === this.partSize) this.closePart();
      const n = Math.min(this.partSize - this.partBytes, chunk.length - off);
      this.part.update(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
      this.partBytes += n;
      off += n;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.closePart();
    this.wholeHex = this.whole?.digest('hex');
    this.done = true;
    cb();
  }

  private closePart(): void {
    this.parts.push(this.part.digest());
    this.part = createHash('md5');
    this.partBytes = 0;
  }

  get bytes(): number {
    return this._bytes;
  }

  /** Parts the upload was cut into (1 for a single PutObject). */
  get partCount(): number {
    this.assertDone();
    return this.parts.length;
  }

  /** The S3 ETag of the object as uploaded. */
  get etag(): string {
    this.assertDone();
    return s3Etag(this.parts);
  }

  /** MD5 hex of the whole object (only with wholeMd5). */
  get md5(): string {
    this.assertDone();
    if (this.wholeHex === undefined) throw new Error('whole-object MD5 was not requested');
    return this.wholeHex;
  }

  private assertDone(): void {
    if (!this.done) throw new Error('ETag read before the stream ended');
  }
}
