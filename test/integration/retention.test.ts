import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { processStart } from '../../src/core/index.js';
import { CasesService, PurgeService, type PurgeSettings } from '../../src/retention/index.js';
import type { ObjectStore } from '../../src/vault/index.js';
import { verifyVault } from '../../src/ledger/index.js';
import { apiRig, contentKey, type ApiRig } from './api-fixtures.js';

const DAY = 86_400_000;
// Recorded in January: with 6 months its retention date (10 July) passed long before the rig's clock (27 Nov 2026).
const OLD = { recordedStart: '2026-01-10T02:00:00.000Z', ingestedAt: '2026-01-10T06:00:00.000Z' };

function settings(over: Partial<PurgeSettings> = {}): PurgeSettings {
  return { timezone: 'Asia/Shanghai', months: 6, minDaysAfterIngest: 30, noticeDays: 7, maxPurgeFraction: 1, maxClockJumpDays: 30, ...over };
}

function purger(rig: ApiRig, over: Partial<PurgeSettings> = {}, store: ObjectStore = rig.store): PurgeService {
  return new PurgeService({ catalog: rig.catalog, store, settings: settings(over), log: silentLogger });
}

function status(rig: ApiRig, id: string): { status: string; purge_announced_at: string | null; purge_due_at: string | null } {
  return rig.catalog.db.prepare('SELECT status, purge_announced_at, purge_due_at FROM evidence WHERE id = ?').get(id) as never;
}

const has = (rig: ApiRig, sha: string): boolean => existsSync(join(rig.store.location, contentKey(sha)));

describe('cases and holds (issue 7)', () => {
  it('creates cases, links evidence and places and releases holds, all ledgered; a release needs a second person', async () => {
    const rig = await apiRig();
    const a = await rig.seed();
    const cases = new CasesService(rig.catalog);
    const c = cases.create({ number: 'XM-2026-0042', name: 'Street vendor dispute', unit: 'U1' }, 'user:li');
    // Numbers are unique per unit (issue 14): taken in U1, free elsewhere.
    expect(() => cases.create({ number: 'XM-2026-0042', name: 'again', unit: 'U1' }, 'user:li')).toThrow(expect.objectContaining({ code: 'CASE_NUMBER_TAKEN' }));
    expect(cases.link(c.id, [a.id, a.id], 'user:li')).toEqual([a.id]);
    expect(cases.link(c.id, [a.id], 'user:li')).toEqual([]);
    expect(() => cases.placeHold(c.id, { reason: 'other' }, 'user:li')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => cases.placeHold(c.id, { reason: 'whim' }, 'user:li')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const h = cases.placeHold(c.id, { reason: 'dispute' }, 'user:li');
    expect(cases.holdsOn(a.id)).toEqual([expect.objectContaining({ holdId: h.id, caseNumber: 'XM-2026-0042', reason: 'dispute' })]);
    expect(() => cases.approveRelease(h.id, 'user:wang')).toThrow(expect.objectContaining({ code: 'HOLD_STATE' }));
    cases.requestRelease(h.id, 'complaint withdrawn', 'user:li');
    expect(cases.holdsOn(a.id)).toHaveLength(1); // still held until approved
    expect(() => cases.approveRelease(h.id, 'user:li')).toThrow(expect.objectContaining({ code: 'HOLD_SELF_APPROVAL' }));
    expect(cases.approveRelease(h.id, 'user:wang')).toMatchObject({ state: 'released', releasedBy: 'user:wang', releaseRequestedBy: 'user:li' });
    expect(cases.holdsOn(a.id)).toEqual([]);
    expect(rig.ledgerTypes().slice(-5)).toEqual(['case.created', 'case.linked', 'hold.placed', 'hold.release-requested', 'hold.released']);
    await rig.close();
  });
});

describe('the purge (issue 7)', () => {
  it('announces first, purges after the notice period, deletes object and thumbnail, and the vault still verifies', async () => {
    const rig = await apiRig();
    const a = await rig.seed({ ...OLD, thumbnail: Buffer.from('webp-ish thumbnail') });
    const young = await rig.seed({ recordedStart: '2026-11-20T02:00:00.000Z' });
    const thumb = (rig.catalog.db.prepare('SELECT thumbnail_sha256 AS t FROM evidence WHERE id = ?').get(a.id) as { t: string }).t;
    const purge = purger(rig);

    const first = await purge.execute({ actor: 'test' });
    expect(first).toMatchObject({ status: 'completed', counted: 1, announced: 1, purged: 0 });
    expect(status(rig, a.id)).toMatchObject({ status: 'live', purge_due_at: new Date(rig.clock.t + 7 * DAY).toISOString() });
    expect(purge.pending().map((p) => p.evidenceId)).toEqual([a.id]);
    expect(has(rig, a.sha256)).toBe(true);

    rig.clock.advance(6 * DAY);
    expect(await purge.execute({ actor: 'test' })).toMatchObject({ status: 'completed', purged: 0, announced: 0 });
    rig.clock.advance(DAY);
    const third = await purge.execute({ actor: 'test' });
    expect(third).toMatchObject({ status: 'completed', purged: 1, bytesFreed: 1000 + 'webp-ish thumbnail'.length });
    expect(status(rig, a.id).status).toBe('purged');
    expect(has(rig, a.sha256)).toBe(false);
    expect(has(rig, thumb)).toBe(false);
    expect(status(rig, young.id)).toMatchObject({ status: 'live', purge_announced_at: null });

    const purgedEntry = [...rig.catalog.ledger.entries()].find((e) => e.type === 'evidence.purged')!;
    expect(purgedEntry).toMatchObject({ subject: a.id, data: expect.objectContaining({ sha256: a.sha256, size: 1000, reason: 'retention', objectKept: false }) });
    const v = await verifyVault({ catalog: rig.catalog, store: rig.store });
    expect(v).toMatchObject({ ok: true, purged: 1 });
    expect(purge.runs().map((r) => r.purged)).toEqual([1, 0, 0]);
    expect(purge.run(third.runId!)!.items).toEqual([expect.objectContaining({ evidenceId: a.id, outcome: 'purged', bytesFreed: third.bytesFreed })]);
    await rig.close();
  });

  it("purges an item's browser-playable proxy with it (issue 15), unless a live item uses the same bytes", async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    const b = await rig.seed(OLD);
    const keep = await rig.seed({ recordedStart: '2026-11-20T02:00:00.000Z' });
    const proxyOfA = await rig.store.putContent(Readable.from([Buffer.from('an H.264 proxy of a')]));
    const addProxy = rig.catalog.db.prepare(
      `INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, created_at, updated_at)
       VALUES (?, ?, 'video', 'ready', 'hevc video', ?, ?, 'mp4', 't', 't')`,
    );
    const proxied = (id: string, source: string, sha256: string, size: number): void =>
      rig.catalog.tx(() => {
        addProxy.run(id, source, sha256, size);
        rig.catalog.ledger.append({
          type: 'evidence.proxied',
          actor: 'test',
          subject: id,
          data: { sha256: source, kind: 'video', reason: 'hevc video', proxy: { sha256, size, container: 'mp4', videoCodec: 'h264', audioCodec: null, width: 1280, height: 720, durationMs: 1000 } },
        });
      });
    proxied(a.id, a.sha256, proxyOfA.sha256, proxyOfA.size);
    // b's proxy has the same bytes as a live item's content: it must stay.
    proxied(b.id, b.sha256, keep.sha256, keep.content.length);
    const report = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' });
    expect(report, JSON.stringify(report)).toMatchObject({ status: 'completed', purged: 2, bytesFreed: 2000 + 'an H.264 proxy of a'.length });
    expect(has(rig, proxyOfA.sha256)).toBe(false);
    expect(has(rig, keep.sha256)).toBe(true);
    const entries = [...rig.catalog.ledger.entries()].filter((e) => e.type === 'evidence.purged');
    expect(entries.map((e) => [e.subject, e.data.proxy])).toEqual([
      [a.id, proxyOfA.sha256],
      [b.id, keep.sha256],
    ]);
    expect(await verifyVault({ catalog: rig.catalog, store: rig.store, deep: true })).toMatchObject({ ok: true });
    await rig.close();
  });

  it('with noticeDays 0 an expired item goes in the run that finds it; a late clip waits minDaysAfterIngest', async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    // Recorded in January, handed in today: kept 30 days from now.
    const late = await rig.seed({ recordedStart: OLD.recordedStart });
    const report = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' });
    expect(report).toMatchObject({ status: 'completed', announced: 1, purged: 1 });
    expect(status(rig, a.id).status).toBe('purged');
    expect(status(rig, late.id)).toMatchObject({ status: 'live', purge_announced_at: null });
    rig.clock.advance(30 * DAY);
    expect(await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' })).toMatchObject({ purged: 1 });
    expect(status(rig, late.id).status).toBe('purged');
    await rig.close();
  });

  it('never purges a held item; a hold withdraws the announcement; after a release it is announced anew and purged', async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    const cases = new CasesService(rig.catalog);
    const purge = purger(rig);
    await purge.execute({ actor: 'test' });
    expect(status(rig, a.id).purge_announced_at).not.toBeNull();
    const c = cases.create({ number: 'C1', name: 'obstruction at the market' }, 'user:li');
    cases.link(c.id, [a.id], 'user:li');
    const h = cases.placeHold(c.id, { reason: 'obstruction' }, 'user:li');
    expect(status(rig, a.id).purge_announced_at).toBeNull();
    for (let i = 0; i < 3; i++) {
      rig.clock.advance(10 * DAY);
      const r = await purge.execute({ actor: 'test' });
      expect(r).toMatchObject({ status: 'completed', purged: 0, announced: 0, skipped: 1, items: [expect.objectContaining({ reason: 'held' })] });
    }
    expect(has(rig, a.sha256)).toBe(true);
    cases.requestRelease(h.id, 'case closed', 'user:li');
    expect(await purge.execute({ actor: 'test' })).toMatchObject({ purged: 0, skipped: 1 });
    cases.approveRelease(h.id, 'user:wang');
    expect(await purge.execute({ actor: 'test' })).toMatchObject({ announced: 1, purged: 0 });
    rig.clock.advance(7 * DAY);
    expect(await purge.execute({ actor: 'test' })).toMatchObject({ purged: 1 });
    expect(has(rig, a.sha256)).toBe(false);
    await rig.close();
  });

  it('keeps content shared by a held and an unheld item; verify stays clean', async () => {
    const rig = await apiRig();
    const content = Buffer.from('the same clip docked from two recorders');
    const held = await rig.seed({ ...OLD, bytes: content, serial: 'R1' });
    const free = await rig.seed({ ...OLD, bytes: content, serial: 'R2' });
    const cases = new CasesService(rig.catalog);
    const c = cases.create({ number: 'C2', name: 'sensitive' }, 'user:li');
    cases.link(c.id, [held.id], 'user:li');
    cases.placeHold(c.id, { reason: 'sensitive' }, 'user:li');
    const report = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' });
    expect(report).toMatchObject({ purged: 1, bytesFreed: 0, skipped: 1 });
    expect(status(rig, free.id).status).toBe('purged');
    expect(status(rig, held.id).status).toBe('live');
    expect(has(rig, held.sha256)).toBe(true);
    const entry = [...rig.catalog.ledger.entries()].find((e) => e.type === 'evidence.purged')!;
    expect(entry.data).toMatchObject({ objectKept: true });
    expect(await verifyVault({ catalog: rig.catalog, store: rig.store })).toMatchObject({ ok: true, purged: 0 });
    await rig.close();
  });

  it('resumes cleanly after a run that stopped half-way (crash between the ledger entry and the delete)', async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    const b = await rig.seed(OLD);
    let deletes = 0;
    // The second delete "crashes": the process dies there, before the run is finished.
    const crashing: ObjectStore = Object.assign(Object.create(rig.store) as ObjectStore, {
      delete: async (key: string) => {
        if (++deletes === 2) throw new Error('power cut');
        return rig.store.delete(key);
      },
    });
    const first = await purger(rig, { noticeDays: 0 }, crashing).execute({ actor: 'test' });
    expect(first).toMatchObject({ status: 'failed', purged: 2 });
    expect([has(rig, a.sha256), has(rig, b.sha256)]).toEqual([false, true]);
    // The ledger says both were purged; the leftover object is not a problem.
    expect(await verifyVault({ catalog: rig.catalog, store: rig.store })).toMatchObject({ ok: true, purged: 2 });

    // A run killed outright stays "running": the next run finishes it and records it failed.
    rig.catalog.db.prepare("UPDATE purge_runs SET status = 'running', finished_at = NULL WHERE id = ?").run(first.runId);
    rig.clock.advance(DAY);
    const next = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' });
    expect(next).toMatchObject({ status: 'completed', resumed: 1, purged: 0 });
    expect(has(rig, b.sha256)).toBe(false);
    expect(purger(rig).runs().map((r) => r.status)).toEqual(['completed', 'failed']);
    expect(rig.ledgerTypes().filter((t) => t === 'evidence.purged')).toHaveLength(2);
    await rig.close();
  });

  it('a crashed run whose pid now belongs to another process does not block the purge; a live owner does', async () => {
    const rig = await apiRig();
    await rig.seed(OLD);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      const start = await processStart(other.pid!);
      expect(start).not.toBeNull();
      const first = await purger(rig).execute({ actor: 'test' });
      // The run was killed outright: still "running", its owner's pid now taken by another process.
      const leaveRunning = (runId: string | null, owner: { pid: number; start: string }): void => {
        rig.catalog.db.prepare("UPDATE purge_runs SET status = 'running', finished_at = NULL WHERE id = ?").run(runId);
        rig.catalog.setMeta('retention.purge.owner', JSON.stringify({ runId, ...owner }));
      };
      leaveRunning(first.runId, { pid: other.pid!, start: String(Number(start) - 1) });
      rig.clock.advance(DAY);
      const next = await purger(rig).execute({ actor: 'test' });
      expect({ status: next.status, refusal: next.refusal }).toEqual({ status: 'completed', refusal: null });
      // The dead run is closed as failed by the run that took over.
      expect(purger(rig).runs().map((r) => r.status)).toEqual(['completed', 'failed']);
      // The same pid with its own start time is a live owner: the run is refused.
      leaveRunning(next.runId, { pid: other.pid!, start: start ?? '' });
      await expect(purger(rig).execute({ actor: 'test' })).rejects.toMatchObject({ code: 'PURGE_RUNNING' });
    } finally {
      other.kill('SIGKILL');
    }
    await rig.close();
  });

  it('refuses when the clock jumped, unless forced, and when the ledger does not verify', async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    rig.clock.advance(40 * DAY);
    const refused = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' });
    expect(refused).toMatchObject({ status: 'refused', purged: 0, refusal: { code: 'PURGE_CLOCK_JUMP' } });
    expect(status(rig, a.id).status).toBe('live');
    rig.clock.t -= 60 * DAY; // backwards
    expect(await purger(rig, { noticeDays: 0 }).execute({ actor: 'test' })).toMatchObject({ refusal: { code: 'PURGE_CLOCK_JUMP' } });
    rig.clock.t += 60 * DAY;
    expect(await purger(rig, { noticeDays: 0 }).execute({ actor: 'test', force: true })).toMatchObject({ status: 'completed', purged: 1 });

    const b = await rig.seed(OLD);
    await rig.store.delete(contentKey(b.sha256)); // a missing object: the vault does not verify
    const bad = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test', force: true });
    expect(bad).toMatchObject({ status: 'refused', refusal: { code: 'PURGE_LEDGER_INVALID' } });
    expect(purger(rig).runs().map((r) => r.status)).toEqual(['refused', 'completed', 'refused', 'refused']);
    await rig.close();
  });

  it('refuses to remove more than maxPurgeFraction of the vault without --force', async () => {
    const rig = await apiRig();
    const old = [await rig.seed(OLD), await rig.seed(OLD)];
    for (let i = 0; i < 3; i++) await rig.seed();
    const refused = await purger(rig, { noticeDays: 0, maxPurgeFraction: 0.3 }).execute({ actor: 'test' });
    expect(refused).toMatchObject({ status: 'refused', refusal: { code: 'PURGE_TOO_MUCH' } });
    expect(old.map((o) => status(rig, o.id).status)).toEqual(['live', 'live']);
    expect(await purger(rig, { noticeDays: 0, maxPurgeFraction: 0.4 }).execute({ actor: 'test' })).toMatchObject({ purged: 2 });
    await rig.close();
  });

  it('a dry run reports what would happen and changes nothing', async () => {
    const rig = await apiRig();
    await rig.seed(OLD);
    await rig.seed({ ...OLD, recordedStart: '2026-05-25T02:00:00.000Z' }); // retention 25 Nov: due
    const before = { snap: rig.snapshot(), runs: purger(rig).runs().length, files: readdirSync(rig.store.location, { recursive: true }).length };
    const dry = await purger(rig, { noticeDays: 0 }).execute({ actor: 'test', dryRun: true });
    expect(dry).toMatchObject({ runId: null, dryRun: true, status: 'completed', purged: 2, bytesFreed: 2000 });
    const dryRefused = await purger(rig, { noticeDays: 0, maxPurgeFraction: 0.1 }).execute({ actor: 'test', dryRun: true });
    expect(dryRefused).toMatchObject({ runId: null, status: 'refused', refusal: { code: 'PURGE_TOO_MUCH' } });
    expect({ snap: rig.snapshot(), runs: purger(rig).runs().length, files: readdirSync(rig.store.location, { recursive: true }).length }).toEqual(before);
    expect(rig.catalog.db.prepare('SELECT count(*) AS n FROM evidence WHERE purge_announced_at IS NOT NULL').get()).toEqual({ n: 0 });
    await rig.close();
  });
});
