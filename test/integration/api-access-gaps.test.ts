/**
 * Issue 14, the gaps left after the first round: each test is the attack that worked
 * before its fix.
 * - CASE_NUMBER_TAKEN confirmed other units' case numbers (numbers were unique
 *   bureau-wide); now each unit numbers its own cases, and a number that several units
 *   use names no case until the caller says which.
 * - An assignment for another unit's officer was 404 while one for an unknown officer
 *   created it: an oracle for which officer numbers (and recorder serials) other units have.
 * - A revoked grant showed as `expired`.
 */
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SELECT } from '../../src/access/access-requests.js';
import { CaseSource } from '../../src/archive/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { LedgerSealer, rebuildLedger, type LedgerEntry } from '../../src/ledger/index.js';
import { CasesService } from '../../src/retention/index.js';
import { testVault } from '../helpers/ledger-vault.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

async function open(): Promise<ApiRig> {
  rig = await apiRig();
  return rig;
}

type Err = { error: { code: string; message: string } };
const err = (res: { body: string }): Err['error'] => body<Err>(res).error;
const entries = (r: ApiRig): LedgerEntry[] => [...r.catalog.ledger.entries()];
const post = (r: ApiRig, token: string, url: string, payload: unknown = {}) => r.call(token, { method: 'POST', url, payload });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('issue 14: case numbers are unique per unit, and never confirm another unit’s case', () => {
  it('a unit creates a number another unit already has; within a unit the number is still taken', async () => {
    const r = await open();
    const supA = r.user('一科科长', 'supervisor', 'U1');
    const supB = r.user('二科科长', 'supervisor', 'U2');
    const admin = r.user('管理员', 'admin');
    const theirs = await post(r, supB.token, '/api/v1/cases', { number: 'XM-2026-0042', name: '二科的案件' });
    expect(theirs.statusCode, theirs.body).toBe(201);
    const theirId = body<{ id: string }>(theirs).id;

    // The attack: try U2's number from U1. Before, 409 CASE_NUMBER_TAKEN said it existed.
    const mine = await post(r, supA.token, '/api/v1/cases', { number: 'XM-2026-0042', name: '一科的案件' });
    expect(mine.statusCode, mine.body).toBe(201);
    expect(body(mine)).toMatchObject({ number: 'XM-2026-0042', unit: 'U1', name: '一科的案件' });
    expect(mine.body).not.toContain(theirId);
    const myId = body<{ id: string }>(mine).id;

    // Within U1 the number is taken, and the refusal speaks of U1 only.
    const again = await post(r, supA.token, '/api/v1/cases', { number: 'XM-2026-0042', name: '重复' });
    expect(again.statusCode).toBe(409);
    expect(err(again)).toEqual({ code: 'CASE_NUMBER_TAKEN', message: 'case number XM-2026-0042 is already in use in unit U1' });
    expect(again.body).not.toMatch(/U2|二科/);
    // A unit's numbers are its own business: no refusal of U1 is about U2's case.
    expect(entries(r).filter((e) => e.type === 'access.denied')).toEqual([]);

    // A bureau-wide case may carry it too; two bureau-wide ones may not.
    expect((await post(r, admin.token, '/api/v1/cases', { number: 'XM-2026-0042', name: '全局' })).statusCode).toBe(201);
    const bureauTwice = await post(r, admin.token, '/api/v1/cases', { number: 'XM-2026-0042', name: '全局重复' });
    expect(err(bureauTwice)).toEqual({ code: 'CASE_NUMBER_TAKEN', message: 'case number XM-2026-0042 is already in use among the bureau-wide cases' });

    // Each unit sees its own; the case of the other unit stays hidden.
    expect(body<{ items: Array<{ id: string }> }>(await r.call(supA.token, { url: '/api/v1/cases' })).items.map((c) => c.id)).toEqual([myId]);
    expect((await r.call(supA.token, { url: `/api/v1/cases/${theirId}` })).statusCode).toBe(404);
    expect(body<{ items: unknown[] }>(await r.call(admin.token, { url: '/api/v1/cases' })).items).toHaveLength(3);
    expect(r.ledgerTypes().filter((t) => t === 'case.created')).toHaveLength(3);
  });

  it('a lookup by number finds the caller’s own case, and says which units when the number is ambiguous', async () => {
    const r = await open();
    const cases = new CasesService(r.catalog);
    const u1 = cases.create({ number: '2026-7', name: '一科', unit: 'U1' }, 'user:a');
    const u2 = cases.create({ number: '2026-7', name: '二科', unit: 'U2' }, 'user:b');
    const only = cases.create({ number: '2026-8', name: '二科独有', unit: 'U2' }, 'user:b');

    // A U1 caller finds U1's case by number, and nothing of U2's, whichever way it is named.
    expect(cases.find('2026-7', 'U1').id).toBe(u1.id);
    expect(() => cases.find('2026-8', 'U1')).toThrow(expect.objectContaining({ code: 'NOT_FOUND', message: 'case not found: 2026-8' }));
    expect(() => cases.find(u2.id, 'U1')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(cases.find(only.id, 'U2').id).toBe(only.id);
    // Bureau-wide: the number names two cases, so it names none; the error says which.
    const ambiguous = (() => {
      try {
        cases.find('2026-7');
      } catch (e) {
        return e as { code: string; message: string; details: unknown };
      }
      return null;
    })();
    expect(ambiguous).toMatchObject({
      code: 'CASE_NUMBER_AMBIGUOUS',
      message: `case number 2026-7 is used in more than one unit (U1: ${u1.id}, U2: ${u2.id}): name the case by its id`,
      details: { number: '2026-7', cases: [{ id: u1.id, unit: 'U1' }, { id: u2.id, unit: 'U2' }] },
    });
    expect(cases.find(u2.id).id).toBe(u2.id);
    expect(cases.byNumber('2026-7', 'U2').map((c) => c.id)).toEqual([u2.id]);

    // The export's own lookup, the same way.
    const source = new CaseSource(r.catalog.db);
    expect(source.findCase('2026-7', 'U2')?.id).toBe(u2.id);
    expect(source.findCase('2026-8', 'U1')).toBeNull();
    expect(() => source.findCase('2026-7')).toThrow(expect.objectContaining({ code: 'CASE_NUMBER_AMBIGUOUS' }));
    expect(() => source.findCase('2026-7', 'U1')).not.toThrow();
  });

  it('a catalog rebuilt from the ledger has every unit’s case of the same number, links and holds', async () => {
    const v = await testVault('custody-case-numbers-rebuild-');
    const put = await v.store.putContent(Readable.from([Buffer.from('clip')]));
    v.catalog.ledger.append({
      type: 'evidence.ingested',
      actor: 'ingest',
      subject: 'e1',
      data: {
        sha256: put.sha256,
        size: put.size,
        mediaType: 'video',
        recorder: { serial: 'BWC-1', model: 'M' },
        officer: '0417',
        unit: 'U1',
        sourcePath: 'DCIM/e1.MP4',
        sourceName: 'e1.MP4',
        sourceMtime: '2026-11-20T02:00:00.000Z',
        recordedStart: '2026-11-20T02:00:00.000Z',
        recordedEnd: null,
        recordedSource: 'filename',
        clockDriftMs: null,
        recordedStartCorrected: null,
        recordedEndCorrected: null,
        ingestedAt: '2026-11-20T03:00:00.000Z',
        sessionId: 's1',
      },
    });
    const sealLoseRebuild = async (): Promise<void> => {
      await new LedgerSealer({ catalog: v.catalog, store: v.store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true });
      v.catalog.close();
      for (const suffix of ['', '-wal', '-shm']) await rm(v.catalogFile + suffix, { force: true });
      v.reopen();
      const r = await rebuildLedger({ catalog: v.catalog, store: v.store });
      expect(r).toMatchObject({ ok: true, evidence: { rebuilt: 1, skipped: 0 } });
    };
    await sealLoseRebuild();
    const cases = new CasesService(v.catalog);
    const a = cases.create({ number: 'N-1', name: '一科', unit: 'U1' }, 'user:a');
    cases.create({ number: 'N-1', name: '二科', unit: 'U2' }, 'user:b');
    cases.create({ number: 'N-1', name: '全局' }, 'user:c');
    cases.link(a.id, ['e1'], 'user:a');
    cases.placeHold(a.id, { reason: 'dispute' }, 'user:a');
    const snapshot = (): unknown => ({
      cases: v.catalog.db.prepare('SELECT id, number, name, unit, created_by FROM cases ORDER BY id').all(),
      links: v.catalog.db.prepare('SELECT case_id, evidence_id FROM case_evidence').all(),
      holds: v.catalog.db.prepare('SELECT id, case_id, reason FROM holds').all(),
    });
    const before = snapshot();
    expect((before as { cases: unknown[] }).cases).toHaveLength(3);
    await sealLoseRebuild();
    expect(snapshot()).toEqual(before);
    expect(new CasesService(v.catalog).holdsOn('e1')).toHaveLength(1);
  });
});

describe('issue 14: an assignment tells a unit nothing about other units’ officers and recorders', () => {
  async function twoUnits() {
    const r = await open();
    await r.seed({ unit: 'U1', serial: 'ZFY100', officer: '0417' });
    await r.seed({ unit: 'U2', serial: 'ZFY200', officer: '0520' });
    const admin = r.user('管理员', 'admin');
    const opU1 = r.user('一科操作员', 'operator', 'U1');
    // Officers are registered bureau-wide (here by the admin's first assignment of each).
    for (const [officer, unit, recorder] of [['0417', 'U1', 'ZFY100'], ['0520', 'U2', 'ZFY200']] as const) {
      const ok = await post(r, admin.token, '/api/v1/assignments', { officer, name: `民警${officer}`, unit, recorder, startsAt: '2026-11-20T08:00:00+08:00', endsAt: '2026-11-20T18:00:00+08:00' });
      expect(ok.statusCode, ok.body).toBe(201);
    }
    return { r, admin, opU1 };
  }

  it('another unit’s officer and an unknown one are refused alike: same status, same body, same record, comparable time; nothing is created', async () => {
    const { r, opU1 } = await twoUnits();
    const shift = { recorder: 'ZFY100', startsAt: '2026-11-26T08:00:00+08:00', endsAt: '2026-11-26T18:00:00+08:00' };
    const before = r.snapshot();
    const officersBefore = r.catalog.db.prepare('SELECT * FROM officers ORDER BY number').all();

    // The attack: before, 0520 (U2's) answered 404 while 0999 (nobody) was created with 201.
    const theirs = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer: '0520', name: '试探', unit: 'U1' });
    const nobody = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer: '0999', name: '试探', unit: 'U1' });
    expect([theirs.statusCode, nobody.statusCode]).toEqual([404, 404]);
    expect(theirs.body.replace('0520', 'N')).toBe(nobody.body.replace('0999', 'N'));
    expect(err(nobody)).toEqual({ code: 'NOT_FOUND', message: 'officer not found: 0999' });
    // Without a name or unit, the same.
    const bare = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer: '0520' });
    expect(bare.body).toBe(theirs.body);

    // The same for recorders: another unit's and an unknown serial.
    const theirRecorder = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer: '0417', recorder: 'ZFY200' });
    const noRecorder = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer: '0417', recorder: 'ZFY999' });
    expect([theirRecorder.statusCode, noRecorder.statusCode]).toEqual([404, 404]);
    expect(theirRecorder.body.replace('ZFY200', 'S')).toBe(noRecorder.body.replace('ZFY999', 'S'));

    // And the roster.
    const roster = (officer: string, recorder: string) => ({ csv: `officer,name,unit,recorder,start,end\n${officer},试探,U1,${recorder},2026-11-28 08:00,2026-11-28 18:00\n` });
    const rosterTheirs = await post(r, opU1.token, '/api/v1/assignments/import', roster('0520', 'ZFY100'));
    const rosterNobody = await post(r, opU1.token, '/api/v1/assignments/import', roster('0999', 'ZFY100'));
    expect([rosterTheirs.statusCode, rosterNobody.statusCode]).toEqual([404, 404]);
    expect(rosterTheirs.body.replace('0520', 'N')).toBe(rosterNobody.body.replace('0999', 'N'));
    const rosterNoRecorder = await post(r, opU1.token, '/api/v1/assignments/import', roster('0417', 'ZFY999'));
    expect(rosterNoRecorder.body.replace('ZFY999', 'S')).toBe(
      (await post(r, opU1.token, '/api/v1/assignments/import', roster('0417', 'ZFY200'))).body.replace('ZFY200', 'S'),
    );

    // Nothing was created or moved; both kinds of refusal are on record the same way.
    expect(r.catalog.db.prepare('SELECT * FROM officers ORDER BY number').all()).toEqual(officersBefore);
    expect(r.snapshot()).toMatchObject({ ...before, ledger: expect.any(Number) });
    expect(r.ledgerTypes().filter((t) => t.startsWith('assignment.') || t.startsWith('officer.'))).toHaveLength(4);
    r.server.context.denials.flush(true);
    const denied = entries(r).filter((e) => e.type === 'access.denied' && e.data.route === '/api/v1/assignments');
    expect(denied.map((e) => e.data.code)).toEqual(['OUT_OF_SCOPE', 'OUT_OF_SCOPE']);
    expect(denied[1]!.data.subjects).toEqual(expect.arrayContaining(['0999', '0520', 'ZFY200', 'ZFY999']));

    // Timing: alternate the two, many times; the medians are within 2× of each other.
    const times: Record<'theirs' | 'nobody', number[]> = { theirs: [], nobody: [] };
    for (let i = 0; i < 40; i++) {
      for (const [k, officer] of [['theirs', '0520'], ['nobody', '0999']] as const) {
        const t0 = process.hrtime.bigint();
        const res = await post(r, opU1.token, '/api/v1/assignments', { ...shift, officer, name: '试探', unit: 'U1' });
        times[k].push(Number(process.hrtime.bigint() - t0));
        expect(res.statusCode).toBe(404);
      }
    }
    const ratio = median(times.theirs) / median(times.nobody);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('a unit still assigns its own officers and recorders, and a bureau-wide user still registers new ones', async () => {
    const { r, admin, opU1 } = await twoUnits();
    const own = await post(r, opU1.token, '/api/v1/assignments', { officer: '0417', recorder: 'ZFY100', startsAt: '2026-11-26T08:00:00+08:00', endsAt: '2026-11-26T18:00:00+08:00' });
    expect(own.statusCode, own.body).toBe(201);
    expect(body(own)).toMatchObject({ officer: '0417', unit: 'U1' });
    const roster = await post(r, opU1.token, '/api/v1/assignments/import', {
      csv: 'officer,name,unit,recorder,start,end\n0417,民警0417,U1,ZFY100,2026-11-28 08:00,2026-11-28 18:00\n',
    });
    expect(roster.statusCode, roster.body).toBe(200);
    const fresh = await post(r, admin.token, '/api/v1/assignments', { officer: '0999', name: '新民警', unit: 'U1', recorder: 'ZFY300', startsAt: '2026-11-26T08:00:00+08:00' });
    expect(fresh.statusCode, fresh.body).toBe(201);
    // Once registered in U1, the unit assigns the new officer itself.
    const next = await post(r, opU1.token, '/api/v1/assignments', { officer: '0999', recorder: 'ZFY100', startsAt: '2026-11-29T08:00:00+08:00', endsAt: '2026-11-29T18:00:00+08:00' });
    expect(next.statusCode, next.body).toBe(201);
  });
});

describe('issue 14: a request says for how long', () => {
  it('the hours asked for are the approval’s default length, never past api.grantMaxHours', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1' });
    const op = r.user('操作员', 'operator', 'U1');
    const sup = r.user('李科长', 'supervisor', 'U1');
    const tooLong = await post(r, op.token, '/api/v1/access-requests', { evidenceIds: [a.id], reason: '复核', hours: 169 });
    expect(tooLong.statusCode).toBe(400);
    expect(r.snapshot().access_requests).toBe(0);
    const created = await post(r, op.token, '/api/v1/access-requests', { evidenceIds: [a.id], reason: '复核', hours: 3 });
    expect(created.statusCode, created.body).toBe(201);
    const id = body<{ id: string; requestedHours: number }>(created).id;
    expect(body(created)).toMatchObject({ requestedHours: 3 });
    expect(entries(r).find((e) => e.type === 'access.request.created')!.data).toMatchObject({ requestedHours: 3 });
    const approved = await post(r, sup.token, `/api/v1/access-requests/${id}/approve`);
    expect(body(approved)).toMatchObject({ status: 'approved', expiresAt: '2026-11-27T11:00:00.000Z' });
    // Without hours: api.grantDefaultHours (24), as before.
    const plain = body<{ id: string; requestedHours: null }>(await post(r, op.token, '/api/v1/access-requests', { evidenceIds: [a.id], reason: '再次复核' }));
    expect(plain.requestedHours).toBeNull();
    expect(body(await post(r, sup.token, `/api/v1/access-requests/${plain.id}/approve`))).toMatchObject({ expiresAt: '2026-11-28T08:00:00.000Z' });
  });
});

describe('issue 14: a revoked grant shows as revoked, with who revoked it and when', () => {
  it('the detail and the requester’s list say revoked (not expired), naming the revoker; an expired grant still says expired', async () => {
    const r = await open();
    const a = await r.seed({ unit: 'U1' });
    const op = r.user('操作员', 'operator', 'U1');
    const sup = r.user('李科长', 'supervisor', 'U1');
    const admin = r.user('管理员', 'admin');
    const ask = async (): Promise<string> => {
      const created = await post(r, op.token, '/api/v1/access-requests', { evidenceIds: [a.id], reason: '复核' });
      expect(created.statusCode, created.body).toBe(201);
      const id = body<{ id: string }>(created).id;
      expect((await post(r, sup.token, `/api/v1/access-requests/${id}/approve`)).statusCode).toBe(200);
      return id;
    };
    const revokedId = await ask();
    r.clock.advance(60_000);
    const revoked = await post(r, sup.token, `/api/v1/access-requests/${revokedId}/revoke`, { note: '当事人撤诉' });
    expect(revoked.statusCode, revoked.body).toBe(200);
    const expected = {
      id: revokedId,
      status: 'revoked',
      revokedBy: { id: sup.id, name: '李科长' },
      revokedAt: '2026-11-27T08:01:00.000Z',
      revocationNote: '当事人撤诉',
      decidedBy: { id: sup.id, name: '李科长' },
    };
    expect(body(revoked)).toMatchObject(expected);
    for (const who of [op, sup, admin]) expect(body(await r.call(who.token, { url: `/api/v1/access-requests/${revokedId}` }))).toMatchObject(expected);
    const mine = body<{ items: Array<{ id: string; status: string }> }>(await r.call(op.token, { url: '/api/v1/access-requests?view=mine' }));
    expect(mine.items).toEqual([expect.objectContaining(expected)]);
    // The grant is gone, and revoking again says so.
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(403);
    const twice = await post(r, sup.token, `/api/v1/access-requests/${revokedId}/revoke`);
    expect(err(twice)).toMatchObject({ code: 'ACCESS_REQUEST_NOT_GRANTED', message: expect.stringMatching(/is revoked/) });

    // Each request's own ledger entries are found by subject, never by scanning every
    // entry of a type (the ledger grows without end).
    const plan = r.catalog.db
      .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${SELECT} WHERE r.requester_id = 'x' ORDER BY r.created_at DESC LIMIT 5`)
      .all()
      .map((row) => row.detail)
      .filter((d) => / (rv|c) /.test(d));
    expect(plan).toEqual([expect.stringMatching(/^SEARCH rv USING INDEX ledger_subject/), expect.stringMatching(/^SEARCH c USING INDEX ledger_subject/)]);

    // A grant that ran out is expired, with no revoker.
    const expiringId = await ask();
    r.clock.advance(25 * 3600_000);
    expect(r.server.context.access.expireDue()).toBe(1);
    expect(body(await r.call(op.token, { url: `/api/v1/access-requests/${expiringId}` }))).toMatchObject({
      status: 'expired',
      revokedBy: null,
      revokedAt: null,
      revocationNote: null,
    });
  });
});
