/**
 * Issue 14: access rules that hold on every path. Each test is one finding of the
 * issue, written as the attack that worked before the fix.
 */
import { mkdir, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/ledger/index.js';
import { ensureStationKey } from '../../src/vault/index.js';
import { apiRig, body, contentKey, type ApiRig } from './api-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

async function open(env: Record<string, string> = {}): Promise<ApiRig> {
  rig = await apiRig(env);
  return rig;
}

type Err = { error: { code: string; message: string } };
const code = (res: { body: string }): string => body<Err>(res).error.code;
const entries = (r: ApiRig): LedgerEntry[] => [...r.catalog.ledger.entries()];
const post = (r: ApiRig, token: string, url: string, payload: unknown = {}) => r.call(token, { method: 'POST', url, payload });

/** Issue 19: an export runs as a job; its result, once it ended, as the old synchronous answer was (201). */
async function exported(r: ApiRig, token: string, url: string, payload: unknown): Promise<{ statusCode: number; body: string }> {
  const started = await post(r, token, url, payload);
  if (started.statusCode !== 202) return started;
  await r.server.context.exportJobs.settled();
  const res = await r.call(token, { url: `/api/v1/exports/${body<{ id: string }>(started).id}` });
  return { statusCode: res.statusCode === 200 ? 201 : res.statusCode, body: JSON.stringify(body<{ job: { result: unknown } }>(res).job.result) };
}

/** A case row (as the API would create it), with items linked, optionally held. */
function makeCase(r: ApiRig, opts: { number: string; unit: string | null; items: string[]; held?: boolean }): string {
  const id = uuidv7();
  r.catalog.tx(() => {
    const now = r.clock.now().toISOString();
    r.catalog.db.prepare('INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)').run(id, opts.number, `案件 ${opts.number}`, opts.unit, now, 'test');
    r.catalog.ledger.append({ type: 'case.created', actor: 'test', subject: id, data: { number: opts.number } });
    for (const e of opts.items) {
      r.catalog.db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, ?, 'test')").run(id, e, now);
      r.catalog.ledger.append({ type: 'case.linked', actor: 'test', subject: e, data: { caseId: id, caseNumber: opts.number } });
    }
    if (opts.held) r.catalog.db.prepare("INSERT INTO holds (id, case_id, reason, placed_at, placed_by) VALUES (?, ?, 'dispute', ?, 'test')").run(uuidv7(), id, now);
  });
  return id;
}

/** An access request by `who`, approved by `approver`; returns its id. */
async function granted(r: ApiRig, who: { token: string }, approver: { token: string }, payload: { caseId: string } | { evidenceIds: string[] }): Promise<string> {
  const created = await post(r, who.token, '/api/v1/access-requests', { ...payload, reason: '复核：当事人投诉' });
  expect(created.statusCode, created.body).toBe(201);
  const id = body<{ id: string }>(created).id;
  const ok = await post(r, approver.token, `/api/v1/access-requests/${id}/approve`);
  expect(ok.statusCode, ok.body).toBe(200);
  return id;
}

async function exportRoots(): Promise<string> {
  const roots = join(await tempDir('custody-roots-'), 'burner');
  await mkdir(roots);
  return roots;
}

describe('issue 14: access rules on every path', { timeout: 60_000 }, () => {
  it('finding 1: an export needs a protected case and a grant approved by another; only the exporter’s items go out, each registered; the excerpt has no access entries', async () => {
    const roots = await exportRoots();
    const r = await open({ CUSTODY_ARCHIVE_DESTINATION_ROOTS: roots });
    await ensureStationKey(r.home);
    const a = await r.seed({ unit: 'U1', name: 'A.MP4' });
    const b = await r.seed({ unit: 'U2', serial: 'ZFY002', name: 'B.MP4' });
    // A bureau-wide user linked an item of U2 into U1's case.
    const caseId = makeCase(r, { number: '2026-140', unit: 'U1', items: [a.id, b.id] });
    const archivist = r.user('档案员甲', 'archivist', 'U1');
    const supervisor = r.user('科长乙', 'supervisor', 'U1');
    // Someone else's registered views of both items (their ids and addresses).
    const viewer = r.user('旁人', 'operator');
    const boss = r.user('局领导', 'supervisor');
    await granted(r, viewer, boss, { evidenceIds: [a.id, b.id] });
    for (const e of [a, b]) expect((await r.call(viewer.token, { url: `/api/v1/evidence/${e.id}/content` })).statusCode).toBe(200);

    const dest = { destinations: [join(roots, 'd1'), join(roots, 'd2')], maker: '档案员甲' };
    const exportUrl = `/api/v1/cases/${caseId}/exports`;
    // The attack: one archivist alone.
    const alone = await post(r, archivist.token, exportUrl, dest);
    expect(alone.statusCode).toBe(403);
    expect(code(alone)).toBe('EXPORT_CASE_NOT_PROTECTED');
    r.catalog.db.prepare("INSERT INTO holds (id, case_id, reason, placed_at, placed_by) VALUES (?, ?, 'dispute', ?, 'test')").run(uuidv7(), caseId, r.clock.now().toISOString());
    const noGrant = await post(r, archivist.token, exportUrl, dest);
    expect(noGrant.statusCode).toBe(403);
    expect(code(noGrant)).toBe('EXPORT_GRANT_REQUIRED');
    expect(await readdir(roots)).toEqual([]);
    expect(r.ledgerTypes()).not.toContain('export.created');
    expect(r.ledgerTypes()).not.toContain('access.exported');
    const denied = entries(r).filter((e) => e.type === 'access.denied' && e.actor === `user:${archivist.id}`);
    expect(denied.map((e) => e.data.code)).toEqual(['EXPORT_CASE_NOT_PROTECTED', 'EXPORT_GRANT_REQUIRED']);

    // An approval by someone who has since lost their access does not count.
    const gone = r.user('离任科长', 'supervisor', 'U1');
    const archivist2 = r.user('档案员丙', 'archivist', 'U1');
    await granted(r, archivist2, gone, { caseId });
    r.server.context.users.revoke(gone.id, 'test');
    const stale = await post(r, archivist2.token, exportUrl, dest);
    expect(code(stale)).toBe('EXPORT_APPROVER_INVALID');

    const requestId = await granted(r, archivist, supervisor, { caseId });
    const res = await exported(r, archivist.token, exportUrl, dest);
    expect(res.statusCode, res.body).toBe(201);
    const out = body<{ ok: boolean; exportId: string; items: number; copies: Array<{ dir: string }> }>(res);
    expect(out).toMatchObject({ ok: true, items: 1 });
    for (const c of out.copies) {
      const data = await readdir(join(c.dir, 'data'));
      expect(data).toHaveLength(1);
      expect(data[0]).toMatch(/A\.MP4$/);
      const excerpt = (await readFile(join(c.dir, 'custody', 'ledger.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as LedgerEntry);
      expect(excerpt.length).toBeGreaterThan(0);
      expect(excerpt.filter((e) => e.type.startsWith('access.'))).toEqual([]);
      expect(excerpt.some((e) => e.subject === b.id)).toBe(false);
    }
    const registered = entries(r).filter((e) => e.type === 'access.exported');
    expect(registered.map((e) => [e.actor, e.subject, e.data.request, e.data.exportId])).toEqual([[`user:${archivist.id}`, a.id, requestId, out.exportId]]);
    // Registered before the export was recorded as made.
    const created = entries(r).find((e) => e.type === 'export.created')!;
    expect(registered[0]!.seq).toBeLessThan(created.seq);
  });

  it('finding 2: destinations are real paths — a symlink inside a root, an alias of one folder, and /etc/cron.d are refused and ledgered', async () => {
    const base = await tempDir('custody-roots-');
    const root = join(base, 'burner');
    const alias = join(base, 'burner-alias');
    const outside = join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await symlink(root, alias);
    await symlink(outside, join(root, 'escape'));
    const r = await open({ CUSTODY_ARCHIVE_DESTINATION_ROOTS: `${root},${alias}` });
    const a = await r.seed({ unit: 'U1' });
    const caseId = makeCase(r, { number: '2026-141', unit: 'U1', items: [a.id], held: true });
    const admin = r.user('管理员', 'admin');
    await granted(r, admin, r.user('领导', 'supervisor'), { caseId });
    const url = `/api/v1/cases/${caseId}/exports`;

    const viaLink = await post(r, admin.token, url, { destinations: [join(root, 'escape', 'bag'), join(root, 'b')], maker: 'm' });
    expect(viaLink.statusCode).toBe(403);
    expect(code(viaLink)).toBe('EXPORT_DESTINATION_FORBIDDEN');
    expect(body<Err>(viaLink).error.message).not.toContain(outside);
    const twice = await post(r, admin.token, url, { destinations: [join(root, 'x'), join(alias, 'x')], maker: 'm' });
    expect(twice.statusCode).toBe(400);
    expect(body<Err>(twice).error.message).toMatch(/overlap/);
    const cron = await post(r, admin.token, url, { destinations: ['/etc/cron.d', join(root, 'b')], maker: 'm' });
    expect(cron.statusCode).toBe(403);
    expect(code(cron)).toBe('EXPORT_DESTINATION_FORBIDDEN');
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(root)).toEqual(['escape']);
    expect(r.ledgerTypes()).not.toContain('access.exported');

    r.server.context.denials.flush(true);
    const denied = entries(r).filter((e) => e.type === 'access.denied' && e.data.code === 'EXPORT_DESTINATION_FORBIDDEN');
    // The first at once; the repeat within the minute with its count.
    expect(denied.map((e) => [e.actor, e.data.repeated])).toEqual([
      [`user:${admin.id}`, undefined],
      [`user:${admin.id}`, 1],
    ]);
  });

  it('finding 3: a scoped operator cannot assign another unit’s officer or recorder, and an overlap does not name another unit’s assignment', async () => {
    const r = await open();
    await r.seed({ unit: 'U2', serial: 'ZFY200', officer: '0520' });
    await r.seed({ unit: 'U1', serial: 'ZFY100', officer: '0417' });
    const admin = r.user('管理员', 'admin');
    const opU1 = r.user('一科操作员', 'operator', 'U1');
    const ok = await post(r, admin.token, '/api/v1/assignments', { officer: '0520', name: '二科民警', unit: 'U2', recorder: 'ZFY777', startsAt: '2026-11-26T08:00:00+08:00', endsAt: '2026-11-26T18:00:00+08:00' });
    expect(ok.statusCode, ok.body).toBe(201);
    const theirs = body<{ id: string }>(ok).id;
    // Officers are registered bureau-wide; U1 then assigns its own (api-access-gaps.test.ts).
    expect((await post(r, admin.token, '/api/v1/assignments', { officer: '0417', name: '一科民警', unit: 'U1', recorder: 'ZFY100', startsAt: '2026-11-25T08:00:00+08:00', endsAt: '2026-11-25T18:00:00+08:00' })).statusCode).toBe(201);
    expect((await post(r, opU1.token, '/api/v1/assignments', { officer: '0417', recorder: 'ZFY100', startsAt: '2026-11-26T08:00:00+08:00' })).statusCode).toBe(201);
    const before = r.snapshot();

    // Move unitB's officer into unitA by naming them.
    const move = await post(r, opU1.token, '/api/v1/assignments', { officer: '0520', name: '二科民警', unit: 'U1', recorder: 'ZFY100', startsAt: '2026-11-27T08:00:00+08:00' });
    expect(move.statusCode).toBe(404);
    // Credit unitB's recorder's clips to an officer of unitA.
    const steal = await post(r, opU1.token, '/api/v1/assignments', { officer: '0417', recorder: 'ZFY200', startsAt: '2026-11-27T08:00:00+08:00' });
    expect(steal.statusCode).toBe(404);
    expect(r.snapshot()).toMatchObject({ ...before, ledger: expect.any(Number) });
    const officer = r.catalog.db.prepare("SELECT unit FROM officers WHERE number = '0520'").get() as { unit: string };
    expect(officer.unit).toBe('U2');
    expect(entries(r).filter((e) => e.type.startsWith('assignment.') || e.type.startsWith('officer.')).length).toBe(5);

    // The roster path too.
    const roster = await post(r, opU1.token, '/api/v1/assignments/import', { csv: 'officer,name,unit,recorder,start,end\n0417,一科民警,U1,ZFY200,2026-11-28 08:00,2026-11-28 18:00\n' });
    expect(roster.statusCode).toBe(404);

    // A recorder U1 does not have (ZFY777 was never docked in U1) is refused like any
    // unknown one, before its overlap with U2's assignment could be told.
    const clash = await post(r, opU1.token, '/api/v1/assignments', { officer: '0417', recorder: 'ZFY777', startsAt: '2026-11-26T09:00:00+08:00', endsAt: '2026-11-26T10:00:00+08:00' });
    expect(clash.statusCode).toBe(404);
    expect(code(clash)).toBe('NOT_FOUND');
    expect(clash.body).not.toContain('0520');
    expect(clash.body).not.toContain(theirs);
  });

  it('finding 4: a case’s details, an item’s history and holds stay within the caller’s unit', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1' });
    const b = await r.seed({ unit: 'U2', serial: 'ZFY002' });
    const mine = makeCase(r, { number: '2026-142', unit: 'U1', items: [a.id, b.id] });
    const theirs = makeCase(r, { number: 'U2-机密-7', unit: 'U2', items: [a.id] });
    const sup = r.user('一科科长', 'supervisor', 'U1');

    const detail = body<{ evidenceIds: string[] }>(await r.call(sup.token, { url: `/api/v1/cases/${mine}` }));
    expect(detail.evidenceIds).toEqual([a.id]);
    const item = await r.call(sup.token, { url: `/api/v1/evidence/${a.id}` });
    expect(item.statusCode).toBe(200);
    expect(item.body).not.toContain(theirs);
    expect(item.body).not.toContain('U2-机密-7');
    expect(body<{ ledger: LedgerEntry[] }>(item).ledger.map((e) => e.type)).toEqual(['evidence.ingested', 'case.linked']);

    // A hold on U1's case would protect (and its release free) U2's item.
    const hold = await post(r, sup.token, `/api/v1/cases/${mine}/holds`, { reason: 'dispute' });
    expect(hold.statusCode).toBe(403);
    expect(hold.body).not.toContain(b.id);
    expect(r.catalog.db.prepare('SELECT count(*) AS n FROM holds').get()).toEqual({ n: 0 });

    // Case numbers are unique per unit: another unit's number is free, and the new case
    // is U1's own (api-access-gaps.test.ts).
    const same = await post(r, sup.token, '/api/v1/cases', { number: 'U2-机密-7', name: '一科的' });
    expect(same.statusCode).toBe(201);
    expect(same.body).not.toContain(theirs);
  });

  it('finding 9: a recorder’s dock history stays with the unit it was in at each dock', async () => {
    const r = await open();
    await r.seed({ unit: 'U1', serial: 'ZFY005' });
    const dock = (id: string, at: string, unit: string | null) =>
      r.catalog.tx(() => {
        r.catalog.db
          .prepare("INSERT INTO docks (id, recorder_serial, location, docked_at, battery_percent, verdict, reasons) VALUES (?, 'ZFY005', '/media/x', ?, 80, 'ready', '[]')")
          .run(id, at);
        r.catalog.ledger.append({ type: 'device.docked', actor: 'test', subject: 'ZFY005', data: { dockId: id, identity: { serial: 'ZFY005', unit } } });
      });
    dock('dock-u2-old', '2026-11-01T08:00:00.000Z', 'U2');
    dock('dock-u2-last', '2026-11-10T08:00:00.000Z', 'U2');
    dock('dock-u1', '2026-11-20T08:00:00.000Z', 'U1');
    dock('dock-u1-later', '2026-11-25T08:00:00.000Z', null); // no unit reported: the current one
    const sup = r.user('一科科长', 'supervisor', 'U1');
    const admin = r.user('管理员', 'admin');
    const seen = async (token: string) => body<{ docks: Array<{ id: string }> }>(await r.call(token, { url: '/api/v1/devices/ZFY005' })).docks.map((d) => d.id);
    expect(await seen(sup.token)).toEqual(['dock-u1-later', 'dock-u1']);
    expect(await seen(admin.token)).toEqual(['dock-u1-later', 'dock-u1', 'dock-u2-last', 'dock-u2-old']);
    const u2 = r.user('二科科长', 'supervisor', 'U2');
    expect((await r.call(u2.token, { url: '/api/v1/devices/ZFY005' })).statusCode).toBe(404);
    // Moved back to U2 (its current unit), U2 sees only its own era; U1 no longer sees the recorder.
    r.catalog.db.prepare("UPDATE recorders SET unit = 'U2' WHERE serial = 'ZFY005'").run();
    expect(await seen(u2.token)).toEqual(['dock-u1-later', 'dock-u2-last', 'dock-u2-old']);
    const list = body<{ items: Array<{ serial: string; lastDock: { id: string } | null }> }>(await r.call(u2.token, { url: '/api/v1/devices' }));
    expect(list.items.find((d) => d.serial === 'ZFY005')!.lastDock!.id).toBe('dock-u1-later');
  });

  it('finding 5: X-Forwarded-For is believed only from api.trustedProxies', async () => {
    const r = await open({ CUSTODY_API_TRUSTED_PROXIES: '10.0.0.1', CUSTODY_API_AUTH_FAILURE_LIMIT: '3' });
    const a = await r.seed({ unit: 'U1' });
    const op = r.user('操作员', 'operator', 'U1');
    await granted(r, op, r.user('科长', 'supervisor', 'U1'), { evidenceIds: [a.id] });
    const get = (remoteAddress: string, xff: string, token: string, url: string) =>
      r.server.app.inject({ method: 'GET', url, remoteAddress, headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': xff } });

    const viaProxy = await get('10.0.0.1', '192.0.2.7', op.token, `/api/v1/evidence/${a.id}/content`);
    expect(viaProxy.statusCode).toBe(200);
    const forged = await get('127.0.0.1', '192.0.2.66', op.token, `/api/v1/evidence/${a.id}/content`);
    expect(forged.statusCode).toBe(200);
    const views = entries(r).filter((e) => e.type === 'access.viewed');
    expect(views.map((v) => v.data.ip)).toEqual(['192.0.2.7', '127.0.0.1']);

    // A forged header per attempt does not reset the failed sign-in limit.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('127.0.0.1', `198.51.100.${i}`, `cst_${'x'.repeat(43)}`, '/api/v1/me')).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });

  it('finding 6: self-approvals and export destination refusals are ledgered; identical refusals are coalesced per minute', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1', officer: '0417' });
    const sup = r.user('科长', 'supervisor', 'U1');
    const caseId = makeCase(r, { number: '2026-143', unit: 'U1', items: [a.id] });
    const hold = body<{ id: string }>(await post(r, sup.token, `/api/v1/cases/${caseId}/holds`, { reason: 'dispute' }));
    expect((await post(r, sup.token, `/api/v1/cases/${caseId}/holds/${hold.id}/release-request`, { reason: '结案' })).statusCode).toBe(200);
    const self = await post(r, sup.token, `/api/v1/cases/${caseId}/holds/${hold.id}/release`);
    expect(code(self)).toBe('HOLD_SELF_APPROVAL');

    r.catalog.db.prepare("INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES ('0417', '科长本人', 'U1', ?, 't', 't')").run(sup.id);
    const flagId = uuidv7();
    r.catalog.db
      .prepare("INSERT INTO flags (id, rule, dedupe_key, officer, evidence_id, unit, seen, summary, raised_at, due_by) VALUES (?, 'late-upload', ?, '0417', ?, 'U1', '{}', '逾期上传', ?, ?)")
      .run(flagId, `late:${a.id}`, a.id, r.clock.now().toISOString(), r.clock.now().toISOString());
    const selfFlag = await post(r, sup.token, `/api/v1/flags/${flagId}/resolve`, { reason: '是我自己' });
    expect(code(selfFlag)).toBe('FLAG_SELF_APPROVAL');

    const admin = r.user('管理员', 'admin');
    const noRoots = await post(r, admin.token, `/api/v1/cases/${caseId}/exports`, { destinations: ['/etc/cron.d', '/etc/cron.daily'], maker: 'm' });
    expect(code(noRoots)).toBe('EXPORT_DESTINATION_FORBIDDEN');

    const codes = entries(r).filter((e) => e.type === 'access.denied').map((e) => [e.actor, e.data.code]);
    expect(codes).toEqual([
      [`user:${sup.id}`, 'HOLD_SELF_APPROVAL'],
      [`user:${sup.id}`, 'FLAG_SELF_APPROVAL'],
      [`user:${admin.id}`, 'EXPORT_DESTINATION_FORBIDDEN'],
    ]);

    // A valid user hammering a refused route: the ledger grows by one entry now and one
    // with the count when the minute is over, not by one per request.
    const op = r.user('操作员', 'operator', 'U1');
    const before = r.catalog.ledger.count();
    for (let i = 0; i < 300; i++) expect((await r.call(op.token, { url: '/api/v1/ledger' })).statusCode).toBe(403);
    expect(r.catalog.ledger.count()).toBe(before + 1);
    r.clock.advance(61_000);
    r.server.context.denials.flush();
    expect(r.catalog.ledger.count()).toBe(before + 2);
    expect(entries(r).at(-1)!.data).toMatchObject({ code: 'FORBIDDEN', repeated: 299, route: '/api/v1/ledger' });
  });

  it('finding 7: a thumbnail is content — a grant by default; with previews, small video frames only, still registered; photos never', async () => {
    // A WebP header (VP8X) of the given size: enough for the preview check.
    const webp = (w: number, h: number): Buffer => {
      const b = Buffer.alloc(30);
      b.write('RIFF', 0, 'ascii');
      b.writeUInt32LE(22, 4);
      b.write('WEBPVP8X', 8, 'ascii');
      b.writeUInt32LE(10, 16);
      b.writeUIntLE(w - 1, 24, 3);
      b.writeUIntLE(h - 1, 27, 3);
      return b;
    };
    const r = await open({ CUSTODY_API_PREVIEWS: 'video-frames' });
    const video = await r.seed({ unit: 'U1', thumbnail: webp(320, 180) });
    const big = await r.seed({ unit: 'U1', thumbnail: webp(1280, 720) });
    const photo = await r.seed({ unit: 'U1', type: 'photo', name: 'P.JPG', thumbnail: webp(160, 120) });
    const op = r.user('操作员', 'operator', 'U1');
    const thumb = (id: string) => r.call(op.token, { url: `/api/v1/evidence/${id}/thumbnail` });

    expect((await thumb(video.id)).statusCode).toBe(200);
    expect(code(await thumb(big.id))).toBe('ACCESS_GRANT_REQUIRED');
    expect(code(await thumb(photo.id))).toBe('ACCESS_GRANT_REQUIRED');
    r.server.context.previews.flush(true);
    const previewed = entries(r).filter((e) => e.type === 'access.previewed');
    expect(previewed.map((e) => [e.actor, e.data.evidenceIds])).toEqual([[`user:${op.id}`, [video.id]]]);

    // The default: no thumbnail without a grant.
    await r.close();
    const d = await open();
    const v = await d.seed({ unit: 'U1', thumbnail: webp(160, 90) });
    const op2 = d.user('操作员', 'operator', 'U1');
    expect(code(await d.call(op2.token, { url: `/api/v1/evidence/${v.id}/thumbnail` }))).toBe('ACCESS_GRANT_REQUIRED');
    expect(d.ledgerTypes()).not.toContain('access.previewed');
  });

  it('finding 9: out-of-scope answers like missing, at comparable speed (median within 2×)', async () => {
    const r = await open();
    const hidden = await r.seed({ unit: 'U2', serial: 'ZFY002' });
    const sup = r.user('一科科长', 'supervisor', 'U1');
    const missing = '01a21d91-0000-7000-8000-000000000000';
    const time = async (id: string): Promise<[number, string]> => {
      const t = process.hrtime.bigint();
      const res = await r.call(sup.token, { url: `/api/v1/evidence/${id}` });
      return [Number(process.hrtime.bigint() - t) / 1e6, res.body.replace(id, '<id>')];
    };
    for (let i = 0; i < 20; i++) await time(i % 2 ? hidden.id : missing);
    const h: number[] = [];
    const m: number[] = [];
    const bodies = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const [th, bh] = await time(hidden.id);
      const [tm, bm] = await time(missing);
      h.push(th);
      m.push(tm);
      bodies.add(bh).add(bm);
    }
    const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratio = median(h) / median(m);
    expect(bodies.size).toBe(1);
    expect(ratio).toBeLessThanOrEqual(2);
    expect(ratio).toBeGreaterThanOrEqual(0.5);
  });

  it('finding 9: a grant can be revoked before it expires, by its approver or an admin, and the revocation is ledgered', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1' });
    const op = r.user('操作员', 'operator', 'U1');
    const sup = r.user('科长', 'supervisor', 'U1');
    const other = r.user('另一科长', 'supervisor', 'U1');
    const id = await granted(r, op, sup, { evidenceIds: [a.id] });
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(200);
    expect((await post(r, other.token, `/api/v1/access-requests/${id}/revoke`)).statusCode).toBe(403);
    const revoked = await post(r, sup.token, `/api/v1/access-requests/${id}/revoke`, { note: '调查结束' });
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(body(revoked)).toMatchObject({ status: 'revoked', revokedBy: { id: sup.id, name: '科长' } });
    expect(code(await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` }))).toBe('ACCESS_GRANT_REQUIRED');
    expect(code(await post(r, sup.token, `/api/v1/access-requests/${id}/revoke`))).toBe('ACCESS_REQUEST_NOT_GRANTED');
    const entry = entries(r).find((e) => e.type === 'access.request.revoked')!;
    expect(entry).toMatchObject({ actor: `user:${sup.id}`, subject: id, data: { requester: op.id, note: '调查结束' } });

    const id2 = await granted(r, op, sup, { evidenceIds: [a.id] });
    const admin = r.user('管理员', 'admin');
    expect((await post(r, admin.token, `/api/v1/access-requests/${id2}/revoke`)).statusCode).toBe(200);
  });

  it('finding 9: a token in the query string is refused, and neither stored nor kept in the refusal record', async () => {
    const r = await open();
    const op = r.user('操作员', 'operator', 'U1');
    for (const url of [`/api/v1/me?access_token=${op.token}`, `/api/v1/evidence?token=${op.token}`, `/api/v1/me?x=${op.token}`]) {
      const res = await r.call(null, { url });
      expect(res.statusCode).toBe(400);
      expect(code(res)).toBe('TOKEN_IN_URL');
    }
    // With a header too: still refused, the URL is never the credential.
    expect(code(await r.call(op.token, { url: `/api/v1/me?access_token=${op.token}` }))).toBe('TOKEN_IN_URL');
    await r.call(null, { url: `/api/v1/unknown/${op.token}` });
    await r.call(`cst_${'y'.repeat(43)}`, { url: `/api/v1/me?q=${op.token.slice(0, 20)}` });
    const rows = r.catalog.db.prepare('SELECT url FROM auth_failures').all() as Array<{ url: string }>;
    for (const row of rows) expect(row.url).not.toContain(op.token.slice(4, 20));
    const ledger = JSON.stringify(entries(r));
    expect(ledger).not.toContain(op.token.slice(4, 20));
  });

  it('finding 9: a token in a URL never reaches the log', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
    rig = await apiRig({}, { log });
    const r = rig;
    const op = r.user('操作员', 'operator', 'U1');
    await r.call(null, { url: `/api/v1/me?access_token=${op.token}` });
    await r.call(null, { url: `/api/v1/evidence/${op.token}` });
    await r.call(`cst_${'y'.repeat(43)}`, { url: `/api/v1/evidence/${op.token}` });
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.join('')).not.toContain(op.token.slice(4, 20));
  });

  it('finding 9: a truncated or altered vault object is never served as a good answer, and is reported corrupt', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1', bytes: 200_000 });
    const b = await r.seed({ unit: 'U1', bytes: 200_000 });
    const op = r.user('操作员', 'operator', 'U1');
    await granted(r, op, r.user('科长', 'supervisor', 'U1'), { evidenceIds: [a.id, b.id] });
    const file = (sha: string): string => join(r.store.location, contentKey(sha));

    await truncate(file(a.sha256), 1000);
    const short = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` });
    expect(short.statusCode).toBe(500);
    expect(code(short)).toBe('VAULT_OBJECT_CORRUPT');
    expect(short.rawPayload.includes(a.content.subarray(0, 64))).toBe(false);
    expect(r.ledgerTypes().filter((t) => t === 'access.viewed')).toEqual([]);

    const altered = Buffer.from(b.content);
    altered[150_000] = altered[150_000]! ^ 0xff;
    await writeFile(file(b.sha256), altered);
    const whole = await r.call(op.token, { url: `/api/v1/evidence/${b.id}/content` });
    // Never a complete body: the transfer ends short of its Content-Length.
    expect(whole.rawPayload.length).toBeLessThan(b.content.length);
    const corrupt = entries(r).filter((e) => e.type === 'evidence.corrupt');
    expect(corrupt.map((e) => [e.subject, e.data.kind])).toEqual([
      [a.id, 'size'],
      [b.id, 'hash'],
    ]);
  });

  it('guard: a vault verification’s problems, as auditors read them, carry no station paths or system messages', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1' });
    // An object that cannot be read as a file: the system's error names its path.
    const file = join(r.store.location, contentKey(a.sha256));
    await rm(file);
    await mkdir(file);
    const auditor = r.user('审计员', 'auditor');
    expect((await post(r, auditor.token, '/api/v1/ledger/verify', { deep: true })).statusCode).toBe(202);
    await r.server.context.verify.settled();
    const res = await r.call(auditor.token, { url: '/api/v1/ledger/verify' });
    const last = body<{ last: { ok: boolean; problems: Array<{ message: string }>; error: string | null } }>(res).last;
    expect(last.ok).toBe(false);
    expect(last.problems.length + (last.error ? 1 : 0)).toBeGreaterThan(0);
    expect(res.body).not.toContain(r.home);
    expect(res.body).not.toContain(r.dir);
    expect(res.body).not.toMatch(/E[A-Z]{3,}: [a-z]/);
  });

  it('finding 9: an export’s errors carry no station paths or system messages', async () => {
    const roots = await exportRoots();
    const r = await open({ CUSTODY_ARCHIVE_DESTINATION_ROOTS: roots });
    await ensureStationKey(r.home);
    const a = await r.seed({ unit: 'U1' });
    const caseId = makeCase(r, { number: '2026-144', unit: 'U1', items: [a.id], held: true });
    const admin = r.user('管理员', 'admin');
    await granted(r, admin, r.user('领导', 'supervisor'), { caseId });
    // A file where the first copy's folder should be: writing it fails in the system.
    await writeFile(join(roots, 'blocked'), 'not a folder');
    const res = await exported(r, admin.token, `/api/v1/cases/${caseId}/exports`, { destinations: [join(roots, 'blocked', 'disc'), join(roots, 'ok')], maker: 'm' });
    expect(res.statusCode, res.body).toBe(201);
    const out = body<{ ok: boolean; copies: Array<{ ok: boolean; error: { code: string; message: string } | null }> }>(res);
    expect(out.ok).toBe(false);
    expect(out.copies[0]!.ok).toBe(false);
    const message = out.copies[0]!.error!.message;
    expect(message).not.toContain(r.home);
    expect(message).not.toMatch(/ENOTDIR:|EEXIST:|no such file|not a directory/);
    expect(message).not.toContain(roots);
    expect(out.copies[1]!.ok).toBe(true);
  });
});
