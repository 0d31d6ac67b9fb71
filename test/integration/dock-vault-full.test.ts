/**
 * The vault's disk full mid-ingest under the dock manager: the session pauses with
 * VAULT_FULL, the dock stays docked and says so (GET /docks reads `paused`), nothing
 * unstored is wiped; when the disk has room again the dock resumes by itself and
 * finishes: every file once in the vault and the catalog.
 *
 * The vault is a real tmpfs of a few MiB (the recorder lab's, so root), grown while
 * the dock waits.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import type { ActivityEvent } from '../../src/core/activity.js';
import { FsObjectStore } from '../../src/vault/index.js';
import { Lab } from '../lab/lab.js';
import { pausingDock } from '../helpers/dock-pause.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('the vault disk full under the dock manager', () => {
  it('pauses the dock with VAULT_FULL, says so, and resumes by itself once the disk has room: each file once, nothing unstored wiped', async () => {
    const dir = await tempDir();
    const lab = new Lab(join(dir, 'lab'));
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    let d: Awaited<ReturnType<typeof pausingDock>> | null = null;
    try {
      await mkdir(join(dir, 'vault'));
      const disk = await lab.tmpfs(join(dir, 'vault'), 3);
      const store = new FsObjectStore({ root: join(dir, 'vault'), fsync: true });
      await store.init();
      d = await pausingDock({ catalog, store, dir, serial: 'ZFY010', clipBytes: 1_000_000 });
      const { manager, activity, events, files, pausedSeen, rows, onCard } = d;
      const ended = d.dock();

      const p = await pausedSeen;
      expect(p.paused).toMatchObject({ code: 'VAULT_FULL' });
      expect(activity.docks().map((x) => x.dock.paused?.code)).toEqual(['VAULT_FULL']);
      expect(manager.active()).toHaveLength(1);
      const during = rows();
      expect(during.length).toBeLessThan(4);
      const left = await onCard();
      expect(left.length).toBe(4 - during.length);
      for (const f of left) expect(during.find((r) => r.source_path === f)).toBeUndefined();
      // Still full a retry later: the dock stays paused (the first check is after 2 s).
      await new Promise((r) => setTimeout(r, 2_500));
      expect(activity.docks().map((x) => x.dock.paused?.code)).toEqual(['VAULT_FULL']);
      expect(rows()).toHaveLength(during.length);

      // Room again: the dock resumes by itself and takes the rest.
      await lab.resize(disk, 32);
      const o = await ended;
      expect(o.report).toMatchObject({ status: 'complete', ingested: 4, failed: 0 });
      expect(await onCard()).toEqual([]);
      const after = rows();
      expect(after.map((r) => [r.source_path, r.sha256])).toEqual(Object.entries(files).map(([f, b]) => [f, sha(b)]).sort());
      expect(after.every((r) => r.wiped_at !== null)).toBe(true);
      const ledger = (type: string): number => catalog.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM ledger WHERE type = ?').get(type)!.n;
      expect(ledger('evidence.ingested')).toBe(4);
      for (const b of Object.values(files)) expect(await store.stat(`objects/sha256/${sha(b).slice(0, 2)}/${sha(b).slice(2, 4)}/${sha(b)}`)).toMatchObject({ size: b.length });
      expect(await readdir(join(dir, 'vault', '.tmp'))).toEqual([]);
      const lastDock = events.filter((e): e is Extract<ActivityEvent, { type: 'dock' }> => e.type === 'dock').pop()!;
      expect(lastDock.dock.paused ?? null).toBeNull();
    } finally {
      await d?.manager.stop(0);
      catalog.close();
      await lab.close();
    }
  }, 60_000);
});
