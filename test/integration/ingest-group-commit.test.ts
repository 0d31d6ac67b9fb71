import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import type { IngestedItem } from '../../src/ingest/index.js';
import { FsObjectStore, type ObjectStore, type PublishOutcome, type StagedPut } from '../../src/vault/index.js';
import { rig, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Issue 18: ingest commits finished files in groups (one sync of the group's objects
 * and folders, one transaction for their rows and ledger entries). The rule it must
 * keep: nothing is wiped from the recorder, reported or announced before its group
 * committed.
 */
describe('ingest group commit (issue 18)', () => {
  const names = Array.from({ length: 12 }, (_, i) => `DCIM/100MEDIA/CLIP${String(i).padStart(4, '0')}.MP4`);

  async function setUp(): Promise<{ dir: string; rec: string; r: Awaited<ReturnType<typeof rig>>; store: FsObjectStore }> {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, Object.fromEntries(names.map((n, i) => [n, 20_000 + i])));
    const r = await rig(dir);
    // As production opens the vault: fsync on.
    const store = new FsObjectStore({ root: join(dir, 'home', 'vault'), fsync: true });
    await store.init();
    return { dir, rec, r, store };
  }

  const onRecorder = async (rec: string): Promise<string[]> => (await readdir(join(rec, 'DCIM', '100MEDIA'))).sort();
  const rows = (r: Awaited<ReturnType<typeof rig>>): number => (r.catalog.db.prepare('SELECT count(*) AS n FROM evidence').get() as { n: number }).n;
  const entries = (r: Awaited<ReturnType<typeof rig>>, type: string): number =>
    (r.catalog.db.prepare('SELECT count(*) AS n FROM ledger WHERE type = ?').get(type) as { n: number }).n;

  it('groups small files: fewer commits than files, every file recorded, wiped only after its row and entry', async () => {
    const { rec, r, store } = await setUp();
    let groups = 0;
    const counting: ObjectStore = Object.create(store, {
      publishStaged: {
        value: async (staged: StagedPut[]) => {
          groups++;
          return store.publishStaged(staged);
        },
      },
    });
    const service = r.service({ store: counting, settings: { wipeAfterIngest: true, perRecorder: 4 } });
    const { session, done } = service.start(new FolderDriver({ root: rec, identity: { serial: 'G1' } }), { actor: 't' });
    const announced: IngestedItem[] = [];
    session.on('file', (item: IngestedItem) => {
      // Announced only once committed: its row and ledger entry are there.
      expect(r.catalog.db.prepare('SELECT id FROM evidence WHERE id = ?').get(item.evidenceId)).toBeTruthy();
      expect(r.catalog.db.prepare("SELECT seq FROM ledger WHERE type = 'evidence.ingested' AND subject = ?").get(item.evidenceId)).toBeTruthy();
      announced.push(item);
    });
    const report = await done;
    expect(report.status).toBe('complete');
    expect(report.ingested).toBe(names.length);
    expect(announced).toHaveLength(names.length);
    expect(rows(r)).toBe(names.length);
    expect(entries(r, 'evidence.ingested')).toBe(names.length);
    expect(entries(r, 'evidence.wiped')).toBe(names.length);
    expect(await onRecorder(rec)).toEqual([]);
    // Four workers hand files in faster than a group syncs: some groups hold several.
    expect(groups).toBeLessThan(names.length);
    expect(await readdir(join(store.location, '.tmp'))).toEqual([]);
    r.close();
  });

  it('a group whose sync fails (a crash before it commits): nothing of it recorded, reported or wiped; the next dock takes it all', async () => {
    const { rec, r, store } = await setUp();
    let failed = 0;
    // The second group's sync fails as a power cut would end it: after its bytes were
    // written and before anything of it was committed.
    let calls = 0;
    const crashing: ObjectStore = Object.create(store, {
      publishStaged: {
        value: async (staged: StagedPut[]): Promise<PublishOutcome[]> => {
          if (++calls === 2) {
            failed = staged.length;
            for (const s of staged) await store.discardStaged(s);
            return staged.map(() => ({ ok: false, error: Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) }));
          }
          return store.publishStaged(staged);
        },
      },
    });
    const first = await r
      .service({ store: crashing, settings: { wipeAfterIngest: true, perRecorder: 4 } })
      .ingest(new FolderDriver({ root: rec, identity: { serial: 'G2' } }), { actor: 't' });
    expect(failed).toBeGreaterThan(0);
    expect(first.failed).toBe(failed);
    expect(first.ingested).toBe(names.length - failed);
    // Exactly the committed files are reported, recorded and wiped; the failed group's stay.
    expect(rows(r)).toBe(first.ingested);
    expect(first.items.every((i) => i.wiped)).toBe(true);
    const left = await onRecorder(rec);
    expect(left).toHaveLength(failed);
    const reported = new Set(first.items.map((i) => i.path));
    for (const name of left) expect(reported.has(`DCIM/100MEDIA/${name}`)).toBe(false);
    expect(entries(r, 'evidence.wipe-intended')).toBe(first.ingested);

    const second = await r
      .service({ store, settings: { wipeAfterIngest: true, perRecorder: 4 } })
      .ingest(new FolderDriver({ root: rec, identity: { serial: 'G2' } }), { actor: 't' });
    expect(second.status).toBe('complete');
    expect(second.ingested).toBe(failed);
    expect(rows(r)).toBe(names.length);
    expect(await onRecorder(rec)).toEqual([]);
    r.close();
  });

  it('a group whose transaction fails: every file of the group stays unrecorded, unreported and on the recorder', async () => {
    const { rec, r, store } = await setUp();
    // One file the catalog refuses (a real SQLite error inside the group's transaction).
    r.catalog.db.exec(
      `CREATE TEMP TRIGGER refuse_one BEFORE INSERT ON evidence WHEN NEW.source_path = '${names[5]}'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
    const report = await r
      .service({ store, settings: { wipeAfterIngest: true, perRecorder: 4 } })
      .ingest(new FolderDriver({ root: rec, identity: { serial: 'G3' } }), { actor: 't' });
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(report.ingested + report.failed).toBe(names.length);
    expect(rows(r)).toBe(report.ingested);
    expect(entries(r, 'evidence.ingested')).toBe(report.ingested);
    // Every file not committed is still on the recorder and not in the report.
    const left = new Set((await onRecorder(rec)).map((n) => `DCIM/100MEDIA/${n}`));
    expect(left.size).toBe(report.failed);
    expect(left.has(names[5]!)).toBe(true);
    for (const item of report.items) expect(left.has(item.path)).toBe(false);
    expect(report.errors.map((e) => e.path).sort()).toEqual([...left].sort());

    r.catalog.db.exec('DROP TRIGGER refuse_one');
    const again = await r
      .service({ store, settings: { wipeAfterIngest: true, perRecorder: 4 } })
      .ingest(new FolderDriver({ root: rec, identity: { serial: 'G3' } }), { actor: 't' });
    expect(again.ingested).toBe(left.size);
    expect(rows(r)).toBe(names.length);
    expect(await onRecorder(rec)).toEqual([]);
    r.close();
  });
});
