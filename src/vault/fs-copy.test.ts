import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../test/lab/lab.js';
import { SourceFileError, sha256Hex } from '../core/index.js';
import { COPY_THREAD_MAX_BYTES } from './fs-copy.js';
import { FsObjectStore } from './fs-store.js';
import { contentKey } from './store.js';

/** A vault and a source folder in a fresh temp dir. */
async function setup(fsync = true): Promise<{ store: FsObjectStore; src: string; tmpFiles: () => Promise<string[]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'custody-copy-'));
  const store = new FsObjectStore({ root: join(dir, 'vault'), fsync });
  await store.init();
  const src = join(dir, 'src');
  await mkdir(src);
  return { store, src, tmpFiles: () => readdir(join(dir, 'vault', '.tmp')) };
}

const asSource = (e: unknown): Error => new SourceFileError('SOURCE_READ_FAILED', `recorder: ${(e as Error).message}`);

describe('the fs store copy thread (small local files)', () => {
  it('stages a file whole: published under its hash with its bytes, and its stat after the read', async () => {
    const { store, src } = await setup();
    const data = Buffer.alloc(200_000, 7);
    const path = join(src, 'a.jpg');
    await writeFile(path, data);
    const copier = store.localCopier();
    const seen: number[] = [];
    const { staged, after } = await copier.stage(path, { expectedSize: data.length, onProgress: (n) => seen.push(n) });
    expect(staged).toMatchObject({ sha256: sha256Hex(data), size: data.length });
    const st = await lstat(path);
    expect(after).toEqual({ size: data.length, mtimeMs: st.mtimeMs, isFile: true });
    expect(seen).toEqual([data.length]);
    // The descriptor it handed over outlives the thread: closing the copier (the worker
    // ends) must not close it, or the group's sync would fail (EBADF) or hit another file.
    copier.close();
    const [out] = await store.publishStaged([staged]);
    expect(out).toEqual({ ok: true, put: { key: contentKey(sha256Hex(data)), sha256: sha256Hex(data), size: data.length, created: true } });
    expect(await readFile(store.filePath(contentKey(sha256Hex(data))))).toEqual(data);
  });

  it('refuses a symlink, a missing file and a file of another size, as the source, writing nothing', async () => {
    const { store, src, tmpFiles } = await setup();
    await writeFile(join(src, 'real.jpg'), Buffer.alloc(1000, 1));
    await symlink(join(src, 'real.jpg'), join(src, 'link.jpg'));
    const copier = store.localCopier();
    try {
      await expect(copier.stage(join(src, 'link.jpg'), { expectedSize: 1000, readError: asSource })).rejects.toMatchObject({
        code: 'SOURCE_READ_FAILED',
        message: expect.stringMatching(/ELOOP/),
      });
      await expect(copier.stage(join(src, 'gone.jpg'), { expectedSize: 1000, readError: asSource })).rejects.toMatchObject({
        code: 'SOURCE_READ_FAILED',
        message: expect.stringMatching(/ENOENT/),
      });
      // Grown and shrunk since the listing: the size the caller expected is not the file's.
      for (const expectedSize of [999, 1001]) {
        await expect(copier.stage(join(src, 'real.jpg'), { expectedSize, readError: asSource })).rejects.toMatchObject({
          code: 'VAULT_OBJECT_CORRUPT',
          details: { expectedSize },
        });
      }
      expect(await tmpFiles()).toEqual([]);
    } finally {
      copier.close();
    }
  });

  it('fails a full vault disk as VAULT_FULL and removes the temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custody-copy-full-'));
    const lab = new Lab(join(dir, 'lab'));
    try {
      await mkdir(join(dir, 'vault'));
      await lab.tmpfs(join(dir, 'vault'), 2);
      const store = new FsObjectStore({ root: join(dir, 'vault'), fsync: true });
      await store.init();
      const copier = store.localCopier();
      const sizes = [900_000, 900_000, 900_000];
      const outcomes: string[] = [];
      for (const [i, size] of sizes.entries()) {
        const path = join(dir, `f${i}.jpg`);
        await writeFile(path, Buffer.alloc(size, i + 1));
        outcomes.push(await copier.stage(path, { expectedSize: size }).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
      }
      copier.close();
      expect(outcomes).toEqual(['ok', 'ok', 'VAULT_FULL']);
      // The two staged copies are still open temp files; the failed one left nothing.
      expect(await readdir(join(dir, 'vault', '.tmp'))).toHaveLength(2);
    } finally {
      await lab.close();
    }
  });

  it('hands a file larger than its buffer back to the caller, and never waits at close for a read that does not return', async () => {
    const { store, src, tmpFiles } = await setup(false);
    const copier = store.localCopier();
    await expect(copier.stage(join(src, 'big.mp4'), { expectedSize: COPY_THREAD_MAX_BYTES + 1 })).rejects.toThrow(RangeError);
    // A FIFO with no writer: opening it blocks the thread, as a hung recorder's read would.
    const fifo = join(src, 'hung.jpg');
    execFileSync('mkfifo', [fifo]);
    const stuck = copier.stage(fifo, { expectedSize: 10, readError: asSource });
    await new Promise((r) => setTimeout(r, 200));
    copier.close();
    await expect(stuck).rejects.toMatchObject({ code: 'VAULT_WRITE_FAILED', message: expect.stringMatching(/copy thread was closed/) });
    // Let the blocked open return, so the ended thread can go.
    const w = await open(fifo, 'w');
    await w.close();
    expect(await tmpFiles()).toEqual([]);
    // A new copier works as before.
    await writeFile(join(src, 'b.jpg'), 'bytes');
    const next = store.localCopier();
    const { staged } = await next.stage(join(src, 'b.jpg'), { expectedSize: 5 });
    next.close();
    expect(staged.sha256).toBe(sha256Hex(Buffer.from('bytes')));
  });
});
