import { describe, expect, it } from 'vitest';
import { catalogAt } from '../../test/helpers/migrations.js';
import { DeviceRepo, type NewDock } from './device-repo.js';
import { assessHealth, type HealthThresholds } from './health-check.js';

const t: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };

function newDock(id: string, reasons: NewDock['reasons']): NewDock {
  return {
    id,
    recorderSerial: null,
    location: `/media/${id}`,
    dockedAt: '2026-12-02T08:00:00.000Z',
    batteryPercent: 12,
    deviceClock: null,
    clockDriftMs: -420_000,
    storageTotalBytes: 64e9,
    storageFreeBytes: 3e9,
    verdict: 'not-ready',
    healthState: 'not-ready',
    clockDriftMethod: 'device-clock',
    identityConflicts: null,
    reasons,
  };
}

describe('DeviceRepo: a dock keeps its reasons as codes and figures (issue 15)', () => {
  it('gives back each reason as the check gave it: code, sentence, figures; and the sentences alone in reasons', () => {
    const db = catalogAt(15);
    const repo = new DeviceRepo(db);
    const { reasons } = assessHealth({ batteryPercent: 12, deviceClock: null, clockDriftMs: -420_000, storageTotalBytes: 64e9, storageFreeBytes: 3e9 }, t, { recorderStatus: 'in-repair' });
    repo.insertDock(newDock('d1', reasons));
    const d = repo.dock('d1')!;
    expect(d.reasons).toEqual([
      'the recorder is registered as in-repair',
      'battery 12 % is below 30 %',
      "free space 3.0 GB is less than a shift's worth (16.0 GB: 8 h at 2 GB/h)",
      'device clock -420 s (behind the station) is beyond ±30 s',
    ]);
    expect(d.reasonDetails).toEqual([
      { code: 'RECORDER_NOT_IN_SERVICE', message: d.reasons[0], params: { status: 'in-repair' } },
      { code: 'BATTERY_LOW', message: d.reasons[1], params: { batteryPercent: 12, minBatteryPercent: 30 } },
      { code: 'STORAGE_LOW', message: d.reasons[2], params: { freeBytes: 3e9, requiredBytes: 16e9, shiftHours: 8, recordingGbPerHour: 2 } },
      { code: 'CLOCK_DRIFT', message: d.reasons[3], params: { driftMs: -420_000, driftSeconds: -420, maxClockDriftSeconds: 30, estimated: false } },
    ]);
    // Both columns as scripts read them.
    expect(db.prepare("SELECT reasons, json_extract(reason_details, '$[1].params.batteryPercent') AS battery FROM docks WHERE id = 'd1'").get()).toEqual({
      reasons: JSON.stringify(d.reasons),
      battery: 12,
    });
    // A ready dock: nothing in either.
    repo.insertDock(newDock('d2', []));
    expect(repo.dock('d2')).toMatchObject({ reasons: [], reasonDetails: [] });
    // The same mapping for every read.
    expect(repo.recentDocks().find((x) => x.id === 'd1')!.reasonDetails).toEqual(d.reasonDetails);
  });

  it('reads a dock recorded before (strings only) as its sentences with code null, and a code it does not know as null', () => {
    const db = catalogAt(15);
    const repo = new DeviceRepo(db);
    const add = db.prepare("INSERT INTO docks (id, location, docked_at, verdict, reasons, reason_details) VALUES (?, '/media/x', 't0', 'not-ready', ?, ?)");
    add.run('old', '["battery 12 % is below 30 %","free space unknown"]', null);
    expect(repo.dock('old')).toMatchObject({
      reasons: ['battery 12 % is below 30 %', 'free space unknown'],
      reasonDetails: [
        { code: null, message: 'battery 12 % is below 30 %', params: {} },
        { code: null, message: 'free space unknown', params: {} },
      ],
    });
    // A later version's code, and figures that are not figures: the sentence, and the scalars only.
    add.run('newer', '["something new"]', JSON.stringify([{ code: 'SOMETHING_NEW', message: 'something new', params: { n: 1, nested: { x: 1 }, list: [1] } }, 'bare sentence']));
    expect(repo.dock('newer')!.reasonDetails).toEqual([
      { code: null, message: 'something new', params: { n: 1 } },
      { code: null, message: 'bare sentence', params: {} },
    ]);
  });
});
