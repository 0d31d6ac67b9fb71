/**
 * Issue 8: POST /api/v1/cases/{id}/exports — archivist or admin only, unit scope,
 * destinations only inside archive.destinationRoots; two verified copies and the
 * export.created entry, with a checkpoint signed by the station key.
 */
import { mkdir, readdir } from 'node:fs/promises';
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
    const res = await r.call(archivist.token, {
      method: 'POST',
      url: `/api/v1/cases/${caseId}/exports`,
      payload: { destinations: [join(roots, 'disc1'), join(roots, 'disc2')], maker: '档案员 刘' },
    });
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
});
