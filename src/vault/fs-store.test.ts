import { mkdtempSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from './fs-store.js';
import { contentKey, type ByteRange } from './store.js';
import { sha256Hex } from '../core/hash.js';

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
