import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { PurgeService } from '../../src/retention/index.js';
import { purgeSettings } from '../../src/options.js';
import { loadConfig } from '../../src/config/index.js';
import { apiRig, body } from './api-fixtures.js';

const OLD = { recordedStart: '2026-01-10T02:00:00.000Z', ingestedAt: '2026-01-10T06:00:00.000Z' };

describe('cases, holds and retention over HTTP (issue 7)', () => {
  it('creates a case, links evidence, protects it, and a second supervisor releases it; the item shows its retention and holds', async () => {
    const rig = await apiRig();
    const item = await rig.seed({ recordedStart: '2026-08-31T04:00:00.000Z', ingestedAt: '2026-08-31T06:00:00.000Z' });
    const other = await rig.seed({ unit: 'U2' });
    const li = rig.user('Li', 'supervisor', 'U1');
    const wang = rig.user('Wang', 'supervisor', 'U1');
    const op = rig.user('Op', 'operator', 'U1');
    const u2 = rig.user('Zhao', 'supervisor', 'U2');

    expect((await rig.call(op.token, { method: 'POST', url: '/api/v1/cases', payload: { number: 'X-1', name: 'n' } })).statusCode).toBe(403);
    expect((await rig.call(li.token, { method: 'POST', url: '/api/v1/cases', payload: { number: 'X-1', name: 'n', unit: 'U2' } })).statusCode).toBe(400);
    const created = await rig.call(li.token, { method: 'POST', url: '/api/v1/cases', payload: { number: 'XM-2026-0042', name: 'Market dispute' } });
    expect(created.statusCode).toBe(201);
    const c = body<{ id: string; unit: string }>(created);
    expect(c.unit).toBe('U1');
    expect((await rig.call(li.token, { method: 'POST', url: '/api/v1/cases', payload: { number: 'XM-2026-0042', name: 'again' } })).statusCode).toBe(409);

    // Another unit's item, or another unit's case, is not there.
    expect((await rig.call(li.token, { method: 'POST', url: `/api/v1/cases/${c.id}/evidence`, payload: { evidenceIds: [other.id] } })).statusCode).toBe(404);
    expect((await rig.call(u2.token, { url: `/api/v1/cases/${c.id}` })).statusCode).toBe(404);
    const linked = await rig.call(li.token, { method: 'POST', url: `/api/v1/cases/${c.id}/evidence`, payload: { evidenceIds: [item.id] } });
    expect(body(linked)).toMatchObject({ linked: [item.id], case: { evidenceIds: [item.id], held: false } });

    expect((await rig.call(li.token, { method: 'POST', url: `/api/v1/cases/${c.id}/holds`, payload: { reason: 'other' } })).statusCode).toBe(400);
    const placed = await rig.call(li.token, { method: 'POST', url: `/api/v1/cases/${c.id}/holds`, payload: { reason: 'dispute' } });
    expect(placed.statusCode).toBe(201);
    const hold = body<{ id: string }>(placed);

    const detail = body(await rig.call(op.token, { url: `/api/v1/evidence/${item.id}` }));
    // 31 Aug 12:00 Shanghai + 6 months = 28 Feb 2027 12:00 Shanghai.
    expect(detail).toMatchObject({
      retentionDate: '2027-02-28T04:00:00.000Z',
      retention: { state: 'held', announcedAt: null },
      holds: [{ holdId: hold.id, caseNumber: 'XM-2026-0042', reason: 'dispute' }],
      cases: [{ id: c.id, number: 'XM-2026-0042' }],
    });

    const releaseUrl = `/api/v1/cases/${c.id}/holds/${hold.id}/release`;
    expect((await rig.call(wang.token, { method: 'POST', url: releaseUrl })).statusCode).toBe(409); // nobody asked yet
    expect((await rig.call(li.token, { method: 'POST', url: `${releaseUrl}-request`, payload: { reason: 'complaint withdrawn' } })).statusCode).toBe(200);
    const self = await rig.call(li.token, { method: 'POST', url: releaseUrl });
    expect(self.statusCode).toBe(403);
    expect(body(self)).toMatchObject({ error: { code: 'HOLD_SELF_APPROVAL' } });
    expect((await rig.call(op.token, { method: 'POST', url: releaseUrl })).statusCode).toBe(403);
    const released = await rig.call(wang.token, { method: 'POST', url: releaseUrl });
    expect(body(released)).toMatchObject({ state: 'released', releasedBy: `user:${wang.id}`, releaseRequestedBy: `user:${li.id}` });
    expect(body(await rig.call(op.token, { url: `/api/v1/evidence/${item.id}` }))).toMatchObject({ retention: { state: 'retained' }, holds: [] });
    expect(body(await rig.call(op.token, { url: '/api/v1/cases' }))).toMatchObject({ items: [{ id: c.id }] });
    expect(body(await rig.call(u2.token, { url: '/api/v1/cases' }))).toEqual({ items: [] });

    // An unscoped admin links another unit's item to this case and protects it: U2 sees it held, but not U1's case.
    const admin = rig.user('Admin', 'admin');
    await rig.call(admin.token, { method: 'POST', url: `/api/v1/cases/${c.id}/evidence`, payload: { evidenceIds: [other.id] } });
    await rig.call(admin.token, { method: 'POST', url: `/api/v1/cases/${c.id}/holds`, payload: { reason: 'sensitive' } });
    expect(body(await rig.call(u2.token, { url: `/api/v1/evidence/${other.id}` }))).toMatchObject({ retention: { state: 'held' }, holds: [], cases: [] });
    expect(body(await rig.call(admin.token, { url: `/api/v1/evidence/${other.id}` }))).toMatchObject({ holds: [{ caseId: c.id }], cases: [{ id: c.id }] });
    expect(rig.ledgerTypes()).toEqual(expect.arrayContaining(['case.created', 'case.linked', 'hold.placed', 'hold.release-requested', 'hold.released']));
    await rig.close();
  });

  it('lists pending items in scope and the purge runs', async () => {
    const rig = await apiRig();
    const a = await rig.seed(OLD);
    const b = await rig.seed({ ...OLD, unit: 'U2' });
    const config = loadConfig({ home: rig.home, env: { CUSTODY_RETENTION_MAX_PURGE_FRACTION: '1' } });
    const report = await new PurgeService({ catalog: rig.catalog, store: rig.store, settings: purgeSettings(config), log: silentLogger }).execute({ actor: 'test' });
    expect(report).toMatchObject({ announced: 2, purged: 0 });
    const sup = rig.user('Li', 'supervisor', 'U1');
    const auditor = rig.user('Audit', 'auditor');
    expect(body(await rig.call(sup.token, { url: '/api/v1/retention/pending' }))).toMatchObject({ items: [{ evidenceId: a.id, dueAt: '2026-12-04T08:00:00.000Z' }] });
    expect(body<{ items: unknown[] }>(await rig.call(auditor.token, { url: '/api/v1/retention/pending' })).items).toHaveLength(2);
    expect((await rig.call(sup.token, { url: '/api/v1/retention/runs' })).statusCode).toBe(403); // spans units
    const runs = body<{ items: { id: string }[] }>(await rig.call(auditor.token, { url: '/api/v1/retention/runs' }));
    expect(runs.items).toEqual([expect.objectContaining({ id: report.runId, status: 'completed', counted: 2, announced: 2, purged: 0 })]);
    const run = body<{ items: { evidenceId: string }[] }>(await rig.call(auditor.token, { url: `/api/v1/retention/runs/${report.runId}` }));
    expect(run.items.map((i) => i.evidenceId).sort()).toEqual([a.id, b.id].sort());
    expect(body(await rig.call(sup.token, { url: `/api/v1/evidence/${a.id}` }))).toMatchObject({ retention: { state: 'pending-purge', dueAt: '2026-12-04T08:00:00.000Z' } });
    await rig.close();
  });
});
