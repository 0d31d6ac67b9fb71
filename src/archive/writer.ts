import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CustodyError, isDiskFull } from '../core/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { bagInfo, indexHtml, labelHtml, readmeText } from './documents.js';
import { TAG, type ExportManifest, type ExportProofs } from './layout.js';

/**
 * Writes one copy of an export as a BagIt 1.0 bag. A copy is written on its own: its
 * payload is read from the vault again (never linked or copied from the other
 * copy), into a temporary folder beside the final one on the same destination, and
 * renamed into place only when every file is written and synced. A copy that fails
 * half-way leaves nothing behind.
 */

export interface CopyInput {
  store: ObjectStore;
  manifest: ExportManifest;
  /** The ledger excerpt, each canonical line + "\n". */
  ledgerJsonl: string;
  checkpointNote: string | null;
  verifierKey: string | null;
  proofs: ExportProofs | null;
  zone: string;
  baggingDate: string;
  /** Final bag folder (must not exist) and the temporary one beside it. */
  finalDir: string;
  tempDir: string;
  signal?: AbortSignal;
  /** Called as payload bytes are written: files finished and bytes written so far. */
  onProgress?: (files: number, bytes: number) => void;
}

export class ExportWriteError extends CustodyError {}

/** Pass-through that hashes with sha256 and sha512 as the bytes go by. */
class DualHash extends Transform {
  readonly sha256 = createHash('sha256');
  readonly sha512 = createHash('sha512');
  bytes = 0;
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sha256.update(chunk);
    this.sha512.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

async function writeSynced(file: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const sha = (alg: string, data: string | Buffer): string => createHash(alg).update(data).digest('hex');

/** Write the copy; returns the SHA-256 of its tagmanifest-sha256.txt. Throws ExportWriteError (EXPORT_DISK_FULL, …). */
export async function writeCopy(c: CopyInput): Promise<{ tagManifestSha256: string; payloadBytes: number }> {
  try {
    await mkdir(join(c.tempDir, 'data'), { recursive: true });
    const m256: string[] = [];
    const m512: string[] = [];
    let payloadBytes = 0;
    let files = 0;
    for (const item of c.manifest.items) {
      const target = join(c.tempDir, item.path);
      await mkdir(dirname(target), { recursive: true });
      const before = payloadBytes;
      const hash = new DualHash(c.onProgress ? (n) => c.onProgress!(files, before + n) : undefined);
      const src = await c.store.get(contentKey(item.sha256));
      // 'wx': never over anything; flush: fsync before close.
      await pipeline(src, hash, createWriteStream(target, { flags: 'wx', flush: true }), ...(c.signal ? [{ signal: c.signal }] : []));
      const got = hash.sha256.digest('hex');
      if (got !== item.sha256 || hash.bytes !== item.size) {
        throw new ExportWriteError('EXPORT_SOURCE_CORRUPT', `the vault object of ${item.evidenceId} reads as ${got} (${hash.bytes} bytes), not the recorded ${item.sha256} (${item.size} bytes)`);
      }
      m256.push(`${got}  ${item.path}\n`);
      m512.push(`${hash.sha512.digest('hex')}  ${item.path}\n`);
      payloadBytes += hash.bytes;
      files++;
      c.onProgress?.(files, payloadBytes);
    }
    await syncDir(join(c.tempDir, 'data'));

    const tags = new Map<string, string>();
    tags.set('bagit.txt', 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    tags.set('bag-info.txt', bagInfo(c.manifest, { baggingDate: c.baggingDate, payloadBytes, payloadFiles: c.manifest.items.length }));
    tags.set('manifest-sha256.txt', m256.join(''));
    tags.set('manifest-sha512.txt', m512.join(''));
    tags.set(TAG.export, JSON.stringify(c.manifest, null, 2) + '\n');
    tags.set(TAG.ledger, c.ledgerJsonl);
    if (c.checkpointNote !== null) tags.set(TAG.checkpoint, c.checkpointNote);
    if (c.verifierKey !== null) tags.set(TAG.verifierKey, c.verifierKey + '\n');
    if (c.proofs !== null) tags.set(TAG.proofs, JSON.stringify(c.proofs) + '\n');
    tags.set(TAG.index, indexHtml(c.manifest, c.zone));
    tags.set(TAG.label, labelHtml(c.manifest, c.zone));
    tags.set(TAG.readme, readmeText(c.manifest, c.zone));
    for (const [name, text] of tags) await writeSynced(join(c.tempDir, name), text);
    const tagManifest = [...tags].map(([name, text]) => `${sha('sha256', text)}  ${name}\n`).join('');
    await writeSynced(join(c.tempDir, 'tagmanifest-sha256.txt'), tagManifest);
    await syncDir(join(c.tempDir, 'custody'));
    await syncDir(c.tempDir);

    // Publish: the bag appears whole under its final name, or not at all.
    await rename(c.tempDir, c.finalDir);
    await syncDir(dirname(c.finalDir));
    return { tagManifestSha256: sha('sha256', tagManifest), payloadBytes };
  } catch (e) {
    await rm(c.tempDir, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof ExportWriteError) throw e;
    if (isDiskFull(e)) throw new ExportWriteError('EXPORT_DISK_FULL', `the destination is full: ${dirname(c.finalDir)}`, { cause: e });
    throw new ExportWriteError('EXPORT_WRITE_FAILED', `cannot write the copy in ${dirname(c.finalDir)}: ${(e as Error).message}`, { cause: e });
  }
}
