import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from './fs-store.js';
import { contentKey, type ByteRange } from './store.js';
import { SourceFileError, sha256Hex } from '../core/index.js';

/** A disk that returns other bytes than were written (a failing controller, say). */
class LyingDisk extends FsObjectStore {
  override async get(key: string, range?: ByteRange): Promise<Readable> {
    const real = await super.get(key, range);
    const out = new PassThrough();
    let first = true;
    real.on('data', (c: Buffer) => {
      if (first) {
        first = false;
        const bad = Buffer.from(c);
        bad[0] = bad[0]! ^ 0xff;
        out.write(bad);
      } else out.write(c);
    });
    real.on('end', () => out.end());
    return out;
  }
}

describe('FsObjectStore full read-back', () => {
  it('takes a copy that does not read back as written down again, so it never stands under the content name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new LyingDisk({ root, fsync: false, readBack: 'full' });
    await store.init();
    const data = Buffer.from('footage bytes');
    await expect(store.putContent(Readable.from([data]))).rejects.toMatchObject({ code: 'VAULT_OBJECT_CORRUPT' });
    await expect(stat(store.filePath(contentKey(sha256Hex(data))))).rejects.toThrow(/ENOENT/);
    expect(await store.stat(contentKey(sha256Hex(data)))).toBeNull();
    // An honest disk then stores it normally.
    const honest = new FsObjectStore({ root, fsync: false, readBack: 'full' });
    expect(await honest.putContent(Readable.from([data]))).toMatchObject({ created: true, sha256: sha256Hex(data) });
  });
});

describe('FsObjectStore temp sweep (issue 21)', () => {
  /** `<pid>-<start>` of a process, as the store names its temp files. */
  async function ownerOf(pid: number): Promise<string> {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return `${pid}-${text.slice(text.lastIndexOf(')') + 2).split(' ')[19]}`;
  }

  it('removes the copies of processes that are gone (also a reused pid) and keeps live writers\' and its own', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: false });
    await store.init();
    const tmp = join(root, '.tmp');
    // A writer that has exited: its pid is free (or someone else's now).
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadTag = await ownerOf(dead.pid!);
    await new Promise((r) => dead.once('exit', r));
    // A writer that still runs (the daemon while `custody ingest` starts, say).
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      const liveTag = await ownerOf(live.pid!);
      const [livePid, liveStart] = liveTag.split('-') as [string, string];
      const files: Record<string, number> = {
        [`${deadTag}.0b6d2c1e-1111-4a4a-8888-000000000001.part`]: 400_000,
        // The live process's pid with another start time: an earlier process that had the pid.
        [`${livePid}-${Number(liveStart) - 1}.0b6d2c1e-1111-4a4a-8888-000000000002.part`]: 300_000,
        [`${liveTag}.0b6d2c1e-1111-4a4a-8888-000000000003.part`]: 10,
        [`${await ownerOf(process.pid)}.0b6d2c1e-1111-4a4a-8888-000000000004.part`]: 10,
        // The naming of before: kept while young (its writer may still run), removed when old.
        ['0b6d2c1e-1111-4a4a-8888-000000000005.part']: 10,
        ['0b6d2c1e-1111-4a4a-8888-000000000006.part']: 20,
      };
      for (const [name, size] of Object.entries(files)) await writeFile(join(tmp, name), Buffer.alloc(size));
      const old = new Date(Date.now() - 7 * 3600_000);
      await utimes(join(tmp, '0b6d2c1e-1111-4a4a-8888-000000000006.part'), old, old);

      expect(await store.sweepTemps()).toEqual({ files: 3, bytes: 700_020 });
      expect((await readdir(tmp)).sort()).toEqual(
        [`${liveTag}.0b6d2c1e-1111-4a4a-8888-000000000003.part`, `${await ownerOf(process.pid)}.0b6d2c1e-1111-4a4a-8888-000000000004.part`, '0b6d2c1e-1111-4a4a-8888-000000000005.part'].sort(),
      );
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('names its own temp files by this process, so a later start knows whose they are', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: false });
    await store.init();
    // A put whose source fails midway leaves nothing; catch the temp name while it is written.
    const source = new PassThrough();
    const put = store.putContent(source);
    source.write(Buffer.alloc(64 * 1024, 7));
    let names: string[] = [];
    for (let i = 0; i < 200 && names.length === 0; i++) {
      names = await readdir(join(root, '.tmp'));
      if (names.length === 0) await new Promise((r) => setImmediate(r));
    }
    expect(names).toHaveLength(1);
    expect(names[0]!.startsWith(`${await ownerOf(process.pid)}.`)).toBe(true);
    source.end();
    await put;
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });
});

describe('FsObjectStore reading an open file (one pass, two buffers)', () => {
  it('an error reading the next chunk while one is written fails that put with the caller\'s error, not the process', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: true });
    await store.init();
    const file = join(mkdtempSync(join(tmpdir(), 'custody-src-')), 'A.MP4');
    await writeFile(file, Buffer.alloc(3 * 64 * 1024, 7));
    const real = await open(file, 'r');
    let reads = 0;
    // The recorder's card fails at the second chunk, at once: while the first is still being written and synced.
    const handle = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'read') {
          return (...args: Parameters<FileHandle['read']>) => {
            reads++;
            if (reads === 2) return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
            return target.read(...args);
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const mine = (e: unknown) => new SourceFileError('SOURCE_IO_ERROR', `recorder: ${(e as Error).message}`);
      await expect(store.putContent({ handle, readError: mine }, { bufferBytes: 64 * 1024 })).rejects.toMatchObject({ code: 'SOURCE_IO_ERROR' });
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
      // Nothing of it stands in the vault.
      expect(await readdir(root, { recursive: true })).not.toContainEqual(expect.stringMatching(/^objects\/.+[0-9a-f]{64}$/));
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await real.close();
    }
  });
});

const mkdirp = (p: string) => mkdir(p, { recursive: true });
const rmrf = (p: string) => rm(p, { recursive: true, force: true });

describe('FsObjectStore publishing a group (names thread)', () => {
  const put = (store: FsObjectStore, data: Buffer) => store.stage(Readable.from([data]));

  it('links a group in order: the second put of one content finds the first, and no temp name is left', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: true });
    await store.init();
    const a = Buffer.from('clip a');
    const b = Buffer.from('clip b');
    const staged = [await put(store, a), await put(store, b), await put(store, a)];
    const out = await store.publishStaged(staged);
    expect(out.map((o) => (o.ok ? o.put.created : o.error))).toEqual([true, true, false]);
    expect(await readFile(store.filePath(contentKey(sha256Hex(a))))).toEqual(a);
    expect(await readFile(store.filePath(contentKey(sha256Hex(b))))).toEqual(b);
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });

  it('fails only the item whose folder cannot be made, with the path in its error; the rest of the group is stored', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: true });
    await store.init();
    const good = Buffer.from('good clip');
    // Find content whose first folder differs from the good one's, and put a file where that folder goes.
    let bad = Buffer.from('bad clip 0');
    for (let i = 1; sha256Hex(bad).slice(0, 2) === sha256Hex(good).slice(0, 2); i++) bad = Buffer.from(`bad clip ${i}`);
    const blocked = join(root, 'objects', 'sha256', sha256Hex(bad).slice(0, 2));
    await mkdirp(join(root, 'objects', 'sha256'));
    await writeFile(blocked, 'not a folder');
    const out = await store.publishStaged([await put(store, bad), await put(store, good)]);
    expect(out[0]).toMatchObject({ ok: false, error: { code: 'VAULT_WRITE_FAILED' } });
    expect(String((out[0] as { error: Error }).error.message)).toContain(sha256Hex(bad).slice(0, 2));
    expect(out[1]).toMatchObject({ ok: true, put: { created: true, sha256: sha256Hex(good) } });
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });

  it('makes a remembered folder again when it was removed behind its back', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: true });
    await store.init();
    const data = Buffer.from('footage that comes back');
    const key = contentKey(sha256Hex(data));
    expect((await store.publishStaged([await put(store, data)]))[0]).toMatchObject({ ok: true, put: { created: true } });
    // Someone removes the object and its folders (the names thread remembers the folder).
    await rmrf(join(root, 'objects', 'sha256', sha256Hex(data).slice(0, 2)));
    expect((await store.publishStaged([await put(store, data)]))[0]).toMatchObject({ ok: true, put: { created: true } });
    expect(await readFile(store.filePath(key))).toEqual(data);
  });
});

describe('FsObjectStore listing', () => {
  it('fails the listing, naming the entry, when an entry cannot be looked at, rather than leave it out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'custody-fs-'));
    const store = new FsObjectStore({ root, fsync: false });
    await store.init();
    const put = await store.putContent(Readable.from([Buffer.from('footage bytes')]));
    const all = async (): Promise<string[]> => {
      const keys: string[] = [];
      for await (const o of store.list('objects/')) keys.push(o.key);
      return keys;
    };
    expect(await all()).toEqual([put.key]);
    // A link that loops cannot be stat-ed (ELOOP), whoever runs the listing (root too).
    const loop = join(store.filePath(put.key), '..', 'loop');
    await symlink('loop', loop);
    await expect(all()).rejects.toThrow(/ELOOP.*loop/);
    await rm(loop);
    expect(await all()).toEqual([put.key]);
  });
});
