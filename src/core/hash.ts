import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(data: string | Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A pass-through stream that hashes and counts every byte flowing through it, so a
 * file is read once and hashed while it is written elsewhere.
 */
export class HashingPassThrough extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private _bytes = 0;
  private _digest: string | undefined;
  private readonly onProgress: ((bytesSoFar: number) => void) | undefined;

  constructor(opts: { highWaterMark?: number; onProgress?: ((bytesSoFar: number) => void) | undefined } = {}) {
    super(opts.highWaterMark === undefined ? {} : { highWaterMark: opts.highWaterMark });
    this.onProgress = opts.onProgress;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this._bytes += chunk.length;
    this.onProgress?.(this._bytes);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this._digest = this.hash.digest('hex');
    cb();
  }

  get bytes(): number {
    return this._bytes;
  }

  /** The hex digest; only available once the stream has ended. */
  get digest(): string {
    if (this._digest === undefined) throw new Error('digest read before the stream ended');
    return this._digest;
  }
}
