/**
 * Issue 17 (wipe order), in process: `evidence.wipe-intended` is committed before a file
 * is deleted from the recorder, and the next session settles an intent left open — the
 * file gone is recorded as wiped (`resumed`), the file still there is wiped under the
 * same intent (or, when the station no longer wipes it, the intent is closed as
 * abandoned), a file that changed closes its intent as abandoned, and a recorder that is
 * not present settles nothing. (The same with a real
 * process killed between the unlink and its commit: test/e2e/wipe-order.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import { rig, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** A recorder whose deletion of `path` stops the session's wipe: before or after the file goes. */
class StoppingDriver extends FolderDriver {
  constructor(
    private readonly dir: string,
    private readonly at: { path: string | string[]; deleted: boolean } | null,
    private readonly gone = false,
  ) {
    super({ root: dir, identity: { serial: 'W1' } });
  }
  override async delete(path: string): Promise<void> {
    if (this.at && [this.at.path].flat().includes(path)) {
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

  it('a file still there under an open intent is wiped under that intent when asked; when not, it stays and the intent is closed as abandoned', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'c.mp4': 2500, 'd.mp4': 1500 });
    const r = await rig(dir);
    const wipe = { settings: { wipeAfterIngest: true } };
    const first = await r.service(wipe).ingest(new StoppingDriver(rec, { path: ['c.mp4', 'd.mp4'], deleted: false }), { actor: 't' });
    const id = (p: string): string => r.catalog.db.prepare<[string], { id: string }>('SELECT id FROM evidence WHERE source_path = ?').get(p)!.id;
    const [c, d] = [id('c.mp4'), id('d.mp4')];
    expect(first.status).toBe('complete');
    await stat(join(rec, 'c.mp4'));
    await stat(join(rec, 'd.mp4'));
    // One intent each; the two files' wipes may go in either order (they are wiped as their group commits).
    expect(wipeEntries(r).map((e) => [e.type, e.subject]).sort()).toEqual([['evidence.wipe-intended', c], ['evidence.wipe-intended', d]].sort());

    // Asked to wipe: c is wiped under its intent (no second intent).
    await r.service(wipe).ingest(new StoppingDriver(rec, { path: 'd.mp4', deleted: false }), { actor: 't' });
    await expect(stat(join(rec, 'c.mp4'))).rejects.toThrow(/ENOENT/);
    // Not asked to wipe (the station's setting changed): d stays and its intent is closed, not left open.
    await r.service().ingest(new StoppingDriver(rec, null), { actor: 't' });
    await stat(join(rec, 'd.mp4'));
    const entries = wipeEntries(r).map((e) => [e.type, e.subject]);
    expect(entries.slice(0, 2).sort()).toEqual([['evidence.wipe-intended', c], ['evidence.wipe-intended', d]].sort());
    expect(entries.slice(2)).toEqual([
      ['evidence.wiped', c],
      ['evidence.wipe-abandoned', d],
    ]);
    expect([...r.catalog.ledger.entries()].find((e) => e.type === 'evidence.wipe-abandoned')!.data).toMatchObject({ reason: 'not-wiping', sourcePath: 'd.mp4', seen: { size: 1500 } });
    // Closed: a later session that does not wipe adds nothing; one that wipes starts afresh with a new intent.
    await r.service().ingest(new StoppingDriver(rec, null), { actor: 't' });
    expect(wipeEntries(r)).toHaveLength(4);
    await r.service(wipe).ingest(new StoppingDriver(rec, null), { actor: 't' });
    await expect(stat(join(rec, 'd.mp4'))).rejects.toThrow(/ENOENT/);
    expect(wipeEntries(r).slice(4).map((e) => [e.type, e.subject])).toEqual([['evidence.wipe-intended', d], ['evidence.wiped', d]]);
    expect(r.catalog.db.prepare('SELECT count(*) AS n FROM evidence WHERE wiped_at IS NULL').get()).toEqual({ n: 0 });
    r.close();
  });

  it('an open intent whose file changed is closed as abandoned, never recorded as a wipe; the file there is new footage (issue 17)', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'e.mp4': 2000, 'f.mp4': 2000 });
    const r = await rig(dir);
    const wipe = { settings: { wipeAfterIngest: true } };
    await r.service(wipe).ingest(new StoppingDriver(rec, { path: ['e.mp4', 'f.mp4'], deleted: false }), { actor: 't' });
    const id = (p: string): string => r.catalog.db.prepare<[string], { id: string }>('SELECT id FROM evidence WHERE source_path = ? ORDER BY rowid LIMIT 1').get(p)!.id;
    const [e, f] = [id('e.mp4'), id('f.mp4')];
    // e is rewritten with other bytes (another size); f's bytes change, its size and time kept.
    const eStat = await stat(join(rec, 'e.mp4'));
    await writeFile(join(rec, 'e.mp4'), randomBytes(2100));
    await utimes(join(rec, 'e.mp4'), eStat.atime, eStat.mtime);
    const fStat = await stat(join(rec, 'f.mp4'));
    await writeFile(join(rec, 'f.mp4'), randomBytes(2000));
    await utimes(join(rec, 'f.mp4'), fStat.atime, fStat.mtime);

    const next = await r.service(wipe).ingest(new StoppingDriver(rec, null), { actor: 't' });
    const abandoned = [...r.catalog.ledger.entries()].filter((x) => x.type === 'evidence.wipe-abandoned');
    expect(abandoned.map((x) => [x.subject, x.data.reason])).toEqual([[f, 'changed'], [e, 'changed']]);
    expect(abandoned.find((x) => x.subject === e)!.data).toMatchObject({ sourcePath: 'e.mp4', seen: { size: 2100 } });
    // Neither is recorded as wiped; f, whose bytes no longer hash as its vault copy, stays.
    const wiped = wipeEntries(r).filter((x) => x.type === 'evidence.wiped').map((x) => x.subject);
    expect(wiped).toEqual([next.items[0]!.evidenceId]);
    expect(wiped).not.toContain(e);
    expect(r.catalog.db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM evidence WHERE id IN (?, ?) AND wiped_at IS NOT NULL').get(e, f)).toEqual({ n: 0 });
    await stat(join(rec, 'f.mp4'));
    expect(next.errors.map((x) => [x.path, x.code])).toEqual([['f.mp4', 'WIPE_SOURCE_MISMATCH']]);
    // The new e is ingested as new evidence and wiped under its own intent.
    expect(next.items.map((i) => [i.path, i.wiped])).toEqual([['e.mp4', true]]);
    // Nothing is left open: the next session neither wipes nor abandons anything more.
    const before = wipeEntries(r).length;
    await r.service(wipe).ingest(new StoppingDriver(rec, null), { actor: 't' });
    expect(wipeEntries(r).length).toBe(before);
    r.close();
  });
});
