/**
 * Issue 3 (safety): a real full disk. The vault sits on a 2 MiB tmpfs; the second of
 * three 1.2 MiB files hits ENOSPC. The session pauses with VAULT_FULL, the partial
 * temp file is removed, only the file safely stored is recorded and wiped.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { silentLogger } from '../../src/core/logger.js';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import { IngestService } from '../../src/ingest/index.js';
import { FsObjectStore } from '../../src/vault/index.js';
import { settings, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const mounted: string[] = [];
afterEach(() => {
  while (mounted.length) execFileSync('umount', [mounted.pop()!]);
});

describe('a full vault disk', () => {
  it('pauses the session with VAULT_FULL and loses or wipes nothing', async () => {
    const dir = await tempDir();
    const vault = join(dir, 'vault');
    await mkdir(vault);
    // Needs root (CI and the workstation service run as root here): a real ENOSPC.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', vault]);
    mounted.push(vault);
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'a.mp4': 1_200_000, 'b.mp4': 1_200_000, 'c.mp4': 1_200_000 });
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    const store = new FsObjectStore({ root: vault });
    await store.init();
    const service = new IngestService({
      catalog,
      store,
      log: silentLogger,
      concurrency: 1,
      settings: { ...settings, perRecorder: 1, wipeAfterIngest: true },
    });
    const rep = await service.ingest(new FolderDriver({ root: rec, identity: { serial: 'F1' } }), { actor: 't' });
    expect(rep.status).toBe("paused");
    expect(rep.error).toMatchObject({ code: 'VAULT_FULL', path: 'b.mp4' });
    expect(rep.error!.message).toMatch(/vault disk is full/);
    expect(rep.items.map((i) => i.path)).toEqual(['a.mp4']);
    expect(await readdir(join(vault, '.tmp'))).toEqual([]);
    expect((await readdir(rec)).sort()).toEqual(['b.mp4', 'c.mp4']);
    expect([...catalog.ledger.entries()].filter((e) => e.type === 'evidence.ingested')).toHaveLength(1);
    catalog.close();
  });
});
