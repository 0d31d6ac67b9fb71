/**
 * Large files written with O_DIRECT (vault.fs.directWrites): the bytes published are the
 * source's whatever its size against the block (a tail, an exact multiple, a buffer size
 * that is not one), the temp file really is open with O_DIRECT, a source that changes
 * size is refused as without it, and small files keep the page cache.
 */
import { mkdtempSync } from 'node:fs';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../core/index.js';
import { DIRECT_MIN_BYTES, FsObjectStore } from './fs-store.js';
import { contentKey, type StagedPut } from './store.js';

const O_DIRECT = 0o40000;

/** Whether a descriptor of this process was opened with O_DIRECT (its flags in /proc). */
async function isDirect(fd: number): Promise<boolean> {
  const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
  const flags = /^flags:\s+([0-7]+)$/m.exec(info);
  expect(flags).not.toBeNull();
  return (parseInt(flags![1]!, 8) & O_DIRECT) !== 0;
}

/** The staged temp file's descriptor (the store keeps it open for the group commit's sync). */
function stagedFd(s: StagedPut): number {
  const fh = (s as unknown as { fh: { fd: number } | null }).fh;
  expect(fh).not.toBeNull();
  return fh!.fd;
}

async function store(): Promise<{ root: string; store: FsObjectStore; src: string }> {
  const root = mkdtempSync(join(tmpdir(), 'custody-direct-'));
  const s = new FsObjectStore({ root: join(root, 'vault'), directWrites: true });
  await s.init();
  return { root, store: s, src: join(root, 'src') };
}

describe('FsObjectStore with directWrites', () => {
  it.each([
    ['a tail past the last whole block', 3 * 1024 * 1024 + 123, 1024 * 1024],
    ['an exact multiple of the buffer', 2 * 1024 * 1024, 1024 * 1024],
    ['one byte past the smallest direct size', DIRECT_MIN_BYTES + 1, 1024 * 1024],
    ['a buffer size that is not a multiple of the block', 5 * 1024 * 1024 + 7, 100 * 1000],
  ])('publishes the source byte for byte: %s', async (_what, size, bufferBytes) => {
    const { store: s, src } = await store();
    const data = randomBytes(size);
    await writeFile(src, data);
    const handle = await open(src, 'r');
    try {
      const staged = await s.stage({ handle }, { expectedSize: size, bufferBytes });
      expect(await isDirect(stagedFd(staged))).toBe(true);
      const [out] = await s.publishStaged([staged]);
      expect(out).toMatchObject({ ok: true, put: { sha256: sha256Hex(data), size, created: true } });
      expect((await readFile(s.filePath(contentKey(sha256Hex(data))))).equals(data)).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it('refuses a source shorter than expected, as without it, and leaves no temp file', async () => {
    const { root, store: s, src } = await store();
    await writeFile(src, randomBytes(2 * 1024 * 1024 + 5));
    const handle = await open(src, 'r');
    try {
      await expect(s.stage({ handle }, { expectedSize: 3 * 1024 * 1024 })).rejects.toMatchObject({ code: 'VAULT_OBJECT_CORRUPT' });
    } finally {
      await handle.close();
    }
    expect(await readdir(join(root, 'vault', '.tmp'))).toEqual([]);
  });

  it('writes a file below the direct size through the page cache', async () => {
    const { store: s, src } = await store();
    const data = randomBytes(DIRECT_MIN_BYTES - 1);
    await writeFile(src, data);
    const handle = await open(src, 'r');
    try {
      const staged = await s.stage({ handle }, { expectedSize: data.length });
      expect(await isDirect(stagedFd(staged))).toBe(false);
      expect(await s.publishStaged([staged])).toEqual([{ ok: true, put: expect.objectContaining({ sha256: sha256Hex(data) }) }]);
    } finally {
      await handle.close();
    }
  });
});

describe('the copy thread with directWrites', () => {
  it.each([
    ['under one block', 5_000],
    ['exactly one block', 4_096],
    ['past a block boundary', 65_536 + 3],
    ["the copy thread's largest file", 1024 * 1024],
  ])('writes a small file with O_DIRECT, cut to its size: %s', async (_what, size) => {
    const { store: s, src } = await store();
    const data = randomBytes(size);
    await writeFile(src, data);
    const copier = s.localCopier();
    try {
      const { staged } = await copier.stage(src, { expectedSize: size });
      const fd = (staged as unknown as { fd: number | null }).fd;
      expect(fd).not.toBeNull();
      expect(await isDirect(fd!)).toBe(true);
      const [out] = await s.publishStaged([staged]);
      expect(out).toMatchObject({ ok: true, put: { sha256: sha256Hex(data), size, created: true } });
      expect((await readFile(s.filePath(contentKey(sha256Hex(data))))).equals(data)).toBe(true);
    } finally {
      await copier.close();
    }
  });
});
