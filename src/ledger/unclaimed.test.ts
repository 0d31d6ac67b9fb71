import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ingest, testVault } from '../../test/helpers/ledger-vault.js';
import { silentLogger } from '../core/index.js';
import { findUnclaimed, kindOfBytes, unclaimedOrNull } from './unclaimed.js';

const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF photo bytes')]);
const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom clip bytes')]);
const webp = Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 thumbnail', 'latin1');
const sqlite = Buffer.from('SQLite format 3\x00 snapshot', 'latin1');

describe('objects no ledger entry names', () => {
  it('lists the vault objects no entry names, with what their first bytes say, and none that one names', async () => {
    const v = await testVault();
    // Named: an ingested clip, a thumbnail and a proxy named by their entries.
    const clip = await ingest(v, mp4, 'ev-1');
    const thumb = await v.store.putContent(Readable.from([webp]));
    const proxy = await v.store.putContent(Readable.from([Buffer.from('proxy bytes')]));
    v.catalog.tx(() => {
      v.catalog.ledger.append({
        type: 'evidence.analysed',
        actor: 'test',
        subject: 'ev-1',
        data: { sha256: clip.sha256, ok: true, durationMs: 1000, recordedEnd: null, thumbnail: { sha256: thumb.sha256, size: thumb.size } },
      });
      v.catalog.ledger.append({
        type: 'evidence.proxied',
        actor: 'test',
        subject: 'ev-1',
        data: {
          sha256: clip.sha256,
          kind: 'video',
          reason: 'codec',
          proxy: { sha256: proxy.sha256, size: proxy.size, container: 'mp4', videoCodec: 'h264', audioCodec: null, width: 320, height: 240, durationMs: 1000 },
        },
      });
    });
    // Not named by any entry: a photo whose entry was lost, and a catalog snapshot's bytes.
    const lostPhoto = await v.store.putContent(Readable.from([jpeg]));
    const strayDb = await v.store.putContent(Readable.from([sqlite]));

    const seen: number[] = [];
    const r = await findUnclaimed({ db: v.catalog.db, store: v.store, onProgress: (n) => seen.push(n) });
    expect(r.scanned).toBe(5);
    expect(r.count).toBe(2);
    expect(r.bytes).toBe(jpeg.length + sqlite.length);
    const byKey = (a: { key: string }, b: { key: string }): number => a.key.localeCompare(b.key);
    expect(r.objects.sort(byKey)).toEqual(
      [
        { key: lostPhoto.key, sha256: lostPhoto.sha256, size: jpeg.length, kind: 'photo' },
        { key: strayDb.key, sha256: strayDb.sha256, size: sqlite.length, kind: 'catalog-snapshot' },
      ].sort(byKey),
    );
    expect(seen.at(-1)).toBe(5);
    // Listing changes nothing: both stay in the vault; the temporary table is gone.
    expect(await v.store.stat(lostPhoto.key)).toMatchObject({ size: jpeg.length });
    expect(v.catalog.db.prepare("SELECT count(*) AS n FROM sqlite_temp_master WHERE name LIKE 'unclaimed_named_%'").get()).toEqual({ n: 0 });

    // An entry that names it later claims it; the limit bounds the list, not the count.
    v.catalog.tx(() => v.catalog.ledger.append({ type: 'evidence.ingested', actor: 'test', subject: 'ev-2', data: { sha256: lostPhoto.sha256, size: jpeg.length } }));
    const again = await findUnclaimed({ db: v.catalog.db, store: v.store, limit: 0 });
    expect(again).toEqual({ scanned: 5, objects: [], count: 1, bytes: sqlite.length });
  });

  it('an entry committed while the vault is listed claims its object (an ingest going on)', async () => {
    const v = await testVault();
    const early = await v.store.putContent(Readable.from([jpeg]));
    const stray = await v.store.putContent(Readable.from([sqlite]));
    // The ingest's entry for `early` commits once the listing has begun.
    const store = Object.create(v.store) as typeof v.store;
    store.list = async function* (prefix: string) {
      let first = true;
      for await (const o of v.store.list(prefix)) {
        yield o;
        if (first) v.catalog.tx(() => v.catalog.ledger.append({ type: 'evidence.ingested', actor: 'test', subject: 'ev-1', data: { sha256: early.sha256, size: early.size } }));
        first = false;
      }
    };
    const r = await findUnclaimed({ db: v.catalog.db, store });
    expect(r).toMatchObject({ scanned: 2, count: 1, bytes: sqlite.length, objects: [{ sha256: stray.sha256, kind: 'catalog-snapshot' }] });
  });

  it('a vault that cannot be listed gives "not counted" (null), logged, to a restore or a verification', async () => {
    const v = await testVault();
    const store = Object.create(v.store) as typeof v.store;
    store.list = async function* () {
      yield* [];
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    await expect(findUnclaimed({ db: v.catalog.db, store })).rejects.toThrow('ECONNREFUSED');
    const warned: unknown[] = [];
    const log = { ...silentLogger, warn: (...a: unknown[]) => void warned.push(a) } as unknown as typeof silentLogger;
    expect(await unclaimedOrNull({ db: v.catalog.db, store, log })).toBeNull();
    expect(warned).toHaveLength(1);
    // Its temporary table went with the failure.
    expect(v.catalog.db.prepare("SELECT count(*) AS n FROM sqlite_temp_master WHERE name LIKE 'unclaimed_named_%'").get()).toEqual({ n: 0 });
  });

  it('tells recorder footage, thumbnails and snapshots apart by their first bytes', () => {
    expect(kindOfBytes(mp4)).toBe('video');
    expect(kindOfBytes(Buffer.from('RIFF\x10\x00\x00\x00AVI LIST', 'latin1'))).toBe('video');
    expect(kindOfBytes(Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypM4A audio')]))).toBe('audio');
    expect(kindOfBytes(Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1'))).toBe('audio');
    expect(kindOfBytes(Buffer.from('#!AMR\n', 'latin1'))).toBe('audio');
    expect(kindOfBytes(Buffer.from('ID3\x04\x00', 'latin1'))).toBe('audio');
    expect(kindOfBytes(jpeg)).toBe('photo');
    expect(kindOfBytes(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'))).toBe('photo');
    expect(kindOfBytes(webp)).toBe('thumbnail');
    expect(kindOfBytes(sqlite)).toBe('catalog-snapshot');
    expect(kindOfBytes(Buffer.from('clip e9'))).toBe('unknown');
    expect(kindOfBytes(Buffer.alloc(0))).toBe('unknown');
  });
});
