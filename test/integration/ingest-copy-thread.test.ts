/**
 * Small files are copied by the vault's copy thread, by their path (issue 18). A
 * recorder's faults reach the session as they do when the vault reads an open file: a
 * file touched while it is read is not recorded (SOURCE_CHANGED, from the thread's stat
 * after the read), a read error is the recorder's (SOURCE_IO_ERROR, not the vault's), and
 * the other files are ingested whole.
 *
 * The recorder is the lab's pass-through FUSE mount (so root): it holds the first file's
 * read at a gate while the test touches the file, and fails the second file's read.
 *
 * The service holds at most `concurrency` copy threads at once (about 10 MiB each);
 * recorders docked beyond them copy their small files through Node's I/O pool.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import type { IngestService } from '../../src/ingest/index.js';
import { contentKey } from '../../src/vault/index.js';
import { waitFor } from '../helpers/cli.js';
import { aroundStaging, rig, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { Lab } from '../lab/lab.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('small files through the vault copy thread', () => {
  it("keeps the recorder's faults the recorder's: changed while read, read error, and the rest ingested", async () => {
    const dir = await tempDir();
    const lab = new Lab(join(dir, 'lab'));
    const r = await rig(dir);
    try {
      const card = join(dir, 'card');
      const files = await writeTree(card, { 'DCIM/a.jpg': 70_000, 'DCIM/b.jpg': 70_000, 'DCIM/c.jpg': 70_000 });
      const mnt = join(dir, 'mnt');
      const events = join(dir, 'events');
      const release = join(dir, 'release');
      await mkdir(mnt);
      await lab.throttle(card, mnt, { gate: [{ glob: 'DCIM/a.jpg', offset: 0, until: release }], eio: [{ path: 'DCIM/b.jpg', offset: 0 }], events });
      // Every copy of this session goes through the copy thread.
      const viaThread: string[] = [];
      const store = aroundStaging(r.store, (copy, copierPath) => {
        viaThread.push(copierPath ?? 'not through the copy thread');
        return copy();
      });
      const done = r
        .service({ store, concurrency: 1, settings: { perRecorder: 1 } })
        .ingest(new FolderDriver({ root: mnt, identity: { serial: 'S9' } }), { actor: 't' });

      await waitFor('the read of a.jpg to wait at its gate', async () => (await readFile(events, 'utf8').catch(() => '')).includes('gate DCIM/a.jpg'));
      // The recorder touches the file while custody reads it; the mount's attributes are
      // cached by the kernel for a second, so the stat after the read waits past that.
      const now = new Date();
      await utimes(join(card, 'DCIM/a.jpg'), now, now);
      await new Promise((res) => setTimeout(res, 1_500));
      await writeFile(release, '');
      const rep = await done;

      expect(viaThread).toEqual(['DCIM/a.jpg', 'DCIM/b.jpg', 'DCIM/c.jpg'].map((p) => join(mnt, p)));
      expect(rep.errors).toEqual([
        expect.objectContaining({ path: 'DCIM/a.jpg', code: 'SOURCE_CHANGED' }),
        expect.objectContaining({ path: 'DCIM/b.jpg', code: 'SOURCE_IO_ERROR' }),
      ]);
      expect(rep).toMatchObject({ ingested: 1, failed: 2 });
      expect(rep.items.map((i) => i.path)).toEqual(['DCIM/c.jpg']);
      expect(await readFile(r.store.filePath(contentKey(sha(files['DCIM/c.jpg']!))))).toEqual(files['DCIM/c.jpg']);
      expect([...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.ingested').map((e) => e.data.sourcePath)).toEqual(['DCIM/c.jpg']);
      // Nothing of the two failed copies is left in the vault.
      expect(await readdir(join(dir, 'home', 'vault', '.tmp'))).toEqual([]);
    } finally {
      r.close();
      await lab.close();
    }
  }, 60_000);

  it('holds at most ingest.concurrency copy threads at once: the other recorders copy their small files through the I/O pool, and a thread is given back once it has ended', async () => {
    const dir = await tempDir();
    const r = await rig(dir);
    try {
      const recorders = 4;
      const cards: Array<Record<string, Buffer>> = [];
      for (let k = 0; k < recorders; k++) cards.push(await writeTree(join(dir, `card${k}`), { 'DCIM/a.jpg': 5_000, 'DCIM/b.jpg': 6_000, 'DCIM/c.jpg': 7_000 }));
      // Every recorder's first copy waits until each of the four has one in flight, so
      // the four sessions are docked and copying at once.
      let started = 0;
      let allIn!: () => void;
      const barrier = new Promise<void>((res) => (allIn = res));
      const firstCopies: string[] = [];
      let service: IngestService | null = null;
      let mostHeld = 0;
      const store = aroundStaging(r.store, async (copy, copierPath) => {
        mostHeld = Math.max(mostHeld, service!.copyThreadsInUse);
        if (started < recorders) {
          firstCopies.push(copierPath === undefined ? 'pool' : 'thread');
          if (++started === recorders) allIn();
          await barrier;
        }
        return copy();
      });
      service = r.service({ store, concurrency: 2, settings: { perRecorder: 1 } });
      const reports = await Promise.all(
        cards.map((_, k) => service!.ingest(new FolderDriver({ root: join(dir, `card${k}`), identity: { serial: `R${k}` } }), { actor: 't' })),
      );

      // Two of the four first copies went to a copy thread, two through the pool.
      expect(firstCopies.sort()).toEqual(['pool', 'pool', 'thread', 'thread']);
      expect(mostHeld).toBeLessThanOrEqual(2);
      // Either way, every file is in the vault whole.
      expect(reports.map((x) => [x.status, x.ingested, x.failed])).toEqual(cards.map(() => ['complete', 3, 0]));
      for (const card of cards) {
        for (const bytes of Object.values(card)) expect(await readFile(r.store.filePath(contentKey(sha(bytes))))).toEqual(bytes);
      }
      // Each thread's place is given back once the thread has ended.
      await waitFor('every copy thread to have ended', async () => service!.copyThreadsInUse === 0);
    } finally {
      r.close();
    }
  }, 60_000);
});
