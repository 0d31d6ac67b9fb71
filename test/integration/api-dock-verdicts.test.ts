import { afterEach, describe, expect, it } from 'vitest';
import { apiRig, type ApiRig } from './api-fixtures.js';

const rigs: ApiRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

describe('HTTP API: the three pre-duty verdicts (issue 16)', () => {
  it('gives each dock its state (ready / not-ready / unchecked) beside what it counts as, and how the drift was found', async () => {
    const r = await apiRig();
    rigs.push(r);
    await r.seed({ officer: '0417', unit: 'U1', serial: 'ZFY001' });
    const ins = r.catalog.db.prepare(
      `INSERT INTO docks (id, recorder_serial, location, docked_at, clock_drift_ms, verdict, reasons, health_state, clock_drift_method)
       VALUES (?, 'ZFY001', '/media/x', ?, ?, ?, ?, ?, ?)`,
    );
    ins.run('d-old', '2026-11-25T08:00:00.000Z', null, 'not-ready', '["battery charge unknown"]', null, null);
    ins.run('d-unchecked', '2026-11-26T08:00:00.000Z', null, 'ready', '["battery charge unknown","device clock unknown"]', 'unchecked', null);
    ins.run('d-estimated', '2026-11-27T08:00:00.000Z', 420_000, 'not-ready', '["device clock at least +420 s"]', 'not-ready', 'newest-file-estimate');
    const admin = r.user('Admin', 'admin');
    const res = await r.call(admin.token, { url: '/api/v1/devices/ZFY001' });
    expect(res.statusCode).toBe(200);
    const docks = (JSON.parse(res.body) as { docks: Array<{ id: string; verdict: string; healthState: string | null; clockDriftMethod: string | null }> }).docks;
    expect(docks.map((d) => [d.id, d.verdict, d.healthState, d.clockDriftMethod])).toEqual([
      ['d-estimated', 'not-ready', 'not-ready', 'newest-file-estimate'],
      ['d-unchecked', 'ready', 'unchecked', null],
      ['d-old', 'not-ready', null, null],
    ]);
  });

  it('live docks and their events carry the state too', async () => {
    const r = await apiRig();
    rigs.push(r);
    const admin = r.user('Admin', 'admin');
    r.activity.publish({
      type: 'dock',
      dock: { dockId: 'live-1', sessionId: null, serial: 'ZFY009', location: '/media/custody/sdb1', dockedAt: '2026-12-02T06:00:00.000Z', verdict: 'ready', state: 'unchecked', reasons: ['battery charge unknown'] },
    });
    const res = await r.call(admin.token, { url: '/api/v1/docks' });
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.body) as { items: unknown[] }).items).toEqual([expect.objectContaining({ dockId: 'live-1', verdict: 'ready', state: 'unchecked' })]);
  });
});
