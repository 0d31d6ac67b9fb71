import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createCompliance, type Flag } from '../../src/compliance/index.js';
import { complianceOptions } from '../../src/options.js';
import type { ActivityEvent } from '../../src/core/activity.js';
import { waitFor } from '../helpers/cli.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

const rigs: ApiRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

// Issue 6: assignments, flags and the compliance report over HTTP, within unit scope.
describe('compliance API (issue 6)', () => {
  it('assignments, flags scoped by unit, resolution by someone other than the subject, and the report', async () => {
    const r = await apiRig();
    rigs.push(r);
    const admin = r.user('Admin', 'admin').token;
    const opU1 = r.user('Op 1', 'operator', 'U1').token;
    const opU2 = r.user('Op 2', 'operator', 'U2').token;
    const officerUser = r.user('Li Wei', 'supervisor', 'U1');
    const officerSup = officerUser.token;
    const chiefUser = r.user('Chief', 'supervisor', 'U1');
    const chief = chiefUser.token;
    // Officers and recorders are registered bureau-wide; a unit assigns its own (issue 14).
    for (const [number, name] of [['0417', 'Li Wei'], ['0418', 'Wang'], ['0419', 'Zhao'], ['0420', 'Sun']]) {
      r.server.context.compliance.assignments.upsertOfficer({ number: number!, name: name!, unit: 'U1' }, 'test');
    }
    for (const serial of ['ZFY001', 'ZFY007', 'ZFY008']) r.catalog.db.prepare("INSERT INTO recorders (serial, unit, first_seen, last_seen) VALUES (?, 'U1', 't', 't')").run(serial);
    const events: ActivityEvent[] = [];
    r.activity.subscribe((e) => events.push(e));

    // The clock reads 2026-11-27T08:00Z (16:00 in Asia/Shanghai).
    const post = (token: string, url: string, payload: unknown) => r.call(token, { method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });
    const shift = { officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'ZFY001', startsAt: '2026-11-25T08:00:00+08:00', endsAt: '2026-11-25T18:00:00+08:00' };
    expect((await post(opU2, '/api/v1/assignments', shift)).statusCode).toBe(404);
    const created = await post(opU1, '/api/v1/assignments', shift);
    expect(created.statusCode).toBe(201);
    expect(body(created)).toMatchObject({ officer: '0417', startsAt: '2026-11-25T00:00:00.000Z', endsAt: '2026-11-25T10:00:00.000Z' });
    expect((await post(opU1, '/api/v1/assignments', shift)).statusCode).toBe(200);
    const clash = await post(opU1, '/api/v1/assignments', { ...shift, officer: '0418', name: 'Wang', startsAt: '2026-11-25T12:00:00+08:00' });
    expect(clash.statusCode).toBe(409);
    expect(body<{ error: { code: string } }>(clash).error.code).toBe('ASSIGNMENT_OVERLAP');
    expect(body<{ items: unknown[] }>(await r.call(opU2, { url: '/api/v1/assignments' })).items).toEqual([]);
    expect(body<{ items: unknown[] }>(await r.call(opU1, { url: '/api/v1/assignments?officer=0417' })).items).toHaveLength(1);

    const roster = (unit: string) => `officer,name,unit,recorder,start,end\n0419,Zhao,${unit},ZFY007,2026-11-26 08:00,2026-11-26 18:00\n`;
    expect((await post(opU1, '/api/v1/assignments/import', { csv: roster('U2') })).statusCode).toBe(400);
    const badRoster = await post(opU1, '/api/v1/assignments/import', { csv: roster('U1') + '0420,Sun,U1,ZFY008,yesterday,\n' });
    expect(badRoster.statusCode).toBe(400);
    expect(body<{ error: { code: string; message: string } }>(badRoster).error).toMatchObject({ code: 'ROSTER_INVALID', message: expect.stringMatching(/line 3: start "yesterday"/) });
    const imported = await post(opU1, '/api/v1/assignments/import', { csv: roster('U1') });
    expect(imported.statusCode).toBe(200);
    expect(body(imported)).toMatchObject({ created: 1, unchanged: 0 });

    // Two clips of the shift: one handed in on time, one 30 h after it ended.
    await r.seed({ officer: '0417', unit: 'U1', serial: 'ZFY001', recordedStart: '2026-11-25T01:00:00.000Z', ingestedAt: '2026-11-25T11:00:00.000Z', durationMs: 600_000 });
    // openFlags counts unresolved flags raised in the period; these are raised on the 27th.
    const late = await r.seed({ officer: '0417', unit: 'U1', serial: 'ZFY001', recordedStart: '2026-11-25T02:00:00.000Z', ingestedAt: '2026-11-26T08:00:00.000Z', durationMs: 1_200_000 });
    const c = createCompliance({ catalog: r.catalog, settings: complianceOptions(r.server.context.config), actor: 'custody:test', activity: r.activity });
    c.assignments.upsertOfficer({ number: '0417', name: 'Li Wei', unit: 'U1', userId: officerUser.id }, 'test');
    const raised = c.rules.scan().raised;
    // Late, never docked after the shift, and 50 min without recording (10 min clip at 09:00, next at 10:00 local).
    expect(raised.map((f) => f.rule).sort()).toEqual(['late-upload', 'missing-upload', 'recording-gap']);
    const flagEvents = events.filter((e): e is Extract<ActivityEvent, { type: 'flag' }> => e.type === 'flag');
    expect(flagEvents.every((e) => e.flag.unit === 'U1' && e.flag.serial === 'ZFY001')).toBe(true);

    const list = async (token: string, q = '') => body<{ items: Flag[]; next: string | null }>(await r.call(token, { url: `/api/v1/flags${q}` }));
    expect((await list(opU2)).items).toEqual([]);
    expect((await list(opU1, '?rule=late-upload')).items.map((f) => f.evidenceId)).toEqual([late.id]);
    const page = await list(admin, '?limit=2');
    expect(page.items).toHaveLength(2);
    expect((await list(admin, `?limit=2&cursor=${page.next!}`)).items).toHaveLength(1);
    const flag = raised.find((f) => f.evidenceId === late.id && f.rule === 'late-upload')!;
    expect((await r.call(opU2, { url: `/api/v1/flags/${flag.id}` })).statusCode).toBe(404);

    const resolve = (token: string, reason: string) => post(token, `/api/v1/flags/${flag.id}/resolve`, { reason });
    expect((await resolve(opU1, 'x')).statusCode).toBe(403);
    const self = await resolve(officerSup, 'it was me');
    expect(self.statusCode).toBe(403);
    expect(body<{ error: { code: string } }>(self).error.code).toBe('FLAG_SELF_APPROVAL');
    expect((await resolve(chief, '')).statusCode).toBe(400);
    const ok = await resolve(chief, 'dock was out of order on 25 Nov; ticket 88');
    expect(ok.statusCode).toBe(200);
    expect(body(ok)).toMatchObject({ state: 'resolved', approvedBy: chiefUser.id });
    expect((await resolve(chief, 'again')).statusCode).toBe(409);
    expect(r.ledgerTypes().filter((t) => t.startsWith('flag.'))).toEqual(['flag.raised', 'flag.raised', 'flag.raised', 'flag.resolved']);

    const rep = body<{ units: Array<Record<string, unknown>>; officers: Array<Record<string, unknown>> }>(
      await r.call(chief, { url: '/api/v1/reports/compliance?from=2026-11-25T00:00:00%2B08:00&to=2026-11-26T00:00:00%2B08:00' }),
    );
    expect(rep.units).toEqual([
      expect.objectContaining({ unit: 'U1', assignments: 1, clips: 2, hoursRecorded: 0.5, onTimeRate: 0.5, uploadDelay: { medianHours: 19.75, worstHours: 29.67 } }),
    ]);
    expect(rep.officers).toEqual([expect.objectContaining({ officer: '0417', name: 'Li Wei', clips: 2 })]);
    const scoped = body<{ units: unknown[] }>(await r.call(opU2, { url: '/api/v1/reports/compliance?from=2026-11-25T00:00:00%2B08:00&to=2026-11-26T00:00:00%2B08:00' }));
    expect(scoped.units).toEqual([]);
  });
});

describe('flag events (issue 6)', () => {
  it('reach the event stream of the flag unit only', async () => {
    const r = await apiRig();
    rigs.push(r);
    const u1 = r.user('U1 supervisor', 'supervisor', 'U1').token;
    const u2 = r.user('U2 supervisor', 'supervisor', 'U2').token;
    const { port } = await r.server.start();
    const stream = (token: string) => {
      const events: { event: string; data: Record<string, unknown> }[] = [];
      let opened!: (s: number) => void;
      const open = new Promise<number>((res) => (opened = res));
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { authorization: `Bearer ${token}` } }, (res) => {
        opened(res.statusCode!);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (.+)$/mu.exec(block);
            const data = /^data: (.+)$/mu.exec(block);
            if (ev && data) events.push({ event: ev[1]!, data: JSON.parse(data[1]!) as Record<string, unknown> });
          }
        });
      });
      req.end();
      return { events, open, req };
    };
    const a = stream(u1);
    const b = stream(u2);
    expect(await a.open).toBe(200);
    expect(await b.open).toBe(200);

    await r.seed({ officer: '0417', unit: 'U1', serial: 'ZFY001', recordedStart: '2026-11-20T01:00:00.000Z', ingestedAt: '2026-11-27T08:00:00.000Z' });
    await r.seed({ officer: '0500', unit: 'U2', serial: 'ZFY002', recordedStart: '2026-11-20T01:00:00.000Z', ingestedAt: '2026-11-27T08:00:00.000Z' });
    const c = createCompliance({ catalog: r.catalog, settings: complianceOptions(r.server.context.config), actor: 'custody:test', activity: r.activity });
    expect(c.rules.scan().raised).toHaveLength(2);
    await waitFor('both streams to get their flag', async () => (a.events.length >= 1 && b.events.length >= 1) || null, 10_000, 10);
    expect(a.events.map((e) => [e.event, e.data.unit, e.data.serial, e.data.rule])).toEqual([['flag', 'U1', 'ZFY001', 'late-upload']]);
    expect(b.events.map((e) => [e.event, e.data.unit, e.data.serial])).toEqual([['flag', 'U2', 'ZFY002']]);
    await r.server.stop();
  });
});
