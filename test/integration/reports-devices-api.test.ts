import { afterEach, describe, expect, it } from 'vitest';
import { UsbSeenRepo } from '../../src/devices/index.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

const rigs: ApiRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const H = 3_600_000;
const post = (r: ApiRig, token: string, url: string, payload: unknown) => r.call(token, { method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

interface Figures {
  unit: string | null;
  clips: number;
  hoursRecorded: number;
  onTimeRate: number | null;
  uploadDelay: { medianHours: number | null; worstHours: number | null };
  delayBuckets: number[];
}
interface Report {
  uploadDeadlineHours: number;
  delayBucketsHours: number[];
  units: Figures[];
  timeliness: Array<{ unit: string | null; days: Array<{ day: string; clips: number; onTime: number; onTimeRate: number }> }>;
  devices: Array<Record<string, unknown> & { serial: string }>;
}
interface Stats {
  uploadDeadlineHours: number;
  units: Array<{ unit: string | null; files: number; hoursRecorded: number; uploadDelay: { maxHours: number | null }; late: number }>;
}

// Issue 19: GET /stats judged late uploads by a fixed 24 h while the report used the
// configured deadline, so the two disagreed on any station with another deadline.
describe('GET /stats and the compliance report agree (issue 19)', () => {
  it('judge late uploads by the configured deadline, from the same end of recording', async () => {
    const r = await apiRig({ CUSTODY_COMPLIANCE_UPLOAD_DEADLINE_HOURS: '12' });
    rigs.push(r);
    const admin = r.user('Admin', 'admin').token;
    const start = Date.parse('2026-11-20T00:00:00.000Z');
    const at = (ms: number) => new Date(ms).toISOString();
    // Ten-minute clips: handed in 2 h, exactly 12 h (on time), 12 h and a second, 13 h
    // and 30 h after they ended; a photo (no duration) 11 h after it was taken.
    for (const [i, delayMs] of [2 * H, 12 * H, 12 * H + 1000, 13 * H, 30 * H].entries()) {
      await r.seed({ unit: 'U1', officer: '0417', recordedStart: at(start + i * H), durationMs: 600_000, ingestedAt: at(start + i * H + 600_000 + delayMs) });
    }
    await r.seed({ unit: 'U1', officer: '0418', type: 'photo', durationMs: null, recordedStart: at(start), ingestedAt: at(start + 11 * H) });
    await r.seed({ unit: 'U2', officer: '0520', serial: 'ZFY002', recordedStart: at(start + 20 * H), durationMs: 3_600_000, ingestedAt: at(start + 21 * H + 20 * H) });

    const q = '?from=2026-11-19T00:00:00Z&to=2026-11-27T00:00:00Z';
    const stats = body<Stats>(await r.call(admin, { url: `/api/v1/stats${q}` }));
    const report = body<Report>(await r.call(admin, { url: `/api/v1/reports/compliance${q}` }));
    expect(stats.uploadDeadlineHours).toBe(12);
    expect(report.uploadDeadlineHours).toBe(12);
    // With 24 h only the 30 h clip would be late; with the configured 12 h three are.
    expect(stats.units.map((u) => [u.unit, u.files, u.late])).toEqual([
      ['U1', 6, 3],
      ['U2', 1, 1],
    ]);
    for (const s of stats.units) {
      const u = report.units.find((x) => x.unit === s.unit)!;
      expect(u.clips).toBe(s.files);
      expect(Math.round(u.clips * (1 - u.onTimeRate!))).toBe(s.late);
      expect(u.hoursRecorded).toBeCloseTo(s.hoursRecorded, 2);
      expect(u.uploadDelay.worstHours).toBeCloseTo(s.uploadDelay.maxHours!, 2);
    }

    // The delay buckets: the deadline is a bound, so the buckets up to it hold the clips on time.
    expect(report.delayBucketsHours).toEqual([0, 1, 3, 6, 12, 24, 168]);
    const u1 = report.units.find((u) => u.unit === 'U1')!;
    // 2 h; 11 h (the photo) and exactly 12 h; 12 h and a second, 13 h; 30 h.
    expect(u1.delayBuckets).toEqual([0, 1, 0, 2, 2, 1, 0]);
    const onTimeBuckets = report.delayBucketsHours.indexOf(12);
    expect(u1.delayBuckets.slice(0, onTimeBuckets).reduce((a, n) => a + n, 0)).toBe(Math.round(u1.clips * u1.onTimeRate!));
    expect(u1.delayBuckets.reduce((a, n) => a + n, 0)).toBe(u1.clips);

    // Timeliness per local day (Asia/Shanghai): 08:00 on the 20th onwards.
    expect(report.timeliness).toEqual([
      { unit: 'U1', days: [{ day: '2026-11-20', clips: 6, onTime: 3, onTimeRate: 0.5 }] },
      { unit: 'U2', days: [{ day: '2026-11-21', clips: 1, onTime: 0, onTimeRate: 0 }] },
    ]);
  });
});

// The console took a report's days as UTC+8 whatever the station's zone. It now asks
// GET /session for the zone and takes the days in it (web/src/pages/reports/report.ts);
// the server counts the days in it.
describe("the compliance report's days in the station's time zone", () => {
  it('a station in New York: the console gets the zone from GET /session and its days hold what was recorded on them', async () => {
    const r = await apiRig({ CUSTODY_TIMEZONE: 'America/New_York' });
    rigs.push(r);
    const admin = r.user('Admin', 'admin').token;
    const zone = body<{ timezone: string }>(await r.call(admin, { url: '/api/v1/session' })).timezone;
    expect(zone).toBe('America/New_York');
    // Around the days 31 October and 1 November 2026 in New York (daylight saving ends on the 1st).
    const clip = (recordedStart: string) => r.seed({ unit: 'U1', officer: '0417', recordedStart, durationMs: 60_000, ingestedAt: '2026-11-02T12:00:00.000Z' });
    await clip('2026-10-31T03:30:00.000Z'); // 23:30 on 30 October (EDT): before
    await clip('2026-10-31T04:30:00.000Z'); // 00:30 on 31 October: in
    await clip('2026-11-02T04:30:00.000Z'); // 23:30 on 1 November (EST): in
    await clip('2026-11-02T05:30:00.000Z'); // 00:30 on 2 November: after

    // What the console asks for those two days in that zone (web/src/pages/reports/report.test.ts checks it makes exactly this).
    const q = { from: '2026-10-31T00:00:00-04:00', to: '2026-11-02T00:00:00-05:00' };
    const report = body<Report & { timezone: string; from: string; to: string }>(await r.call(admin, { url: `/api/v1/reports/compliance?from=${encodeURIComponent(q.from)}&to=${encodeURIComponent(q.to)}` }));
    expect(report).toMatchObject({ timezone: 'America/New_York', from: '2026-10-31T04:00:00.000Z', to: '2026-11-02T05:00:00.000Z' });
    expect(report.units.map((u) => [u.unit, u.clips])).toEqual([['U1', 2]]);
    expect(report.timeliness).toEqual([
      {
        unit: 'U1',
        days: [
          { day: '2026-10-31', clips: 1, onTime: 0, onTimeRate: 0 },
          { day: '2026-11-01', clips: 1, onTime: 1, onTimeRate: 1 },
        ],
      },
    ]);
  });
});

describe('recorder status and the Art. 14 repair deadline over the API (issue 19)', () => {
  it('reports damage, hands in, repairs and retires along the workflow only, ledgered, within the unit', async () => {
    const r = await apiRig();
    rigs.push(r);
    const opU1 = r.user('Op 1', 'operator', 'U1').token;
    const opU2 = r.user('Op 2', 'operator', 'U2').token;
    const auditor = r.user('Aud', 'auditor').token;
    const admin = r.user('Admin', 'admin').token;
    await r.seed({ unit: 'U1', serial: 'ZFY001' });
    await r.seed({ unit: 'U1', serial: 'ZFY003' });
    const now = r.clock.t;
    const url = '/api/v1/devices/ZFY001/status';

    // Found damaged 30 h ago: its deadline (24 h) has passed.
    const found = new Date(now - 30 * H).toISOString();
    expect((await post(r, opU2, url, { status: 'reported-damaged', note: '镜头破裂' })).statusCode).toBe(404);
    expect((await post(r, auditor, url, { status: 'reported-damaged', note: '镜头破裂' })).statusCode).toBe(403);
    expect((await post(r, opU1, url, { status: 'reported-damaged', note: '  ' })).statusCode).toBe(400);
    const future = await post(r, opU1, url, { status: 'reported-damaged', note: '镜头破裂', discoveredAt: new Date(now + H).toISOString() });
    expect(body(future)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    const reported = await post(r, opU1, url, { status: 'reported-damaged', note: '镜头破裂', discoveredAt: found });
    expect(reported.statusCode).toBe(200);
    expect(body(reported)).toMatchObject({
      changed: true,
      device: { serial: 'ZFY001', status: 'reported-damaged', statusNote: '镜头破裂', statusChangedAt: found, nextStatuses: ['in-repair', 'retired'], repair: { reportedAt: found, dueBy: new Date(now - 6 * H).toISOString(), overdue: true } },
    });
    // A second report cannot move the deadline.
    expect(body(await post(r, opU1, url, { status: 'reported-damaged', note: '镜头破裂' }))).toMatchObject({ changed: false });
    expect(body(await post(r, opU1, url, { status: 'reported-damaged', note: '另一处损坏' }))).toMatchObject({ error: { code: 'RECORDER_STATUS_TRANSITION' } });

    // Reported just now: due in 24 h, not overdue; the list says so.
    await post(r, opU1, '/api/v1/devices/ZFY003/status', { status: 'reported-damaged', note: '无法开机' });
    const list = body<{ items: Array<{ serial: string; repair: { overdue: boolean; dueBy: string } | null }> }>(await r.call(opU1, { url: '/api/v1/devices' }));
    expect(list.items.map((d) => [d.serial, d.repair?.overdue ?? null, d.repair?.dueBy ?? null])).toEqual([
      ['ZFY001', true, new Date(now - 6 * H).toISOString()],
      ['ZFY003', false, new Date(now + 24 * H).toISOString()],
    ]);

    const skip = await post(r, opU1, url, { status: 'in-service', note: '修好了' });
    expect(skip.statusCode).toBe(409);
    expect(body(skip)).toMatchObject({ error: { code: 'RECORDER_STATUS_TRANSITION', message: 'recorder ZFY001 is reported-damaged: it can become in-repair or retired, not in-service' } });
    const backdated = await post(r, opU1, url, { status: 'in-repair', note: '送修', discoveredAt: found });
    expect(body(backdated)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect(body(await post(r, opU1, url, { status: 'in-repair', note: '已送信息中心维修，单号 2026-31' }))).toMatchObject({ device: { status: 'in-repair', repair: null, nextStatuses: ['in-service', 'retired'] } });
    expect(body(await post(r, opU1, url, { status: 'in-service', note: '更换镜头后恢复使用' }))).toMatchObject({ device: { status: 'in-service', repair: null } });
    expect(body(await post(r, admin, url, { status: 'retired', note: '电池老化，报废' }))).toMatchObject({ device: { status: 'retired', nextStatuses: [] } });
    expect(body(await post(r, admin, url, { status: 'in-service', note: 'x' }))).toMatchObject({ error: { code: 'RECORDER_STATUS_TRANSITION' } });

    const entries = [...r.catalog.ledger.entries()].filter((e) => e.type === 'device.status-changed' && e.subject === 'ZFY001');
    expect(entries.map((e) => e.data)).toEqual([
      { from: 'in-service', to: 'reported-damaged', note: '镜头破裂', since: found },
      { from: 'reported-damaged', to: 'in-repair', note: '已送信息中心维修，单号 2026-31' },
      { from: 'in-repair', to: 'in-service', note: '更换镜头后恢复使用' },
      { from: 'in-service', to: 'retired', note: '电池老化，报废' },
    ]);
  });

  it('puts device health in the compliance report: verdicts, battery trend, clock drift, the repair deadline', async () => {
    const r = await apiRig();
    rigs.push(r);
    const sup = r.user('Sup', 'supervisor', 'U1').token;
    const opU2 = r.user('Op 2', 'operator', 'U2').token;
    await r.seed({ unit: 'U1', serial: 'ZFY001' });
    await r.seed({ unit: 'U2', serial: 'ZFY009' });
    const dock = r.catalog.db.prepare(
      `INSERT INTO docks (id, recorder_serial, location, docked_at, battery_percent, clock_drift_ms, verdict, health_state, reasons)
       VALUES (?, ?, 'station', ?, ?, ?, ?, ?, '[]')`,
    );
    // A week apart, the battery at dock falls 90 → 80 → 70; the clock drifts up to 45 s.
    dock.run('d1', 'ZFY001', '2026-11-06T00:00:00.000Z', 90, 1_000, 'ready', 'ready');
    dock.run('d2', 'ZFY001', '2026-11-13T00:00:00.000Z', 80, -45_000, 'not-ready', 'not-ready');
    dock.run('d3', 'ZFY001', '2026-11-20T00:00:00.000Z', 70, 2_000, 'ready', 'unchecked');
    dock.run('d4', 'ZFY009', '2026-11-20T00:00:00.000Z', 50, 0, 'ready', 'ready');
    await post(r, sup, '/api/v1/devices/ZFY001/status', { status: 'reported-damaged', note: '外壳开裂' });

    const q = '?from=2026-11-01T00:00:00Z&to=2026-11-27T08:00:00Z';
    const rep = body<Report>(await r.call(sup, { url: `/api/v1/reports/compliance${q}` }));
    expect(rep.devices).toEqual([
      {
        serial: 'ZFY001',
        unit: 'U1',
        officer: '0417',
        model: 'DSJ-T1',
        status: 'reported-damaged',
        repair: { reportedAt: '2026-11-27T08:00:00.000Z', dueBy: '2026-11-28T08:00:00.000Z', overdue: false },
        docks: 3,
        verdicts: { ready: 1, notReady: 1, unchecked: 1 },
        battery: { first: 90, last: 70, min: 70, changePerWeek: -10 },
        clockDrift: { lastMs: 2_000, worstMs: -45_000, overLimit: 1 },
        lastDockedAt: '2026-11-20T00:00:00.000Z',
      },
    ]);
    expect(body<Report>(await r.call(opU2, { url: `/api/v1/reports/compliance${q}` })).devices.map((d) => d.serial)).toEqual(['ZFY009']);

    // A recorder moved from U2 to U1: U1 sees only the docks made since it is theirs (issue 14).
    dock.run('d5', 'ZFY009', '2026-11-21T00:00:00.000Z', 40, 0, 'ready', 'ready');
    r.catalog.tx(() => r.catalog.ledger.append({ type: 'device.docked', actor: 'test', subject: 'ZFY009', data: { dockId: 'd4', identity: { unit: 'U2' } } }));
    r.catalog.db.prepare("UPDATE recorders SET unit = 'U1' WHERE serial = 'ZFY009'").run();
    const moved = body<Report>(await r.call(sup, { url: `/api/v1/reports/compliance${q}` })).devices.find((d) => d.serial === 'ZFY009');
    expect(moved).toMatchObject({ docks: 1, battery: { first: 40 } });
    expect(body<Report>(await r.call(opU2, { url: `/api/v1/reports/compliance${q}` })).devices).toEqual([]);
  });
});

describe('USB devices without a profile (issue 19)', () => {
  it('are listed for bureau-wide users, with what a profile needs', async () => {
    const r = await apiRig();
    rigs.push(r);
    const admin = r.user('Admin', 'admin').token;
    const scoped = r.user('Op', 'operator', 'U1').token;
    new UsbSeenRepo(r.catalog.db).record({ vendorId: 0x1d6b, productId: 0x0104, manufacturer: 'Acme', product: 'BodyCam X', serial: 'AC123', interfaceClasses: [8] }, '2026-11-27T07:00:00.000Z');
    const seen = body<{ items: Array<Record<string, unknown>>; profilesSource: string }>(await r.call(admin, { url: '/api/v1/devices/unknown-usb' }));
    expect(seen.items).toEqual([
      { vendorId: 0x1d6b, productId: 0x0104, usbId: '1d6b:0104', manufacturer: 'Acme', product: 'BodyCam X', serial: 'AC123', interfaceClasses: [8], firstSeen: '2026-11-27T07:00:00.000Z', lastSeen: '2026-11-27T07:00:00.000Z', timesSeen: 1 },
    ]);
    expect(seen.profilesSource).toMatch(/recorders/);
    expect(body<{ items: unknown[] }>(await r.call(scoped, { url: '/api/v1/devices/unknown-usb' })).items).toEqual([]);
  });
});
