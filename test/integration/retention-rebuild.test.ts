import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { CasesService, PurgeService } from '../../src/retention/index.js';
import { rebuildLedger } from '../../src/ledger/index.js';
import { LedgerSealer } from '../../src/ledger/index.js';
import { testVault, type TestVault } from '../helpers/ledger-vault.js';

async function ingested(v: TestVault, id: string, recordedStart: string): Promise<void> {
  const put = await v.store.putContent(Readable.from([Buffer.from(`clip ${id}`)]));
  v.catalog.ledger.append({
    type: 'evidence.ingested',
    actor: 'ingest',
    subject: id,
    data: {
      sha256: put.sha256,
      size: put.size,
      mediaType: 'video',
      recorder: { serial: 'BWC-0417', model: 'DSJ-T9' },
      officer: '0417',
      unit: 'U1',
      sourcePath: `DCIM/${id}.MP4`,
      sourceName: `${id}.MP4`,
      sourceMtime: recordedStart,
      recordedStart,
      recordedEnd: null,
      recordedSource: 'filename',
      clockDriftMs: null,
      recordedStartCorrected: null,
      recordedEndCorrected: null,
      ingestedAt: recordedStart,
      sessionId: 'session-1',
    },
  });
}

async function sealLoseRebuild(v: TestVault): Promise<void> {
  await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true });
  v.catalog.close();
  for (const suffix of ['', '-wal', '-shm']) await rm(v.catalogFile + suffix, { force: true });
  v.reopen();
  const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
  expect(r).toMatchObject({ ok: true, evidence: { skipped: 0 } });
}

describe('a catalog rebuilt from the ledger keeps cases, holds and announcements (issue 7)', () => {
  it('replays case.*, hold.* and evidence.purge-announced so the purge still spares held items', async () => {
    const v = await testVault('custody-retention-rebuild-');
    await ingested(v, 'e1', '2026-01-10T02:00:00.000Z');
    await ingested(v, 'e2', '2026-01-10T03:00:00.000Z');
    await ingested(v, 'e3', '2026-01-10T04:00:00.000Z');
    await sealLoseRebuild(v);

    const cases = new CasesService(v.catalog);
    const c = cases.create({ number: 'C-1', name: 'dispute at the market', unit: 'U1' }, 'user:li');
    const c2 = cases.create({ number: 'C-2', name: 'closed matter' }, 'user:li');
    cases.link(c.id, ['e1'], 'user:li');
    cases.link(c2.id, ['e3'], 'user:li');
    const held = cases.placeHold(c.id, { reason: 'other', text: 'press interest' }, 'user:li');
    const released = cases.placeHold(c2.id, { reason: 'sensitive' }, 'user:li');
    cases.requestRelease(released.id, 'closed', 'user:li');
    cases.approveRelease(released.id, 'user:wang');
    const settings = { timezone: 'Asia/Shanghai', months: 6, minDaysAfterIngest: 30, noticeDays: 7, maxPurgeFraction: 1, maxClockJumpDays: 3650 };
    const first = await new PurgeService({ catalog: v.catalog, store: v.store, settings, log: silentLogger }).execute({ actor: 'test' });
    expect(first).toMatchObject({ announced: 2, skipped: 1 });
    // The rebuilt rows take the ledger entries' times, a clock tick (1 ms here) after the row's own.
    const toSecond = (rows: unknown[]): unknown[] =>
      rows.map((r) => Object.fromEntries(Object.entries(r as object).map(([k, val]) => [k, typeof val === 'string' && /^\d{4}-\d\d-\d\dT/.test(val) ? val.slice(0, 19) : val])));
    const snapshot = (): unknown => ({
      cases: toSecond(v.catalog.db.prepare('SELECT * FROM cases ORDER BY number').all()),
      links: toSecond(v.catalog.db.prepare('SELECT * FROM case_evidence ORDER BY case_id, evidence_id').all()),
      holds: toSecond(v.catalog.db.prepare('SELECT * FROM holds ORDER BY placed_at, id').all()),
      evidence: toSecond(v.catalog.db.prepare('SELECT id, status, purge_announced_at, purge_due_at FROM evidence ORDER BY id').all()),
    });
    const before = snapshot();

    await sealLoseRebuild(v);
    expect(snapshot()).toEqual(before);
    expect(new CasesService(v.catalog).holdsOn('e1')).toEqual([expect.objectContaining({ holdId: held.id, reason: 'other', reasonText: 'press interest' })]);
  });
});

describe('a catalog rebuilt from the ledger keeps the browser-playable proxies (issue 15)', () => {
  it('replays evidence.proxied, so the rebuilt station still plays, verifies and purges them', async () => {
    const v = await testVault('custody-proxy-rebuild-');
    await ingested(v, 'e1', '2026-01-10T02:00:00.000Z');
    const proxy = await v.store.putContent(Readable.from([Buffer.from('an H.264 proxy')]));
    // The helper writes only ledger entries: a rebuild makes the evidence row.
    await sealLoseRebuild(v);
    const src = (v.catalog.db.prepare("SELECT sha256 FROM evidence WHERE id = 'e1'").get() as { sha256: string }).sha256;
    v.catalog.tx(() => {
      v.catalog.db
        .prepare(
          `INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, video_codec, audio_codec, width, height, duration_ms, created_at, updated_at)
           VALUES ('e1', ?, 'video', 'ready', 'hevc video', ?, ?, 'mp4', 'h264', 'aac', 1280, 720, 3000, 't', 't')`,
        )
        .run(src, proxy.sha256, proxy.size);
      v.catalog.ledger.append({
        type: 'evidence.proxied',
        actor: 'custody:media',
        subject: 'e1',
        data: { sha256: src, kind: 'video', reason: 'hevc video', proxy: { sha256: proxy.sha256, size: proxy.size, container: 'mp4', videoCodec: 'h264', audioCodec: 'aac', width: 1280, height: 720, durationMs: 3000 } },
      });
    });
    const row = (): unknown => v.catalog.db.prepare('SELECT evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, video_codec, audio_codec, width, height, duration_ms FROM evidence_proxies').all();
    const before = row();
    await sealLoseRebuild(v);
    expect(row()).toEqual(before);
    expect(before).toEqual([expect.objectContaining({ status: 'ready', proxy_sha256: proxy.sha256, width: 1280 })]);
  });
});
