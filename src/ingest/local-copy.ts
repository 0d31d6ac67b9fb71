import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FsObjectStore, type ObjectStore } from '../vault/index.js';

/**
 * A local file holding an object's bytes, for tools that need a path (ffprobe, ffmpeg).
 * The fs store has one already (it is only read); other stores are streamed to a temp
 * file, removed afterwards.
 */
export async function withLocalCopy<T>(store: ObjectStore, key: string, signal: AbortSignal, fn: (file: string) => Promise<T>): Promise<T> {
  if (store instanceof FsObjectStore) return fn(store.filePath(key));
  const dir = await mkdtemp(join(tmpdir(), 'custody-media-'));
  try {
    const file = join(dir, 'object');
    await pipeline(await store.get(key), createWriteStream(file), { signal });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
