/**
 * Issue 8: POST /api/v1/cases/{id}/exports — archivist or admin only, unit scope,
 * destinations only inside archive.destinationRoots; two verified copies and the
 * export.created entry, with a checkpoint signed by the station key.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyExport } from '../../src/archive/index.js';
import { ensureStationKey } from '../../src/vault/index.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

async function setup(): Promise<{ r: ApiRig; caseId: string; otherCaseId: string; roots: string }> {
  const roots = join(await tempDir('custody-export-roots-'), 'burner');
  await mkdir(roots);
  const r = await apiRig({ CUSTODY_ARCHIVE_DESTINATION_ROOTS: roots });
  rig = r;
  await ensureStationKey(r.home);
  const a = await r.seed({ name: '执法视频_0001.MP4', unit: 'U1' });
  const b = await r.seed({ name: 'REC_0002.WAV', type: 'audio', unit: 'U1' });
  const caseId = uuidv7();
  const otherCaseId = uuidv7();
  r.catalog.tx(() => {
    const now = r.clock.now().toISOString();
    r.catalog.db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, '2026-088', '王某某投诉案', 'U1', ?, 'test')").run(caseId, now);
    r.catalog.db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, '2026-089', 'other', 'U2', ?, 'test')").run(otherCaseId, now);
    // Issue 14: only a protected case is exported.
    r.catalog.db.prepare("INSERT INTO holds (id, case_id, reason, placed_at, placed_by) VALUES (?, ?, 'dispute', ?, 'test')").run(uuidv7(), caseId, now);
    r.catalog.ledger.append({ type: 'case.created', actor: 'test', subject: caseId, data: { number: '2026-088' } });
    for (const id of [a.id, b.id]) {
      r.catalog.db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, ?, 'test')").run(caseId, id, now);
      r.catalog.ledger.append({ type: 'case.linked', actor: 'test', subject: id, data: { caseId } });
    }
  });
  return { r, caseId, otherCaseId, roots };
}

/** Issue 19: the export runs as a job; wait for it and read its result from GET /exports/{id}. */
async function finished(r: ApiRig, token: string, started: { statusCode: number; body: string }): Promise<{ statusCode: number; body: string }> {
  expect(started.statusCode, started.body).toBe(202);
  const job = body<{ id: string; status: string }>(started);
  expect(['queued', 'running']).toContain(job.status);
  await r.server.context.exportJobs.settled();
  const res = await r.call(token, { url: `/api/v1/exports/${job.id}` });
  expect(res.statusCode, res.body).toBe(200);
  return { statusCode: 201, body: JSON.stringify(body<{ job: { result: unknown } }>(res).job.result) };
}

/** Issue 14: the exporter's own access request for the case, approved by a supervisor. */
async function grant(r: ApiRig, exporter: { token: string }, caseId: string): Promise<string> {
  const created = await r.call(exporter.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId, reason: '归档：当事人投诉' } });
  expect(created.statusCode, created.body).toBe(201);
  const id = body<{ id: string }>(created).id;
  const sup = r.user(`supervisor ${id.slice(-4)}`, 'supervisor');
  expect((await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` })).statusCode).toBe(200);
  return id;
}

describe('POST /api/v1/cases/{id}/exports (issue 8)', { timeout: 60_000 }, () => {
  it('an archivist exports two verified copies; the export is ledgered', async () => {
    const { r, caseId, roots } = await setup();
    const archivist = r.user('档案员', 'archivist');
    await grant(r, archivist, caseId);
    const res = await finished(
      r,
      archivist.token,
      await r.call(archivist.token, {
        method: 'POST',
        url: `/api/v1/cases/${caseId}/exports`,
        payload: { destinations: [join(roots, 'disc1'), join(roots, 'disc2')], maker: '档案员 刘' },
      }),
    );
    expect(res.statusCode, res.body).toBe(201);
    const out = body<{ ok: boolean; exportId: string; caseId: string; items: number; seq: number; checkpointSize: number | null; copies: Array<{ ok: boolean; dir: string; tagManifestSha256: string }> }>(res);
    expect(out).toMatchObject({ ok: true, caseId, items: 2, held: true });
    expect(out.checkpointSize).not.toBeNull();
    expect(out.copies).toHaveLength(2);
    for (const c of out.copies) {
      expect(c.ok).toBe(true);
      const v = await verifyExport(c.dir);
      expect(v.problems).toEqual([]);
      expect(v.custody?.proven).toBe(v.custody?.entries);
      expect((await readdir(join(c.dir, 'data'))).some((n) => n.endsWith('_执法视频_0001.MP4'))).toBe(true);
    }
    const entry = r.catalog.ledger.get(out.seq)!;
    expect(entry).toMatchObject({ type: 'export.created', subject: caseId, actor: `user:${archivist.id}` });
    expect(entry.data).toMatchObject({ exportId: out.exportId, ok: true, copies: [{ tagManifestSha256: out.copies[0]!.tagManifestSha256 }, { tagManifestSha256: out.copies[1]!.tagManifestSha256 }] });
  });

  it('refuses other roles, other units, destinations outside the roots and a wrong number of copies, writing nothing', async () => {
    const { r, caseId, otherCaseId, roots } = await setup();
    const payload = { destinations: [join(roots, 'a'), join(roots, 'b')], maker: 'm' };
    const operator = r.user('op', 'operator');
    expect((await r.call(operator.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload })).statusCode).toBe(403);
    const auditor = r.user('au', 'auditor');
    expect((await r.call(auditor.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload })).statusCode).toBe(403);
    const scoped = r.user('scoped', 'archivist', 'U1');
    expect((await r.call(scoped.token, { method: 'POST', url: `/api/v1/cases/${otherCaseId}/exports`, payload })).statusCode).toBe(404);
    const admin = r.user('admin', 'admin');
    await grant(r, admin, caseId);
    const outside = await r.call(admin.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: { destinations: ['/tmp/x', join(roots, 'b')], maker: 'm' } });
    expect(outside.statusCode).toBe(403);
    expect(body<{ error: { code: string } }>(outside).error.code).toBe('EXPORT_DESTINATION_FORBIDDEN');
    const escape = await r.call(admin.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: { destinations: [join(roots, '..', 'x'), join(roots, 'b')], maker: 'm' } });
    expect(escape.statusCode).toBe(403);
    const one = await r.call(admin.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: { destinations: [join(roots, 'a')], maker: 'm' } });
    expect(one.statusCode).toBe(400);
    expect(await readdir(roots)).toEqual([]);
    expect(r.ledgerTypes()).not.toContain('export.created');
  });

  it('issue 19: runs as a job — progress per copy, the record for the labels and handover sheet, a re-mounted copy checked and recorded', async () => {
    const { r, caseId, roots } = await setup();
    const archivist = r.user('档案员', 'archivist');
    await grant(r, archivist, caseId);
    const dests = { destinations: [join(roots, 'disc1'), join(roots, 'disc2')], maker: '档案员 刘' };
    // The console follows the job on the event stream: each change of it is published.
    const told: Array<{ unit: string | null; job: { id: string; status: string; progress: Array<{ phase: string }> } }> = [];
    const unsubscribe = r.activity.subscribe((e) => {
      if (e.type === 'export') told.push({ unit: e.unit, job: e.job as (typeof told)[number]['job'] });
    });
    expect(body<{ roots: string[]; copies: number }>(await r.call(archivist.token, { url: '/api/v1/exports/destinations' }))).toEqual({ roots: [roots], copies: 2 });
    const started = await r.call(archivist.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: dests });
    expect(started.statusCode, started.body).toBe(202);
    const id = body<{ id: string }>(started).id;
    // One at a time.
    const again = await r.call(archivist.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: dests });
    expect(again.statusCode).toBe(409);
    expect(body<{ error: { code: string } }>(again).error.code).toBe('EXPORT_RUNNING');
    await r.server.context.exportJobs.settled();
    unsubscribe();
    expect(told.length).toBeGreaterThanOrEqual(3);
    expect(told.every((t) => t.unit === 'U1' && t.job.id === id)).toBe(true);
    expect(['queued', 'running']).toContain(told[0]!.job.status);
    expect(told.at(-1)!.job.status).toBe('done');
    expect(told.at(-1)!.job.progress.map((p) => p.phase)).toEqual(['verified', 'verified']);
    expect(told.some((t) => t.job.status === 'running')).toBe(true);

    type View = {
      job: { status: string; progress: Array<{ copy: number; phase: string; files: number; filesTotal: number; bytes: number; bytesTotal: number; checkedFiles: number }>; result: { ok: boolean; copies: Array<{ dir: string }> } };
      record: { exportId: string; caseNumber: string; caseName: string; organization: string; maker: string; items: number; checkpoint: { size: number; root: string }; copies: Array<{ copy: number; copies: number; tagManifestSha256: string }>; verifications: Array<{ copy: number; ok: boolean; matches: boolean; via: string }> };
    };
    const view = body<View>(await r.call(archivist.token, { url: `/api/v1/exports/${id}` }));
    expect(view.job.status).toBe('done');
    for (const p of view.job.progress) {
      expect(p).toMatchObject({ phase: 'verified', files: 2, filesTotal: 2, checkedFiles: 2 });
      expect(p.bytes).toBe(p.bytesTotal);
    }
    expect(view.record).toMatchObject({ exportId: id, caseNumber: '2026-088', caseName: '王某某投诉案', organization: 'U1', maker: '档案员 刘', items: 2 });
    expect(view.record.checkpoint.root).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(view.record.copies.map((c) => [c.copy, c.copies])).toEqual([[1, 2], [2, 2]]);
    const listed = body<{ items: Array<{ id: string }> }>(await r.call(archivist.token, { url: `/api/v1/exports?caseId=${caseId}` }));
    expect(listed.items.map((j) => j.id)).toEqual([id]);
    // Out of scope: looks like missing.
    const other = r.user('外单位', 'archivist', 'U2');
    expect((await r.call(other.token, { url: `/api/v1/exports/${id}` })).statusCode).toBe(404);
    expect(body<{ items: unknown[] }>(await r.call(other.token, { url: '/api/v1/exports' })).items).toEqual([]);

    // The second copy, re-mounted: checked and recorded against the export.
    const copy2 = view.job.result.copies[1]!.dir;
    const checked = await r.call(archivist.token, { method: 'POST', url: `/api/v1/exports/${id}/verifications`, payload: { dir: copy2 } });
    expect(checked.statusCode, checked.body).toBe(201);
    expect(body(checked)).toMatchObject({ copy: 2, ok: true, matches: true, problems: [] });
    // A changed file on the first: recorded as not good, with its problem.
    await writeFile(join(view.job.result.copies[0]!.dir, 'README.txt'), 'changed');
    const bad = await r.call(archivist.token, { method: 'POST', url: `/api/v1/exports/${id}/verifications`, payload: { dir: view.job.result.copies[0]!.dir } });
    expect(body<{ ok: boolean; problems: Array<{ code: string }> }>(bad)).toMatchObject({ ok: false, problems: [{ code: 'TAG_CHECKSUM_MISMATCH' }] });
    const after = body<View>(await r.call(archivist.token, { url: `/api/v1/exports/${id}` }));
    expect(after.record.verifications.map((v) => [v.copy, v.ok, v.via])).toEqual([[2, true, 'api'], [1, false, 'api']]);
    const entries = r.catalog.db.prepare("SELECT actor, subject FROM ledger WHERE type = 'export.verified'").all();
    expect(entries).toEqual([{ actor: `user:${archivist.id}`, subject: caseId }, { actor: `user:${archivist.id}`, subject: caseId }]);
    // A folder outside the roots is refused.
    const outside = await r.call(archivist.token, { method: 'POST', url: `/api/v1/exports/${id}/verifications`, payload: { dir: '/etc' } });
    expect(outside.statusCode).toBe(403);
  });

  it('issue 19: an export the station stopped in is interrupted at the next start, ledgered, and never reported good', async () => {
    const { r, caseId } = await setup();
    const id = uuidv7();
    const progress = [{ copy: 1, phase: 'verifying', files: 2, filesTotal: 2, bytes: 10, bytesTotal: 10, checkedFiles: 1, checkedBytes: 5 }, { copy: 2, phase: 'waiting', files: 0, filesTotal: 2, bytes: 0, bytesTotal: 10, checkedFiles: 0, checkedBytes: 0 }];
    r.catalog.db
      .prepare("INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, created_at, started_at) VALUES (?, ?, 'user:x', 'm', '[\"/a\",\"/b\"]', 0, 'running', ?, 't0', 't0')")
      .run(id, caseId, JSON.stringify(progress));
    expect(r.server.context.exportJobs.recover('custody:api')).toBe(1);
    const admin = r.user('admin', 'admin');
    const view = body<{ job: { status: string; result: unknown; error: { code: string } }; record: unknown }>(await r.call(admin.token, { url: `/api/v1/exports/${id}` }));
    expect(view).toMatchObject({ job: { status: 'interrupted', result: null, error: { code: 'EXPORT_INTERRUPTED' } }, record: null });
    const e = r.catalog.db.prepare("SELECT subject, data FROM ledger WHERE type = 'export.interrupted'").get() as { subject: string; data: string };
    expect(e.subject).toBe(caseId);
    expect(JSON.parse(e.data)).toMatchObject({ exportId: id, status: 'running', copies: [{ copy: 1, phase: 'verifying' }, { copy: 2, phase: 'waiting' }] });
    expect(r.server.context.exportJobs.recover('custody:api')).toBe(0);
  });

  it('issue 19: a station stopping while an export runs leaves it interrupted, with nothing half-made published', async () => {
    const { r, caseId, roots } = await setup();
    // Enough bytes that the stop lands while the first copy is being written or checked.
    const big = await r.seed({ name: 'BIG.MP4', unit: 'U1', bytes: 64 * 1024 * 1024 });
    r.catalog.db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, ?, 'test')").run(caseId, big.id, r.clock.now().toISOString());
    const archivist = r.user('档案员', 'archivist');
    await grant(r, archivist, caseId);
    const started = await r.call(archivist.token, { method: 'POST', url: `/api/v1/cases/${caseId}/exports`, payload: { destinations: [join(roots, 'disc1'), join(roots, 'disc2')], maker: 'm' } });
    expect(started.statusCode, started.body).toBe(202);
    const id = body<{ id: string }>(started).id;
    await r.server.stop();
    const row = r.catalog.db.prepare('SELECT status, result, error FROM export_jobs WHERE id = ?').get(id) as { status: string; result: string | null; error: string | null };
    expect(row.status).toBe('interrupted');
    expect(JSON.parse(row.error!)).toMatchObject({ code: 'EXPORT_INTERRUPTED' });
    // No copy reported good that was not verified, and no partial folder published.
    const result = row.result === null ? null : (JSON.parse(row.result) as { copies: Array<{ ok: boolean; verified: boolean }> });
    for (const c of result?.copies ?? []) expect(c.ok).toBe(c.verified);
    for (const d of ['disc1', 'disc2']) {
      const names = await readdir(join(roots, d)).catch(() => [] as string[]);
      expect(names.filter((n) => n.endsWith('.partial'))).toEqual([]);
    }
  });
});
