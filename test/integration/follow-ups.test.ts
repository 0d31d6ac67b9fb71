import { writeFile, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EvidenceRepo } from '../../src/catalog/evidence-repo.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { FolderDriver, simulateRecorder } from '../../src/devices/index.js';
import { IngestService, createFollowUps, createIngestService, type HoldLimits } from '../../src/ingest/index.js';
import { createJobRunner } from '../../src/jobs/index.js';
import { MediaTools } from '../../src/media/index.js';
import { jobRunnerSettings } from '../../src/options.js';
import { contentKey } from '../../src/vault/index.js';
import { until } from '../helpers/jobs.js';
import { FaultyDriver, rig, settings, writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

describe('follow-up media analysis', () => {
  it('reads creation time at ingest, then probes and thumbnails after the evidence is safe; a hostile file never blocks', async () => {
    const dir = await tempDir();
    const rec = join(dir, 'rec');
    const sim = await simulateRecorder({ out: rec, serial: 'SIM7', clips: 2, seconds: 2, clockOffsetSeconds: 90, recordedAt: new Date('2026-11-20T01:00:00Z') });
    // A truncated / hostile "video" beside the real ones.
    const bad = join(rec, 'DCIM', 'broken_0099.MP4');
    await writeFile(bad, randomBytes(4096));
    const old = new Date(Date.now() - 3600_000);
    await utimes(bad, old, old);

    const r = await rig(dir);
    const config = loadConfig({ home: join(dir, 'home'), env: {} });
    // As the station builds them (src/station.ts): on its job runner and media tools.
    const followUpsOn = () =>
      createFollowUps({
        catalog: r.catalog,
        store: r.store,
        log: silentLogger,
        runner: createJobRunner({ settings: jobRunnerSettings(config), catalog: r.catalog, log: silentLogger }),
        media: MediaTools.fromConfig(config.media, silentLogger),
        thumbnailWidth: config.media.thumbnailWidth,
      });
    const followUps = await followUpsOn();
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
    expect(report.ingested).toBe(sim.files.length + 1);
    await followUps.drain();
    await followUps.close();

    const repo = new EvidenceRepo(r.catalog.db);
    const clips = sim.files.filter((f) => f.kind === 'video');
    expect(clips.length).toBe(2);
    for (const clip of clips) {
      const item = report.items.find((i) => i.path === clip.relPath)!;
      const ev = repo.get(item.evidenceId)!;
      // Recorded time from the container, raw (device clock) and corrected by the measured drift.
      expect(ev.recordedSource).toBe('metadata');
      expect(ev.recordedStart).toBe(clip.deviceStart.toISOString());
      expect(ev.clockDriftMs).toBe(90_000);
      expect(ev.recordedStartCorrected).toBe(clip.recordedStart.toISOString());
      expect(ev.durationMs).toBeGreaterThanOrEqual(1900);
      expect(ev.media).toMatchObject({ ok: true, kind: 'video' });
      expect(ev.thumbnailSha256).toMatch(/^[0-9a-f]{64}$/);
      const webp = await sharp(r.store.filePath(contentKey(ev.thumbnailSha256!))).metadata();
      expect(webp.format).toBe('webp');
      expect(webp.width).toBe(config.media.thumbnailWidth);
    }
    const broken = repo.get(report.items.find((i) => i.path === 'DCIM/broken_0099.MP4')!.evidenceId)!;
    expect(broken.status).toBe('live');
    expect(broken.media).toMatchObject({ ok: false, error: { code: 'MEDIA_PROBE_FAILED' } });
    expect(broken.thumbnailSha256).toBeNull();

    const analysed = [...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.analysed');
    expect(analysed).toHaveLength(report.ingested);
    expect(analysed.find((e) => e.subject === broken.id)!.data).toMatchObject({ ok: false });
    // Idempotent: running the sweep and the jobs again changes nothing.
    const again = await followUpsOn();
    expect(await again.sweep()).toBe(0);
    await again.enqueueFor([broken.id]);
    await again.drain();
    await again.close();
    expect([...r.catalog.ledger.entries()].filter((e) => e.type === 'evidence.analysed')).toHaveLength(report.ingested);
    r.close();
  });
});

describe('follow-ups yield to the docks (issue 18)', () => {
  /** A first recorder ingested (its follow-ups queued), a second one docked whose copy waits at its first file until released. */
  async function twoDocks(followUpHold?: HoldLimits) {
    const dir = await tempDir();
    const first = join(dir, 'first');
    await simulateRecorder({ out: first, serial: 'SIM8', clips: 2, seconds: 2, recordedAt: new Date('2026-11-20T01:00:00Z') });
    const second = join(dir, 'second');
    await writeTree(second, { 'DCIM/SIM9_20261120090000_0001.MP4': 10_000, 'DCIM/SIM9_20261120090100_0002.MP4': 10_000 });
    const r = await rig(dir);
    const config = loadConfig({ home: join(dir, 'home'), env: {} });
    const runner = createJobRunner({ settings: jobRunnerSettings(config), catalog: r.catalog, log: silentLogger });
    const followUps = await createFollowUps({
      catalog: r.catalog,
      store: r.store,
      log: silentLogger,
      runner,
      media: MediaTools.fromConfig(config.media, silentLogger),
      thumbnailWidth: config.media.thumbnailWidth,
    });
    // As the station builds it (src/ingest/compose.ts).
    const service = createIngestService({ catalog: r.catalog, store: r.store, log: silentLogger, followUps, concurrency: 2, settings, ...(followUpHold ? { followUpHold } : {}) });
    const analysed = (): number => (r.catalog.db.prepare("SELECT count(*) AS n FROM ledger WHERE type = 'evidence.analysed'").get() as { n: number }).n;
    const done = await service.ingest(new FolderDriver({ root: first }), { actor: 'test' });
    expect(done.ingested).toBeGreaterThan(0);
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    let opened!: () => void;
    const copying = new Promise<void>((res) => (opened = res));
    const { done: secondDone } = service.start(
      new FaultyDriver(new FolderDriver({ root: second, identity: { serial: 'SIM9' } }), {
        beforeOpen: async () => {
          opened();
          await gate;
        },
      }),
      { actor: 'test' },
    );
    await copying;
    await runner.start();
    const close = async (): Promise<void> => {
      release();
      await secondDone.catch(() => undefined);
      await followUps.close();
      r.close();
    };
    return { runner, analysed, firstIngested: done.ingested, release, secondDone, close };
  }

  it('starts no follow-up while a recorder is being copied, and runs them once the last copy has ended', async () => {
    const t = await twoDocks();
    try {
      // The first recorder's follow-ups were queued before; none starts while the second copies.
      await new Promise((res) => setTimeout(res, 2_500));
      expect(t.analysed()).toBe(0);
      expect((await t.runner.stats()).waiting).toBe(t.firstIngested);
      t.release();
      expect((await t.secondDone).status).toBe('complete');
      await until(async () => t.analysed() === t.firstIngested + 2, 'the follow-ups of both recorders to run');
    } finally {
      await t.close();
    }
  }, 60_000);

  it('a hold that lasted its limit lets the follow-ups run while the docks still copy', async () => {
    // The station's limits are ten minutes and one; here a second and a minute.
    const t = await twoDocks({ maxHoldMs: 1_000, sliceMs: 60_000 });
    try {
      // Still copying (the gate is closed), yet the first recorder's follow-ups run.
      await until(async () => t.analysed() === t.firstIngested, 'the held follow-ups to run once the hold lasted its limit');
      t.release();
      expect((await t.secondDone).status).toBe('complete');
    } finally {
      await t.close();
    }
  }, 60_000);
});
