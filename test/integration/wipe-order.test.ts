/**
 * Issue 17 (wipe order), in process: `evidence.wipe-intended` is committed before a file
 * is deleted from the recorder, and the next session settles an intent left open — the
 * file gone is recorded as wiped (`resumed`), the file still there is wiped under the
 * same intent, and a recorder that is not present settles nothing. (The same with a real
 * process killed between the unlink and its commit: test/e2e/wipe-order.test.ts.)
 */
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import { rig, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** A recorder whose deletion of `path` stops the session's wipe: before or after the file goes. */
class StoppingDriver extends FolderDriver {
  constructor(
    private readonly dir: string,
    private readonly at: { path: string; deleted: boolean } | null,
    private readonly gone = false,
  ) {
    super({ root: dir, identity: { serial: 'W1' } });
  }
  override async delete(path: string): Promise<void> {
    if (this.at?.path === path) {
      if (this.at.deleted) await unlink(join(this.dir, path));
      throw new Error('power cut');
    }
    return super.delete(path);
  }
  override async present(): Promise<boolean> {
    return this.gone ? false : super.present();
  }
}

function wipeEntries(r: Awaited<ReturnType<typeof rig>>): Array<{ type: string; subject: string | null; resumed: unknown }> {
  return [...r.catalog.ledger.entries()].filter((e) => e.type.startsWith('evidence.wipe')).map((e) => ({ type: e.type, subject: e.subject, resumed: e.data.resumed }));
}

describe('the wipe order (issue 17)', () => {
  it('commits the intent before the deletion; a deletion whose commit was lost is recorded by the next session', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'a.mp4': 2000, 'b.mp4': 3000 });
    const r = await rig(dir);
    const wipe = { settings: { wipeAfterIngest: true } };
    const first = await r.service(wipe).ingest(new StoppingDriver(rec, { path: 'b.mp4', deleted: true }), { actor: 't' });
    const a = first.items.find((i) => i.path === 'a.mp4')!;
    const b = first.items.find((i) => i.path === 'b.mp4')!;
    expect([a.wiped, b.wiped]).toEqual([true, false]);
    await expect(stat(join(rec, 'b.mp4'))).rejects.toThrow(/ENOENT/);
    // b is gone and its wipe is not recorded: only its intent says so.
    expect(wipeEntries(r).filter((e) => e.subject === b.evidenceId).map((e) => e.type)).toEqual(['evidence.wipe-intended']);

    // A pulled recorder (its folder no longer the recorder) proves nothing: the intent stays open.
    await r.service(wipe).ingest(new StoppingDriver(rec, null, true), { actor: 't' });
    expect(wipeEntries(r).filter((e) => e.subject === b.evidenceId)).toHaveLength(1);

    await r.service(wipe).ingest(new StoppingDriver(rec, null), { actor: 't' });
    expect(wipeEntries(r).filter((e) => e.subject === b.evidenceId)).toEqual([
      { type: 'evidence.wipe-intended', subject: b.evidenceId, resumed: undefined },
      { type: 'evidence.wiped', subject: b.evidenceId, resumed: true },
    ]);
    expect(wipeEntries(r).filter((e) => e.subject === a.evidenceId).map((e) => e.type)).toEqual(['evidence.wipe-intended', 'evidence.wiped']);
    expect(r.catalog.db.prepare('SELECT count(*) AS n FROM evidence WHERE wiped_at IS NULL').get()).toEqual({ n: 0 });
    r.close();
  });

  it('a file still there under an open intent is wiped under that intent when asked, and left when not', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'c.mp4': 2500 });
    const r = await rig(dir);
    const first = await r.service({ settings: { wipeAfterIngest: true } }).ingest(new StoppingDriver(rec, { path: 'c.mp4', deleted: false }), { actor: 't' });
    const c = first.items[0]!;
    expect(c.wiped).toBe(false);
    await stat(join(rec, 'c.mp4'));

    // Not asked to wipe: the file stays and so does the intent.
    await r.service().ingest(new StoppingDriver(rec, null), { actor: 't' });
    await stat(join(rec, 'c.mp4'));
    expect(wipeEntries(r).map((e) => e.type)).toEqual(['evidence.wipe-intended']);

    await r.service({ settings: { wipeAfterIngest: true } }).ingest(new StoppingDriver(rec, null), { actor: 't' });
    await expect(stat(join(rec, 'c.mp4'))).rejects.toThrow(/ENOENT/);
    expect(wipeEntries(r)).toEqual([
      { type: 'evidence.wipe-intended', subject: c.evidenceId, resumed: undefined },
      { type: 'evidence.wiped', subject: c.evidenceId, resumed: undefined },
    ]);
    r.close();
  });
});
