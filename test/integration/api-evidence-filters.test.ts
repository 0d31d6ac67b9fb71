/**
 * Issue 5: GET /evidence searches by case and by flag; GET /evidence/:id lists the
 * compliance flags that name the item. Real SQLite, real fs vault, fastify inject.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FlagsService } from '../../src/compliance/index.js';
import { CasesService } from '../../src/retention/index.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

interface Page {
  items: Array<{ id: string }>;
  next: string | null;
}

describe('evidence search by case and flag', () => {
  it('finds the items of a case and the items an unresolved flag names, within the caller scope', async () => {
    rig = await apiRig();
    const r = rig;
    const admin = r.user('admin', 'admin');
    const supA = r.user('sup A', 'supervisor', 'U1');
    const a1 = await r.seed({ unit: 'U1' });
    const a2 = await r.seed({ unit: 'U1' });
    const a3 = await r.seed({ unit: 'U1' });
    const b1 = await r.seed({ unit: 'U2', serial: 'ZFY002', officer: '0999' });

    const cases = new CasesService(r.catalog);
    const c = cases.create({ number: 'A-2026-001', name: '占道经营纠纷', unit: null }, 'test');
    cases.link(c.id, [a1.id, a3.id, b1.id], 'test');

    const flags = new FlagsService({ catalog: r.catalog, resolveWithinHours: 72 });
    const late = flags.raise({ rule: 'late-upload', key: `late:${a2.id}`, evidenceId: a2.id, unit: 'U1', seen: { delayHours: 30 }, summary: 'uploaded 30 h after recording' }, 'test')!;
    flags.raise({ rule: 'clock-drift', key: `drift:${a3.id}`, evidenceId: a3.id, unit: 'U1', seen: { driftMs: 480_000 }, summary: 'clock 8 min fast' }, 'test');
    flags.raise({ rule: 'late-upload', key: `late:${b1.id}`, evidenceId: b1.id, unit: 'U2', seen: {}, summary: 'late' }, 'test');

    const ids = async (token: string, query: string): Promise<string[]> => {
      const res = await r.call(token, { url: `/api/v1/evidence?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return body<Page>(res).items.map((i) => i.id).sort();
    };
    expect(await ids(admin.token, `case=${c.id}`)).toEqual([a1.id, a3.id, b1.id].sort());
    // Unit scope still applies: another unit's item in the same case stays hidden.
    expect(await ids(supA.token, `case=${c.id}`)).toEqual([a1.id, a3.id].sort());
    expect(await ids(admin.token, 'flag=late-upload')).toEqual([a2.id, b1.id].sort());
    expect(await ids(admin.token, 'flag=any&unit=U1')).toEqual([a2.id, a3.id].sort());
    expect(await ids(admin.token, `flag=clock-drift&case=${c.id}`)).toEqual([a3.id]);
    // Paging through a filtered search visits every item once.
    const first = body<Page>(await r.call(admin.token, { url: `/api/v1/evidence?case=${c.id}&limit=2` }));
    expect(first.items).toHaveLength(2);
    const second = body<Page>(await r.call(admin.token, { url: `/api/v1/evidence?case=${c.id}&limit=2&cursor=${first.next}` }));
    expect([...first.items, ...second.items].map((i) => i.id).sort()).toEqual([a1.id, a3.id, b1.id].sort());
    expect(second.next).toBeNull();

    // A resolved flag no longer selects its item, and still shows on the item.
    flags.resolve(late.id, { reason: 'recorder was in repair; handed in on return', approver: { id: admin.id, role: 'admin', unit: null, revoked: false }, actor: 'test' });
    expect(await ids(admin.token, 'flag=late-upload')).toEqual([b1.id]);
    const detail = body<{ flags: Array<{ rule: string; state: string; resolvedAt: string | null }> }>(await r.call(admin.token, { url: `/api/v1/evidence/${a2.id}` }));
    expect(detail.flags).toEqual([expect.objectContaining({ rule: 'late-upload', state: 'resolved', resolvedAt: expect.any(String) })]);
    expect(body<{ flags: unknown[] }>(await r.call(admin.token, { url: `/api/v1/evidence/${a1.id}` })).flags).toEqual([]);

    // Bad filter values are refused with 400, not passed to SQL.
    for (const q of ['case=../../etc/passwd', "case=1' OR '1'='1", 'flag=nope', 'flag=']) {
      const res = await r.call(admin.token, { url: `/api/v1/evidence?${q}` });
      expect(res.statusCode, q).toBe(400);
    }
  });
});

describe('access requests by case (issue 5)', () => {
  it('asks for every item of a case in the caller scope, ledgered with the case; refuses a hidden case and a mixed body', async () => {
    rig = await apiRig();
    const r = rig;
    const opA = r.user('operator A', 'operator', 'U1');
    const opB = r.user('operator B', 'operator', 'U2');
    const a1 = await r.seed({ unit: 'U1' });
    const a2 = await r.seed({ unit: 'U1' });
    const b1 = await r.seed({ unit: 'U2', serial: 'ZFY002' });
    const cases = new CasesService(r.catalog);
    // A unit A case that also names an item of unit B (a joint operation).
    const shared = cases.create({ number: 'A-2026-002', name: 'joint case', unit: 'U1' }, 'test');
    cases.link(shared.id, [a1.id, a2.id, b1.id], 'test');
    const unitB = cases.create({ number: 'B-2026-001', name: 'unit B only', unit: 'U2' }, 'test');
    cases.link(unitB.id, [b1.id], 'test');

    const res = await r.call(opA.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId: shared.id, reason: '复议审查 / review' } });
    expect(res.statusCode, res.body).toBe(201);
    const created = body<{ id: string; items: Array<{ evidenceId: string }> | undefined; evidenceIds?: string[] }>(res);
    const entry = [...r.catalog.ledger.entries()].find((e) => e.type === 'access.request.created' && e.subject === created.id)!;
    expect(entry.data).toMatchObject({ caseId: shared.id, evidenceIds: [a1.id, a2.id].sort() });

    const before = r.snapshot();
    const hidden = await r.call(opA.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId: unitB.id, reason: 'x' } });
    expect(hidden.statusCode).toBe(404);
    const both = await r.call(opA.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId: shared.id, evidenceIds: [a1.id], reason: 'x' } });
    expect(both.statusCode).toBe(400);
    const neither = await r.call(opA.token, { method: 'POST', url: '/api/v1/access-requests', payload: { reason: 'x' } });
    expect(neither.statusCode).toBe(400);
    expect(r.snapshot().access_requests).toBe(before.access_requests);
    // Unit B's operator cannot see unit A's case at all; its own case works.
    expect((await r.call(opB.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId: shared.id, reason: 'y' } })).statusCode).toBe(404);
    const forB = await r.call(opB.token, { method: 'POST', url: '/api/v1/access-requests', payload: { caseId: unitB.id, reason: 'y' } });
    expect(forB.statusCode).toBe(201);
    const entryB = [...r.catalog.ledger.entries()].find((e) => e.type === 'access.request.created' && e.subject === body<{ id: string }>(forB).id)!;
    expect(entryB.data).toMatchObject({ caseId: unitB.id, evidenceIds: [b1.id] });
  });
});
