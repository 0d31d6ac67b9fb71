import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** Hash a stream to its end without keeping it: { sha256, size }. */
export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}
