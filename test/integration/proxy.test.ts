import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EvidenceRepo } from '../../src/catalog/evidence-repo.js';
import { silentLogger } from '../../src/core/logger.js';
import { FolderDriver, simulateRecorder } from '../../src/devices/index.js';
import { IngestService, ProxyRepo, createFollowUps, proxyHandler, type FollowUps } from '../../src/ingest/index.js';
import { JOBS, SqliteJobRunner } from '../../src/jobs/index.js';
import { verifyVault, type LedgerEntry } from '../../src/ledger/index.js';
import { MediaTools } from '../../src/media/index.js';
import { contentKey } from '../../src/vault/index.js';
import { settings } from '../helpers/ingest-fixtures.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const media = new MediaTools({ timeoutSeconds: 120 });

/** Real ffmpeg writes a test file; a missing ffmpeg fails here, loudly. */
function ffmpeg(out: string, args: string[]): void {
  execFileSync(media.binary('ffmpeg').path, ['-nostdin', '-hide_banner', '-v', 'error', ...args, out]);
}

interface Setup {
  r: ApiRig;
  followUps: FollowUps;
  /** evidence id by recorder path */
  ids: Record<string, string>;
  proxies: ProxyRepo;
}

/**
 * A simulated recorder (unit U1) whose H.264 clip, PCM WAV and JPEG a browser plays,
 * plus an H.265 clip (1080p, a few frames), an ADPCM WAV and a file that is not media,
 * docked, ingested and followed up (analysis, then proxies) by the in-process runner.
 */
async function setup(): Promise<Setup> {
  const r = await apiRig();
  const rec = join(r.dir, 'rec');
  const sim = await simulateRecorder({ out: rec, serial: 'SIMP01', clips: 1, seconds: 1, unit: 'U1', officer: '0417', media });
  const old = new Date(Date.now() - 3600_000);
  const extra = {
    hevc: join(rec, 'DCIM', 'HEVC_0098.MP4'),
    adpcm: join(rec, 'RECORD', 'ADPCM_0099.WAV'),
    junk: join(rec, 'DCIM', 'JUNK_0100.MP4'),
  };
  ffmpeg(extra.hevc, [
    '-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=25:duration=0.24', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.24',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest',
  ]);
  ffmpeg(extra.adpcm, ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=8000:duration=1', '-c:a', 'adpcm_ima_wav']);
  await writeFile(extra.junk, randomBytes(4096));
  for (const f of Object.values(extra)) await utimes(f, old, old);

  const runner = new SqliteJobRunner({ catalog: r.catalog, concurrency: 2, maxAttempts: 2, jobs: JOBS, log: silentLogger });
  const followUps = await createFollowUps({ catalog: r.catalog, store: r.store, log: silentLogger, runner, media, thumbnailWidth: 160, maxAttempts: 2 });
  const service = new IngestService({
    catalog: r.catalog,
    store: r.store,
    log: silentLogger,
    concurrency: 2,
    settings,
    probe: followUps.headerProbe,
    afterSession: (rep) => followUps.enqueueFor(rep.items.map((i) => i.evidenceId)),
  });
  const report = await service.ingest(new FolderDriver({ root: rec }), { actor: 'test' });
  expect(report.failed).toBe(0);
  expect(report.ingested).toBe(sim.files.length + 3);
  await followUps.drain();
  const ids = Object.fromEntries(report.items.map((i) => [i.path, i.evidenceId]));
  return { r, followUps, ids, proxies: new ProxyRepo(r.catalog.db) };
}

function proxiedEntries(r: ApiRig): LedgerEntry[] {
  return [...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.proxied');
}

async function granted(r: ApiRig, who: { token: string }, approver: { token: string }, evidenceIds: string[]): Promise<void> {
  const created = await r.call(who.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds, reason: '复核：当事人投诉' } });
  expect(created.statusCode, created.body).toBe(201);
  const ok = await r.call(approver.token, { method: 'POST', url: `/api/v1/access-requests/${body<{ id: string }>(created).id}/approve` });
  expect(ok.statusCode, ok.body).toBe(200);
}

describe('browser-playable proxies (issue 15, the player)', { timeout: 120_000 }, () => {
  it('makes an H.264 ≤ 720p proxy of H.265 footage beside the untouched original, ledgers both hashes, and serves it like /content', async () => {
    const { r, followUps, ids, proxies } = await setup();
    const repo = new EvidenceRepo(r.catalog.db);
    const hevc = repo.get(ids['DCIM/HEVC_0098.MP4']!)!;
    const h264Path = Object.keys(ids).find((p) => p.startsWith('DCIM/') && !p.includes('HEVC') && !p.includes('JUNK'))!;
    const h264 = repo.get(ids[h264Path]!)!;
    expect(hevc.media).toMatchObject({ ok: true, streams: [{ codec: 'hevc' }, { codec: 'aac' }] });
    expect(h264.media).toMatchObject({ ok: true, streams: expect.arrayContaining([expect.objectContaining({ codec: 'h264' })]) });

    // The proxy: recorded, stored as a content object, H.264/AAC at most 720p per ffprobe.
    const row = proxies.get(hevc.id)!;
    expect(row).toMatchObject({ status: 'ready', kind: 'video', sourceSha256: hevc.sha256, container: 'mp4', videoCodec: 'h264', audioCodec: 'aac', width: 1280, height: 720, attempts: 1, error: null });
    const proxyFile = r.store.filePath(contentKey(row.proxySha256!));
    const bytes = await readFile(proxyFile);
    expect(sha(bytes)).toBe(row.proxySha256);
    expect(bytes.length).toBe(row.size);
    const probed = await media.probe(proxyFile);
    expect(probed.container).toBe('mp4');
    const video = probed.streams.find((s) => s.type === 'video')!;
    expect(video.codec).toBe('h264');
    expect(video.height).toBeLessThanOrEqual(720);
    expect(probed.streams.find((s) => s.type === 'audio')?.codec).toBe('aac');
    // The original is untouched.
    expect(sha(await readFile(r.store.filePath(contentKey(hevc.sha256))))).toBe(hevc.sha256);

    // Ledgered with both hashes; only for the item that needed it (and the ADPCM WAV).
    const proxied = proxiedEntries(r);
    expect(proxied.map((e) => e.subject).sort()).toEqual([hevc.id, ids['RECORD/ADPCM_0099.WAV']].sort());
    expect(proxied.find((e) => e.subject === hevc.id)!.data).toMatchObject({ sha256: hevc.sha256, kind: 'video', reason: 'hevc video', proxy: { sha256: row.proxySha256, size: row.size, width: 1280, height: 720, videoCodec: 'h264' } });
    expect(proxies.get(h264.id)).toBeNull();
    // Audio a browser cannot play: AAC in MP4.
    expect(proxies.get(ids['RECORD/ADPCM_0099.WAV']!)).toMatchObject({ status: 'ready', kind: 'audio', container: 'm4a', audioCodec: 'aac', videoCodec: null });
    // Not media at all: the attempt fails for good with the reason, the item stays as it is.
    const junk = proxies.get(ids['DCIM/JUNK_0100.MP4']!)!;
    expect(junk).toMatchObject({ status: 'failed', proxySha256: null, error: { code: 'MEDIA_TRANSCODE_FAILED' } });
    expect(repo.get(ids['DCIM/JUNK_0100.MP4']!)!.status).toBe('live');

    // Idempotent: the sweep finds nothing to do, a job run again changes nothing.
    expect(await followUps.sweep()).toBe(0);
    await followUps.runner.enqueue('evidence.proxy', { evidenceId: hevc.id });
    await followUps.drain();
    await followUps.close();
    expect(proxiedEntries(r)).toHaveLength(2);
    expect(proxies.get(hevc.id)!.attempts).toBe(1);

    // The API: each item says how it plays.
    const op = r.user('Operator Wang', 'operator', 'U1');
    const sup = r.user('Supervisor Li', 'supervisor', 'U1');
    const other = r.user('Operator Zhao', 'operator', 'U2');
    const list = body<{ items: Array<{ id: string; playback: unknown }> }>(await r.call(op.token, { url: '/api/v1/evidence?limit=50' }));
    const playback = (id: string): unknown => list.items.find((i) => i.id === id)!.playback;
    expect(playback(hevc.id)).toEqual({ kind: 'proxy', status: 'ready', url: `/api/v1/evidence/${hevc.id}/proxy` });
    expect(playback(h264.id)).toEqual({ kind: 'original', status: 'ready', url: `/api/v1/evidence/${h264.id}/content` });
    expect(playback(junk.evidenceId)).toEqual({ kind: 'proxy', status: 'failed', url: null });
    const detail = await r.call(op.token, { url: `/api/v1/evidence/${hevc.id}` });
    expect(body(detail).playback).toEqual({ kind: 'proxy', status: 'ready', url: `/api/v1/evidence/${hevc.id}/proxy` });
    expect(body(await r.call(op.token, { url: `/api/v1/evidence/${h264.id}` })).playback).toMatchObject({ kind: 'original', status: 'ready' });

    // Without a grant: refused, nothing registered as viewed. Out of scope: exactly like missing.
    const viewed = (): LedgerEntry[] => [...r.catalog.ledger.entries()].filter((e) => e.type === 'access.viewed');
    const refused = await r.call(op.token, { url: `/api/v1/evidence/${hevc.id}/proxy` });
    expect(refused.statusCode).toBe(403);
    expect(body(refused)).toMatchObject({ error: { code: 'ACCESS_GRANT_REQUIRED' } });
    const hidden = await r.call(other.token, { url: `/api/v1/evidence/${hevc.id}/proxy` });
    const nobody = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    const missing = await r.call(other.token, { url: `/api/v1/evidence/${nobody}/proxy` });
    expect(hidden.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(hidden.body.replace(hevc.id, nobody)).toBe(missing.body);
    expect(viewed()).toHaveLength(0);

    // With a grant: whole, and by range; each answer registered, naming the proxy and its source.
    await granted(r, op, sup, [hevc.id, h264.id]);
    const whole = await r.call(op.token, { url: `/api/v1/evidence/${hevc.id}/proxy` });
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-type']).toBe('video/mp4');
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers.etag).toBe(`"${row.proxySha256}"`);
    expect(sha(whole.rawPayload)).toBe(row.proxySha256);
    const part = await r.call(op.token, { url: `/api/v1/evidence/${hevc.id}/proxy`, headers: { range: 'bytes=100-1123' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1123/${row.size}`);
    expect(part.rawPayload.equals(bytes.subarray(100, 1124))).toBe(true);
    const beyond = await r.call(op.token, { url: `/api/v1/evidence/${hevc.id}/proxy`, headers: { range: `bytes=${row.size! + 10}-` } });
    expect(beyond.statusCode).toBe(416);
    const seen = viewed();
    expect(seen).toHaveLength(2);
    expect(seen[0]!).toMatchObject({ subject: hevc.id, actor: `user:${op.id}`, data: { sha256: hevc.sha256, proxy: row.proxySha256, size: row.size, range: null, bytes: row.size } });
    expect(seen[1]!.data).toMatchObject({ sha256: hevc.sha256, proxy: row.proxySha256, range: { start: 100, end: 1123 }, bytes: 1024 });
    // The original still plays through /content (registered without a proxy), and has no proxy of its own.
    const original = await r.call(op.token, { url: `/api/v1/evidence/${h264.id}/content`, headers: { range: 'bytes=0-9' } });
    expect(original.statusCode).toBe(206);
    expect(viewed()[2]!.data).not.toHaveProperty('proxy');
    const noProxy = await r.call(op.token, { url: `/api/v1/evidence/${h264.id}/proxy` });
    expect(noProxy.statusCode).toBe(404);
    expect(viewed()).toHaveLength(3);

    // A grant for other items does not reach this one.
    const adpcm = ids['RECORD/ADPCM_0099.WAV']!;
    expect((await r.call(op.token, { url: `/api/v1/evidence/${adpcm}/proxy` })).statusCode).toBe(403);
    await r.close();
  });

  it('reports an item not analysed yet as pending, and one analysed before proxies existed as none', async () => {
    const r = await apiRig();
    const op = r.user('Operator Wang', 'operator', 'U1');
    const fresh = await r.seed({ unit: 'U1' });
    const old = await r.seed({ unit: 'U1', name: 'OLD.MKV' });
    r.catalog.db
      .prepare('UPDATE evidence SET media_json = ? WHERE id = ?')
      .run(JSON.stringify({ ok: true, kind: 'video', container: 'matroska', durationMs: 1000, streams: [{ type: 'video', codec: 'hevc' }] }), old.id);
    const items = body<{ items: Array<{ id: string; playback: unknown }> }>(await r.call(op.token, { url: '/api/v1/evidence' })).items;
    expect(items.find((i) => i.id === fresh.id)!.playback).toEqual({ kind: 'proxy', status: 'pending', url: null });
    expect(items.find((i) => i.id === old.id)!.playback).toEqual({ kind: 'proxy', status: 'none', url: null });
    // Once asked for (the job queued), it is pending until made.
    new ProxyRepo(r.catalog.db).request(old.id, old.sha256, 'video', 'hevc video', new Date().toISOString());
    expect(body(await r.call(op.token, { url: `/api/v1/evidence/${old.id}` })).playback).toEqual({ kind: 'proxy', status: 'pending', url: null });
    expect((await r.call(op.token, { url: `/api/v1/evidence/${old.id}/proxy` })).statusCode).toBe(403);
    await r.close();
  });

  it('custody verify checks proxies: a missing, truncated or altered proxy object is reported like any object', async () => {
    const { r, followUps, ids, proxies } = await setup();
    await followUps.close();
    const id = ids['DCIM/HEVC_0098.MP4']!;
    const row = proxies.get(id)!;
    const key = contentKey(row.proxySha256!);
    const file = r.store.filePath(key);

    const clean = await verifyVault({ catalog: r.catalog, store: r.store, deep: true });
    expect(clean.problems).toEqual([]);
    expect(clean).toMatchObject({ ok: true, proxies: 2 });

    const good = await readFile(file);
    await chmod(file, 0o644);
    const altered = Buffer.from(good);
    altered[altered.length - 10]! ^= 0xff;
    await writeFile(file, altered);
    expect((await verifyVault({ catalog: r.catalog, store: r.store })).ok).toBe(true); // same size: only --deep sees it
    const deep = await verifyVault({ catalog: r.catalog, store: r.store, deep: true });
    expect(deep.ok).toBe(false);
    expect(deep.problems).toEqual([expect.objectContaining({ code: 'OBJECT_HASH_MISMATCH', key, message: expect.stringContaining(`the proxy of evidence ${id}`) })]);

    // Served, the altered proxy is cut short and reported corrupt, naming the proxy.
    const op = r.user('Operator Wang', 'operator', 'U1');
    const sup = r.user('Supervisor Li', 'supervisor', 'U1');
    await granted(r, op, sup, [id]);
    const served = await r.call(op.token, { url: `/api/v1/evidence/${id}/proxy` });
    expect(served.rawPayload.length).toBeLessThan(row.size!);
    const corrupt = [...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.corrupt');
    expect(corrupt).toEqual([expect.objectContaining({ subject: id, data: expect.objectContaining({ sha256: row.proxySha256, kind: 'hash', proxy: true }) })]);

    await truncate(file, good.length - 100);
    const short = await verifyVault({ catalog: r.catalog, store: r.store });
    expect(short.problems).toEqual([expect.objectContaining({ code: 'OBJECT_SIZE_MISMATCH', key })]);
    expect((await r.call(op.token, { url: `/api/v1/evidence/${id}/proxy` })).statusCode).toBe(500);

    await rm(file);
    const gone = await verifyVault({ catalog: r.catalog, store: r.store });
    expect(gone.problems).toEqual([expect.objectContaining({ code: 'OBJECT_MISSING', key, seq: expect.any(Number) })]);
    await r.close();
  });
});

describe('a proxy finished after its item was purged (issue 15)', () => {
  it('is deleted, not left in the vault unrecorded; a copy whose bytes a live item uses stays', async () => {
    const r = await apiRig();
    const item = await r.seed({ bytes: 2000 });
    const proxies = new ProxyRepo(r.catalog.db);
    let output: Buffer = Buffer.from('an H.264 proxy made while the purge ran');
    let purged = item.id;
    // ffmpeg is not what is tested: the proxy is written as it would be, and the purge
    // takes the item while it is being made.
    const purging = {
      async makeProxy(_file: string, out: string) {
        await writeFile(out, output);
        r.catalog.db.prepare("UPDATE evidence SET status = 'purged', purged_at = '2026-11-27T08:00:00Z' WHERE id = ?").run(purged);
        return { container: 'mp4', videoCodec: 'h264', audioCodec: null, width: 1280, height: 720, durationMs: 1000 };
      },
    } as unknown as MediaTools;
    const handler = proxyHandler({ catalog: r.catalog, store: r.store, media: purging, log: silentLogger });
    const ctx = { signal: new AbortController().signal, log: silentLogger, attempt: 1 };
    await handler({ evidenceId: item.id }, ctx);
    expect(await r.store.stat(contentKey(sha(output)))).toBeNull();
    expect(proxiedEntries(r)).toEqual([]);
    expect(proxies.get(item.id)?.status).not.toBe('ready');

    // The same bytes as a live item's content: kept.
    const other = await r.seed({ bytes: 3000 });
    const live = await r.seed({ bytes: 1500 });
    output = live.content;
    purged = other.id;
    await proxyHandler({ catalog: r.catalog, store: r.store, media: purging, log: silentLogger })({ evidenceId: other.id }, ctx);
    expect(await r.store.stat(contentKey(live.sha256))).not.toBeNull();
    expect(proxiedEntries(r)).toEqual([]);
    await r.close();
  });
});
