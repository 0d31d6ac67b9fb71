/**
 * A recorder ingested into a vault with directWrites (O_DIRECT for large files): the
 * clips and the photo are published whole, recorded, and a deep verify reads back what
 * the recorder held.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/index.js';
import { silentLogger } from '../../src/core/index.js';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import { IngestService } from '../../src/ingest/index.js';
import { verifyVault } from '../../src/ledger/index.js';
import { contentKey, FsObjectStore } from '../../src/vault/index.js';
import { settings, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('ingest into a vault that writes large files with O_DIRECT', () => {
  it('publishes, records and verifies every file of a recorder, byte for byte', async () => {
    const dir = await tempDir();
    const files = await writeTree(join(dir, 'card'), {
      'DCIM/100MEDIA/A0001.MP4': 3 * 1024 * 1024 + 5,
      'DCIM/100MEDIA/A0002.MP4': 2 * 1024 * 1024,
      'PHOTO/P0001.JPG': 100_000,
    });
    const catalog = Catalog.open(join(dir, 'home', 'catalog.db'));
    try {
      const store = new FsObjectStore({ root: join(dir, 'home', 'vault'), directWrites: true });
      await store.init();
      const service = new IngestService({ catalog, store, log: silentLogger, concurrency: 2, settings });
      const rep = await service.ingest(new FolderDriver({ root: join(dir, 'card'), identity: { serial: 'D1' } }), { actor: 't' });

      expect(rep).toMatchObject({ status: 'complete', ingested: 3, failed: 0 });
      for (const [path, bytes] of Object.entries(files)) {
        const item = rep.items.find((i) => i.path === path);
        expect(item?.sha256).toBe(sha(bytes));
        expect((await readFile(store.filePath(contentKey(sha(bytes))))).equals(bytes)).toBe(true);
      }
      const verified = await verifyVault({ catalog, store, deep: true });
      expect(verified).toMatchObject({ ok: true, objects: 3 });
    } finally {
      catalog.close();
    }
  });
});
