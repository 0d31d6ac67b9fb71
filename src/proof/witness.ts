import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../core/index.js';
import type { SignedCheckpoint } from './checkpoint.js';
import { ProofError } from './errors.js';
import { MAX_NOTE_BYTES } from './note.js';

const FILE_RE = /^(\d{12})\.checkpoint$/;

/** A file-system-safe folder name for an origin ("custody/3f2a…" → "custody_3f2a…"). */
export function originFolderName(origin: string): string {
  return origin.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * A witness folder: a place custody does not control alone (a share on another
 * machine, a WORM mount) that receives every checkpoint, one write-once file per tree
 * size: `<folder>/<origin>/<size, 12 digits>.checkpoint`.
 *
 * The folder itself must exist: custody never creates it, so an unmounted share is
 * reported as unreachable instead of being silently replaced by a local folder.
 */
export class FolderWitness {
  readonly folder: string;

  constructor(
    readonly dir: string,
    origin: string,
  ) {
    this.folder = join(dir, originFolderName(origin));
  }

  private async assertReachable(): Promise<void> {
    let s;
    try {
      s = await stat(this.dir);
    } catch (e) {
      throw new ProofError('CHECKPOINT_WITNESS_UNREACHABLE', `witness folder ${this.dir} is not reachable: ${errorMessage(e)}`, { cause: e });
    }
    if (!s.isDirectory()) throw new ProofError('CHECKPOINT_WITNESS_UNREACHABLE', `witness ${this.dir} is not a folder`);
  }

  /** The witness's checkpoint for the largest tree (unverified), or null when it holds none. */
  async latest(): Promise<{ file: string; size: number; note: string } | null> {
    await this.assertReachable();
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ProofError('CHECKPOINT_WITNESS_UNREACHABLE', `cannot list witness folder ${this.folder}: ${errorMessage(e)}`, { cause: e });
    }
    const best = names
      .map((n) => FILE_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0))
      .pop();
    if (!best) return null;
    const file = join(this.folder, best[0]);
    const data = await readFile(file);
    if (data.length > MAX_NOTE_BYTES) throw new ProofError('CHECKPOINT_WITNESS_INVALID', `${file} is too large to be a checkpoint`);
    return { file, size: Number(best[1]), note: data.toString('utf8') };
  }

  /**
   * Write a checkpoint, once: the file appears whole (temp file, fsync, hard link) or
   * not at all. The same bytes already there are fine; other bytes are a conflict.
   */
  async put(c: SignedCheckpoint): Promise<{ file: string; created: boolean }> {
    await this.assertReachable();
    await mkdir(this.folder, { recursive: true });
    const file = join(this.folder, `${String(c.size).padStart(12, '0')}.checkpoint`);
    const data = Buffer.from(c.note, 'utf8');
    const tmp = join(this.folder, `.${randomUUID()}.tmp`);
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    let created = true;
    try {
      await link(tmp, file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        created = false;
      } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EXDEV') {
        // Shares without hard links: rename, after checking the name is free.
        const exists = await stat(file).then(
          () => true,
          (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return false;
            throw err;
          },
        );
        if (exists) created = false;
        else await rename(tmp, file);
      } else {
        await rm(tmp, { force: true });
        throw e;
      }
    }
    await rm(tmp, { force: true });
    if (!created) {
      const now = await readFile(file);
      if (!now.equals(data)) {
        throw new ProofError('CHECKPOINT_WITNESS_CONFLICT', `witness ${file} already holds a different checkpoint for ${c.size} entries`, { details: { file } });
      }
    }
    return { file, created };
  }
}
