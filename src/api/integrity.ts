import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Catalog } from '../catalog/index.js';
import { type Logger, ObjectCorruptError } from '../core/index.js';
import { ledgerOf } from '../ledger/index.js';

/**
 * Content integrity on the way out (issue 14): a stored object whose size or hash is
 * not the recorded one is never served as a good answer.
 *
 * - The size is checked before the first byte (a stat of the object): a wrong size is
 *   a 500 VAULT_OBJECT_CORRUPT and nothing is sent.
 * - A full read is hashed as it streams; the last chunk is held back until the hash is
 *   known, so a wrong hash ends the response short of its Content-Length (the client
 *   sees a failed transfer, never a complete wrong body).
 * Either way the item is reported corrupt in the ledger (`evidence.corrupt`), once per
 * object and finding for the life of the process.
 *
 * The same checks hold for an item's browser-playable proxy (issue 15): its entry then
 * names the proxy object and says `proxy: true`.
 */
/** What is served: an evidence item's original (an `Evidence` is one), or its proxy. */
export interface ServedObject {
  /** The evidence id. */
  id: string;
  sha256: string;
  size: number;
  /** Set when the object is the item's proxy, not its original. */
  proxy?: true;
}

export class IntegrityReporter {
  private readonly reported = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
  ) {}

  report(ev: ServedObject, finding: { kind: 'size'; actualSize: number } | { kind: 'hash'; actualSha256: string }): void {
    const key = `${ev.sha256}:${finding.kind}`;
    this.log.error({ evidenceId: ev.id, sha256: ev.sha256, proxy: ev.proxy ?? false, finding }, 'stored object does not match its record; not served');
    if (this.reported.has(key)) return;
    this.reported.add(key);
    try {
      this.catalog.tx(() =>
        ledgerOf(this.catalog).append({
          type: 'evidence.corrupt',
          actor: 'api',
          subject: ev.id,
          data: { sha256: ev.sha256, size: ev.size, ...finding, ...(ev.proxy ? { proxy: true } : {}) },
        }),
      );
    } catch (e) {
      this.reported.delete(key);
      this.log.error({ err: e, evidenceId: ev.id }, 'could not ledger a corrupt object');
    }
  }

  sizeMismatch(ev: ServedObject, actualSize: number): ObjectCorruptError {
    this.report(ev, { kind: 'size', actualSize });
    return new ObjectCorruptError(`the stored ${ev.proxy ? 'proxy' : 'object'} of ${ev.id} is ${actualSize} bytes, not ${ev.size}`, { evidenceId: ev.id });
  }

  /** A pass-through that fails (before its last chunk) when the bytes do not hash to `ev.sha256`. */
  verifying(ev: ServedObject): Transform {
    return new HashCheck(ev, (actual) => this.report(ev, { kind: 'hash', actualSha256: actual }));
  }
}

class HashCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private held: Buffer | null = null;
  private bytes = 0;

  constructor(
    private readonly ev: ServedObject,
    private readonly onMismatch: (actual: string) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const out = this.held;
    this.held = chunk;
    cb(null, out ?? undefined);
  }

  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.ev.sha256 || this.bytes !== this.ev.size) {
      this.onMismatch(actual);
      cb(new ObjectCorruptError(`the stored ${this.ev.proxy ? 'proxy' : 'object'} of ${this.ev.id} hashes to ${actual}`, { evidenceId: this.ev.id }));
      return;
    }
    if (this.held) this.push(this.held);
    cb();
  }
}

/** Width and height of a WebP image from its first 30 bytes, or null when it is not one. */
export function webpSize(head: Buffer): { width: number; height: number } | null {
  if (head.length < 30 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WEBP') return null;
  const kind = head.toString('ascii', 12, 16);
  if (kind === 'VP8 ') return { width: head.readUInt16LE(26) & 0x3fff, height: head.readUInt16LE(28) & 0x3fff };
  if (kind === 'VP8L') {
    const b = head.readUInt32LE(21);
    return { width: (b & 0x3fff) + 1, height: ((b >> 14) & 0x3fff) + 1 };
  }
  if (kind === 'VP8X') return { width: head.readUIntLE(24, 3) + 1, height: head.readUIntLE(27, 3) + 1 };
  return null;
}
