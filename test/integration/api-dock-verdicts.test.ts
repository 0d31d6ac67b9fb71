import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { DockInfo } from '../../src/core/index.js';
import { assessHealth, DeviceRepo, type HealthThresholds } from '../../src/devices/index.js';
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

  it('gives each dock its reasons as codes and figures beside the sentences; a dock recorded before gives its sentences with code null (issue 15)', async () => {
    const r = await apiRig();
    rigs.push(r);
    await r.seed({ officer: '0417', unit: 'U1', serial: 'ZFY001' });
    const t: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };
    const check = assessHealth({ batteryPercent: 12, deviceClock: null, clockDriftMs: 120_000, storageTotalBytes: 64e9, storageFreeBytes: 40e9 }, t);
    new DeviceRepo(r.catalog.db).insertDock({
      id: 'd-new',
      recorderSerial: 'ZFY001',
      location: '/media/x',
      dockedAt: '2026-11-27T08:00:00.000Z',
      batteryPercent: 12,
      deviceClock: null,
      clockDriftMs: 120_000,
      storageTotalBytes: 64e9,
      storageFreeBytes: 40e9,
      verdict: check.verdict,
      healthState: check.state,
      clockDriftMethod: 'device-clock',
      identityConflicts: null,
      reasons: check.reasons,
    });
    r.catalog.db
      .prepare("INSERT INTO docks (id, recorder_serial, location, docked_at, verdict, reasons) VALUES ('d-old', 'ZFY001', '/media/x', '2026-11-26T08:00:00.000Z', 'not-ready', ?)")
      .run('["battery 20 % is below 30 %"]');
    const sup = r.user('U1 supervisor', 'supervisor', 'U1');
    const res = await r.call(sup.token, { url: '/api/v1/devices/ZFY001' });
    expect(res.statusCode).toBe(200);
    const got = JSON.parse(res.body) as { device: { lastDock: unknown }; docks: Array<{ id: string; reasons: string[]; reasonDetails: unknown[] }> };
    expect(got.docks.map((d) => [d.id, d.reasons, d.reasonDetails])).toEqual([
      [
        'd-new',
        ['battery 12 % is below 30 %', 'device clock +120 s (ahead of the station) is beyond ±30 s'],
        [
          { code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %', params: { batteryPercent: 12, minBatteryPercent: 30 } },
          {
            code: 'CLOCK_DRIFT',
            message: 'device clock +120 s (ahead of the station) is beyond ±30 s',
            params: { driftMs: 120_000, driftSeconds: 120, maxClockDriftSeconds: 30, estimated: false },
          },
        ],
      ],
      ['d-old', ['battery 20 % is below 30 %'], [{ code: null, message: 'battery 20 % is below 30 %', params: {} }]],
    ]);
    // The recorder list's last dock is the same dock.
    expect(got.device.lastDock).toMatchObject({ id: 'd-new', reasonDetails: got.docks[0]!.reasonDetails });
    const list = JSON.parse((await r.call(sup.token, { url: '/api/v1/devices' })).body) as { items: Array<{ lastDock: { reasonDetails: unknown } }> };
    expect(list.items[0]!.lastDock.reasonDetails).toEqual(got.docks[0]!.reasonDetails);
  });

  it('live docks and the dock event carry the reasons as codes and figures, who the recorder is issued to and what the check read; a publisher that gave none reads as sentences and nulls (issue 15)', async () => {
    const r = await apiRig();
    rigs.push(r);
    const admin = r.user('Admin', 'admin');
    const { port } = await r.server.start();
    const full: DockInfo = {
      dockId: 'live-1',
      sessionId: null,
      serial: 'ZFY009',
      location: '/media/custody/sdb1',
      dockedAt: '2026-12-02T06:00:00.000Z',
      verdict: 'not-ready',
      state: 'not-ready',
      reasons: ['battery 12 % is below 30 %', 'from a later version'],
      reasonDetails: [
        { code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %', params: { batteryPercent: 12, minBatteryPercent: 30 } },
        { code: 'SOMETHING_NEW', message: 'from a later version', params: { n: 1 } },
      ],
      officer: '0417',
      unit: 'U1',
      batteryPercent: 12,
      storageFreeBytes: 40e9,
      clockDriftMs: -3000,
    };
    // Not paused: a live dock says so (paused: null; issue 17's paused collection).
    const expected = { ...full, reasonDetails: [full.reasonDetails![0], { code: null, message: 'from a later version', params: { n: 1 } }], paused: null };

    // The event stream: the dock event's data is the live dock without progress.
    const events: Array<{ event: string; data: Record<string, unknown> }> = [];
    // Published once the stream is open (only what happens after connecting is sent).
    let published = false;
    const publish = (): void => {
      published = true;
      r.activity.publish({ type: 'dock', dock: full });
      r.activity.publish({ type: 'dock', dock: { dockId: 'live-2', sessionId: null, serial: 'ZFY010', location: '/media/b', dockedAt: '2026-12-02T06:01:00.000Z', verdict: 'ready', reasons: ['battery charge unknown'] } });
    };
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { authorization: `Bearer ${admin.token}` } });
    const two = new Promise<void>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (!published && buf.includes(': connected\n\n')) {
            buf = buf.replace(': connected\n\n', '');
            publish();
          }
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (.+)$/m.exec(block);
            const data = /^data: (.+)$/m.exec(block);
            if (ev && data) events.push({ event: ev[1]!, data: JSON.parse(data[1]!) as Record<string, unknown> });
            if (events.length >= 2) resolve();
          }
        });
      });
    });
    req.end();
    await two;
    req.destroy();
    const bare = { code: null, message: 'battery charge unknown', params: {} };
    expect(events).toEqual([
      { event: 'dock', data: expected },
      {
        event: 'dock',
        data: expect.objectContaining({ dockId: 'live-2', reasonDetails: [bare], officer: null, unit: null, batteryPercent: null, storageFreeBytes: null, clockDriftMs: null }),
      },
    ]);

    const res = await r.call(admin.token, { url: '/api/v1/docks' });
    expect(res.statusCode).toBe(200);
    const items = (JSON.parse(res.body) as { items: Array<{ dockId: string }> }).items;
    expect(items.find((d) => d.dockId === 'live-1')).toEqual({ ...expected, progress: null });
    expect(items.find((d) => d.dockId === 'live-2')).toMatchObject({ reasonDetails: [bare], officer: null, batteryPercent: null, clockDriftMs: null });
  });
});
