import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EvidenceRepo } from '../../src/catalog/evidence-repo.js';
import { VaultFullError } from '../../src/core/errors.js';
import { FolderDriver } from '../../src/devices/folder-driver.js';
import { contentKey } from '../../src/vault/index.js';
import { aroundStaging, FaultyDriver, rig, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function tmpFiles(vaultRoot: string): Promise<string[]> {
  return (await readdir(join(vaultRoot, '.tmp')).catch(() => [])) as string[];
}

function evidenceCount(r: Awaited<ReturnType<typeof rig>>): number {
  return (r.catalog.db.prepare('SELECT count(*) AS n FROM evidence').get() as { n: number }).n;
}

describe('ingest pipeline', () => {
  it('ingests media in any layout and script, skips system files and never follows symlinks out', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    const files = await writeTree(rec, {
      'DCIM/100MEDIA/ZFY001_20261120083000_0001.MP4': 200_000,
      'DCIM/100MEDIA/ZFY001_20261120084000_0002.mov': 1000,
      'RECORD/执法录音_20261120085000.WAV': 3000,
      'PHOTO/现场照片.jpg': 500,
      'PHOTO/deep/er/x.PNG': 10,
      'SYSTEM/LOG.TXT': 100,
      'System Volume Information/IndexerVolumeGuid': 50,
      '.Trashes/old.mp4': 100,
      'DCIM/._ZFY001_0001.MP4': 100,
      'notes.docx': 100,
    });
    const outside = join(dir, 'outside');
    await writeTree(outside, { 'secret.mp4': 100 });
    await symlink(join(outside, 'secret.mp4'), join(rec, 'DCIM', 'link.mp4'));
    await symlink(outside, join(rec, 'linked-dir'));

    const r = await rig(dir);
    const report = await r.service().ingest(new FolderDriver({ root: rec, identity: { serial: 'ZFY001', officer: '012345', unit: 'U1' } }), { actor: 'test' });
    expect(report.status).toBe('complete');
    expect(report.failed).toBe(0);
    expect(report.items.map((i) => i.path).sort()).toEqual(
      ['DCIM/100MEDIA/ZFY001_20261120083000_0001.MP4', 'DCIM/100MEDIA/ZFY001_20261120084000_0002.mov', 'PHOTO/deep/er/x.PNG', 'PHOTO/现场照片.jpg', 'RECORD/执法录音_20261120085000.WAV'].sort(),
    );
    expect(report.bytes).toBe(200_000 + 1000 + 3000 + 500 + 10);

    const repo = new EvidenceRepo(r.catalog.db);
    for (const item of report.items) {
      const original = files[item.path]!;
      expect(item.sha256).toBe(sha(original));
      // The vault object holds exactly the recorder's bytes.
      expect(sha(await readFile(r.store.filePath(contentKey(item.sha256))))).toBe(item.sha256);
      const ev = repo.get(item.evidenceId)!;
      expect(ev).toMatchObject({ recorderSerial: 'ZFY001', officer: '012345', unit: 'U1', sourcePath: item.path, size: original.length });
      const entries = [...r.catalog.ledger.entries()].filter((e) => e.subject === item.evidenceId);
      expect(entries.map((e) => e.type)).toEqual(['evidence.ingested']);
      expect(entries[0]!.data).toMatchObject({ sha256: item.sha256, size: original.length, sourcePath: item.path, officer: '012345', unit: 'U1' });
    }
    const clip = report.items.find((i) => i.path.endsWith('0001.MP4'))!;
    expect(repo.get(clip.evidenceId)).toMatchObject({ recordedSource: 'filename', recordedStart: '2026-11-20T00:30:00.000Z', mediaType: 'video' });
    expect(repo.get(report.items.find((i) => i.path.endsWith('现场照片.jpg'))!.evidenceId)).toMatchObject({ mediaType: 'photo', recordedSource: 'mtime' });
    expect(r.catalog.ledger.get(1)!.type).toBe('recorder.registered');
    expect(await tmpFiles(join(dir, 'home', 'vault'))).toEqual([]);
    r.close();
  });

  it('skips what is already in the vault: same path, size and mtime without reading; then same hash', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'a.mp4': 5000, 'b.wav': 700 });
    const r = await rig(dir);
    const driver = () => new FolderDriver({ root: rec, identity: { serial: 'S1' } });
    const first = await r.service().ingest(driver(), { actor: 't' });
    expect(first.ingested).toBe(2);

    let opened = 0;
    const counting = new FaultyDriver(driver(), { beforeOpen: () => void opened++ });
    const second = await r.service().ingest(counting, { actor: 't' });
    expect(second).toMatchObject({ ingested: 0, skipped: 2, failed: 0 });
    expect(opened).toBe(0);

    // A re-stamped file with the same bytes is read, recognised by hash, and not duplicated.
    const old = new Date(Date.now() - 7200_000);
    await utimes(join(rec, 'a.mp4'), old, old);
    const third = await r.service().ingest(driver(), { actor: 't' });
    expect(third).toMatchObject({ ingested: 0, skipped: 2, failed: 0 });
    expect(evidenceCount(r)).toBe(2);

    // New content under a reused name is new evidence.
    await writeTree(rec, { 'a.mp4': 4000 });
    const fourth = await r.service().ingest(driver(), { actor: 't' });
    expect(fourth.ingested).toBe(1);
    expect(evidenceCount(r)).toBe(3);
    r.close();
  });

  it('reports empty, unreadable and still-written files, retries them later, and goes on with the rest', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'ok.mp4': 1000, 'empty.mp4': 0, 'eio.mp4': 800 });
    await writeFile(join(rec, 'growing.mp4'), Buffer.alloc(100)); // mtime = now
    const r = await rig(dir);
    const eio = new FaultyDriver(new FolderDriver({ root: rec, identity: { serial: 'S2' } }), {
      beforeOpen: (p) => {
        if (p === 'eio.mp4') throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      },
    });
    const rep = await r.service().ingest(eio, { actor: 't' });
    expect(rep.ingested).toBe(1);
    expect(rep.failed).toBe(3);
    expect(Object.fromEntries(rep.errors.map((e) => [e.path, e.code]))).toEqual({
      'empty.mp4': 'SOURCE_EMPTY',
      'eio.mp4': 'SOURCE_IO_ERROR',
      'growing.mp4': 'SOURCE_STILL_WRITING',
    });
    const repo = new EvidenceRepo(r.catalog.db);
    expect(repo.failures('S2').map((f) => [f.sourcePath, f.attempts])).toEqual([
      ['eio.mp4', 1],
      ['empty.mp4', 1],
      ['growing.mp4', 1],
    ]);
    // Nothing was ledgered for the failed files.
    expect([...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.ingested')).toHaveLength(1);

    // Later: the file settled and the recorder reads fine again.
    const old = new Date(Date.now() - 3600_000);
    await utimes(join(rec, 'growing.mp4'), old, old);
    const again = await r.service().ingest(new FolderDriver({ root: rec, identity: { serial: 'S2' } }), { actor: 't' });
    expect(again).toMatchObject({ ingested: 2, failed: 1 });
    expect(repo.failures('S2').map((f) => [f.sourcePath, f.attempts])).toEqual([['empty.mp4', 2]]);
    r.close();
  });

  it('does not record a file that changed while it was copied', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'clip.mp4': 300_000 });
    const r = await rig(dir);
    const driver = new FaultyDriver(new FolderDriver({ root: rec, identity: { serial: 'S3' } }), {
      open: (_p, s, attempt) => {
        if (attempt > 1) return s;
        let appended = false;
        return s.pipe(
          new Transform({
            transform(chunk, _e, cb) {
              if (!appended) {
                appended = true;
                // The recorder writes more while custody reads.
                appendFile(join(rec, 'clip.mp4'), Buffer.alloc(10)).then(() => cb(null, chunk), cb);
              } else cb(null, chunk);
            },
          }),
        );
      },
    });
    const rep = await r.service().ingest(driver, { actor: 't' });
    expect(rep.ingested).toBe(0);
    expect(rep.errors).toEqual([expect.objectContaining({ path: 'clip.mp4', code: 'SOURCE_CHANGED' })]);
    expect(r.catalog.ledger.count()).toBe(0);
    r.close();
  });

  it('wipes only after the ledger entry is committed and the source hashes the same again', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    const files = await writeTree(rec, { 'a.mp4': 2000, 'b.mp4': 3000 });
    const r = await rig(dir);
    const driver = new FaultyDriver(new FolderDriver({ root: rec, identity: { serial: 'S4' } }), {
      beforeOpen: async (p, attempt) => {
        // At the verification read, someone has altered b.mp4 on the recorder.
        if (p === 'b.mp4' && attempt === 2) await writeFile(join(rec, 'b.mp4'), Buffer.alloc(3000, 7));
        if (attempt === 2) {
          // The wipe's re-read happens after the evidence is committed.
          const committed = [...r.catalog.ledger.entries()].some((e) => e.type === 'evidence.ingested' && e.data.sourcePath === p);
          expect(committed).toBe(true);
        }
      },
    });
    const rep = await r.service({ settings: { wipeAfterIngest: true } }).ingest(driver, { actor: 't' });
    expect(rep.ingested).toBe(2);
    const a = rep.items.find((i) => i.path === 'a.mp4')!;
    expect(a.wiped).toBe(true);
    await expect(stat(join(rec, 'a.mp4'))).rejects.toThrow(/ENOENT/);
    expect(rep.items.find((i) => i.path === 'b.mp4')!.wiped).toBe(false);
    expect(rep.errors).toEqual([expect.objectContaining({ path: 'b.mp4', code: 'WIPE_SOURCE_MISMATCH' })]);
    await stat(join(rec, 'b.mp4')); // still there
    const types = [...r.catalog.ledger.entries()].map((e) => [e.type, e.subject]);
    const ingestedA = types.findIndex(([t, s]) => t === 'evidence.ingested' && s === a.evidenceId);
    const wipedA = types.findIndex(([t, s]) => t === 'evidence.wiped' && s === a.evidenceId);
    expect(ingestedA).toBeGreaterThanOrEqual(0);
    expect(wipedA).toBeGreaterThan(ingestedA);
    expect(types.filter(([t]) => t === 'evidence.wiped')).toHaveLength(1);
    expect(sha(await readFile(r.store.filePath(contentKey(a.sha256))))).toBe(sha(files['a.mp4']!));
    r.close();
  });

  it('pauses on a full vault: clear error, nothing recorded or wiped for the file, the rest left for later', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'a.mp4': 1000, 'b.mp4': 1000, 'c.mp4': 1000 });
    const r = await rig(dir);
    let puts = 0;
    // Ingest copies each file into the vault staged (published later by its group commit).
    const full = aroundStaging(r.store, async (copy) => {
      if (++puts >= 2) throw new VaultFullError('vault disk is full (test): ENOSPC');
      return copy();
    });
    const rep = await r.service({ store: full, concurrency: 1, settings: { wipeAfterIngest: true, perRecorder: 1 } }).ingest(
      new FolderDriver({ root: rec, identity: { serial: 'S5' } }),
      { actor: 't' },
    );
    expect(rep.status).toBe('paused');
    expect(rep.error).toMatchObject({ code: 'VAULT_FULL' });
    expect(rep.ingested).toBe(1);
    // Only the file that is safely in the vault was wiped.
    expect((await readdir(rec)).sort()).toEqual(['b.mp4', 'c.mp4']);
    expect(evidenceCount(r)).toBe(1);
    r.close();
  });

  it('ends the session cleanly when the recorder is pulled mid-copy, and the next dock finishes the job', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    const files = await writeTree(rec, { 'a.mp4': 400_000, 'b.mp4': 400_000, 'c.mp4': 400_000 });
    const r = await rig(dir);
    let pulled = false;
    const driver = new FaultyDriver(new FolderDriver({ root: rec, identity: { serial: 'S6' } }), {
      open: (p, s) => {
        if (p !== 'b.mp4') return s;
        let sent = 0;
        const out = new PassThrough();
        s.on('data', (chunk: Buffer) => {
          sent += chunk.length;
          out.write(chunk);
          if (sent >= 128 * 1024 && !pulled) {
            pulled = true;
            s.destroy();
            rename(rec, rec + '.gone').then(
              () => out.destroy(Object.assign(new Error('ENODEV: no such device, read'), { code: 'ENODEV' })),
              (e: unknown) => out.destroy(e as Error),
            );
          }
        });
        s.on('end', () => out.end());
        return out;
      },
    });
    const rep = await r.service({ concurrency: 1, settings: { perRecorder: 1 } }).ingest(driver, { actor: 't' });
    expect(rep.status).toBe('recorder-gone');
    expect(rep.error).toMatchObject({ code: 'RECORDER_GONE' });
    expect(rep.items.map((i) => i.path)).toEqual(['a.mp4']);
    expect(await tmpFiles(join(dir, 'home', 'vault'))).toEqual([]);
    expect([...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.ingested').map((e) => e.data.sourcePath)).toEqual(['a.mp4']);

    // Docked again: the rest is ingested, nothing twice.
    await rename(rec + '.gone', rec);
    const again = await r.service().ingest(new FolderDriver({ root: rec, identity: { serial: 'S6' } }), { actor: 't' });
    expect(again).toMatchObject({ ingested: 2, skipped: 1, failed: 0 });
    const shas = [...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.ingested').map((e) => e.data.sha256);
    expect(shas.sort()).toEqual(Object.values(files).map(sha).sort());
    r.close();
  });

  it('ingests many recorders at once under one bound on total copies', async () => {
    const dir = await tempDir();
    const r = await rig(dir);
    let inFlight = 0;
    let maxInFlight = 0;
    const counting = aroundStaging(r.store, async (copy) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await copy();
      } finally {
        inFlight--;
      }
    });
    const service = r.service({ store: counting, concurrency: 3 });
    const recorders = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const rec = join(dir, `rec${i}`);
        await mkdir(rec);
        await writeTree(rec, Object.fromEntries(Array.from({ length: 5 }, (_, j) => [`DCIM/${i}_${j}.mp4`, 50_000 + j])));
        return new FolderDriver({ root: rec, identity: { serial: `R${i}` } });
      }),
    );
    const progress = new Map<string, number>();
    const runs = recorders.map((d) => {
      const { session, done } = service.start(d, { actor: 't' });
      session.on('progress', (p: { serial: string; filesDone: number }) => progress.set(p.serial, p.filesDone));
      return done;
    });
    const reports = await Promise.all(runs);
    expect(reports.map((x) => x.ingested)).toEqual([5, 5, 5, 5, 5, 5]);
    // Issue 18: each docked recorder may always copy one file (its first byte does not
    // wait behind the others'); a recorder's further files start only while fewer than
    // 3 copies run, so at most 3 - 1 + 6 run at once.
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(maxInFlight).toBeGreaterThan(1);
    expect([...progress.values()]).toEqual([5, 5, 5, 5, 5, 5]);
    expect(evidenceCount(r)).toBe(30);
    r.close();
  });
});
