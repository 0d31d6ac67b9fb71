import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityBus, type ActivityEvent } from '../../src/core/activity.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
const testLog = process.env.DEVICES_TEST_LOG ? createLogger({ level: 'trace', destination: 2 }) : silentLogger;
import {
  DeviceDetection,
  DeviceRegistry,
  DeviceRepo,
  DockManager,
  DriverRegistry,
  folderDriverFor,
  loadProfiles,
  parseProfiles,
  RECORDER_STATUS_FORMAT,
  type DockOutcome,
  type HealthThresholds,
  type ProfileSet,
} from '../../src/devices/index.js';
import { verifyVault } from '../../src/ledger/index.js';
import { FaultyDriver, rig, writeTree, type Rig } from '../helpers/ingest-fixtures.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const thresholds: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };

interface Station {
  rig: Rig;
  manager: DockManager;
  detection: DeviceDetection;
  events: ActivityEvent[];
  ended(pred?: (o: DockOutcome) => boolean, timeoutMs?: number): Promise<DockOutcome>;
  stop(graceMs?: number): Promise<void>;
}

const stations: Station[] = [];
afterEach(async () => {
  for (const s of stations.splice(0)) await s.stop(0).catch(() => undefined);
});

/** The dock manager and detection on a real catalog, vault and folders, as the daemon wires them. */
async function station(
  dir: string,
  opts: { profiles?: ProfileSet; drivers?: DriverRegistry; mountInfoFile?: string; sysRoot?: string; concurrency?: number; readBufferKb?: number; stragglerMs?: number } = {},
): Promise<Station> {
  const r = await rig(dir);
  const profiles = opts.profiles ?? loadProfiles();
  const activity = new ActivityBus();
  const events: ActivityEvent[] = [];
  activity.subscribe((e) => events.push(e));
  const manager = new DockManager({
    catalog: r.catalog,
    ingest: r.service({ settings: { settleSeconds: 0, perRecorder: 1, ...(opts.readBufferKb ? { readBufferKb: opts.readBufferKb } : {}) }, concurrency: opts.concurrency ?? 4 }),
    activity,
    profiles,
    thresholds,
    syncClock: true,
    dropProfile: 'generic-mass-storage',
    log: testLog,
    ...(opts.drivers ? { drivers: opts.drivers } : {}),
    ...(opts.stragglerMs !== undefined ? { stragglerMs: opts.stragglerMs } : {}),
  });
  const detection = new DeviceDetection({
    mountRoots: [join(dir, 'media')],
    dropFolders: [join(dir, 'drop')],
    dropSettleMs: 300,
    mountWaitMs: 1000,
    rescanMs: 0,
    usb: false,
    statusFiles: profiles.statusFiles,
    isKnownUsb: (v, p) => profiles.byUsb(v, p) !== null,
    log: testLog,
    onDock: (c) => manager.dock(c),
    onUndock: (loc, reason) => manager.undock(loc, reason),
    ...(opts.mountInfoFile ? { mountInfoFile: opts.mountInfoFile } : {}),
    ...(opts.sysRoot ? { sysRoot: opts.sysRoot } : {}),
  });
  manager.start();
  await detection.start();
  let stopped = false;
  const s: Station = {
    rig: r,
    manager,
    detection,
    events,
    ended: (pred = () => true, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timed out waiting for a dock to end')), timeoutMs);
        const on = (o: DockOutcome): void => {
          if (!pred(o)) return;
          clearTimeout(t);
          manager.off('ended', on);
          resolve(o);
        };
        manager.on('ended', on);
      }),
    async stop(graceMs = 0) {
      if (stopped) return;
      stopped = true;
      await detection.stop();
      await manager.stop(graceMs);
      r.close();
    },
  };
  stations.push(s);
  return s;
}

function once<T>(emitter: DockManager, event: string, pred: (v: T) => boolean = () => true, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const on = (v: T): void => {
      if (!pred(v)) return;
      clearTimeout(t);
      emitter.off(event, on);
      resolve(v);
    };
    emitter.on(event, on);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A recorder tree as the simulated recorder lays it out; its status file is written last, as a real dock "completes". */
async function recorder(
  root: string,
  serial: string,
  opts: { battery?: number; clockOffsetSeconds?: number; files?: Record<string, Buffer | number> } = {},
): Promise<Record<string, Buffer>> {
  const files = await writeTree(
    root,
    opts.files ?? {
      [`DCIM/20260301/${serial}_20260301100128_0001.MP4`]: 3000,
      [`DCIM/20260301/${serial}_20260301100149_0002.MP4`]: 2000,
      [`RECORD/20260301/${serial}_20260301100210_0003.WAV`]: 1000,
      'SYSTEM/LOG.TXT': 100,
    },
  );
  delete files['SYSTEM/LOG.TXT'];
  const status = {
    format: RECORDER_STATUS_FORMAT,
    serial,
    model: 'SIM-DSJ-1',
    officer: '100001',
    unit: '350200000000',
    battery: opts.battery ?? 80,
    clockOffsetSeconds: opts.clockOffsetSeconds ?? 0,
    storageTotalBytes: 64e9,
    storageFreeBytes: 60e9,
  };
  await writeFile(join(root, '.RECORDER.JSON.tmp'), JSON.stringify(status));
  await rename(join(root, '.RECORDER.JSON.tmp'), join(root, 'RECORDER.JSON'));
  return files;
}

function ledger(s: Station, type: string): Array<{ subject: string | null; data: Record<string, unknown> }> {
  return s.rig.catalog.db
    .prepare<[string], { subject: string | null; data: string }>('SELECT subject, data FROM ledger WHERE type = ? ORDER BY seq')
    .all(type)
    .map((r) => ({ subject: r.subject, data: JSON.parse(r.data) as Record<string, unknown> }));
}

function evidence(s: Station, serial: string): Array<{ sha256: string; source_path: string; clock_drift_ms: number | null; recorded_start: string; recorded_start_corrected: string | null }> {
  return s.rig.catalog.db
    .prepare<[string], { sha256: string; source_path: string; clock_drift_ms: number | null; recorded_start: string; recorded_start_corrected: string | null }>(
      'SELECT sha256, source_path, clock_drift_ms, recorded_start, recorded_start_corrected FROM evidence WHERE recorder_serial = ? ORDER BY source_path',
    )
    .all(serial);
}

/**
 * A recorder model (profile `held-sim`, found by its status file) whose driver holds the
 * second file it opens until `release` is called; `reading` resolves when that read has
 * begun. Only the recorder is simulated: the folder driver reads the real files.
 */
function secondReadHeld(): { profiles: ProfileSet; drivers: DriverRegistry; reading: Promise<void>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let begun!: () => void;
  const reading = new Promise<void>((r) => (begun = r));
  let opens = 0;
  const drivers = new DriverRegistry();
  drivers.register(
    'held',
    (ctx) =>
      new FaultyDriver(folderDriverFor(ctx), {
        beforeOpen: async () => {
          if (opens++ !== 1) return;
          begun();
          await held;
        },
      }),
  );
  const profiles = parseProfiles(
    `profiles:
  - id: held-sim
    name: simulated, its second read held
    detectByStatusFile: true
    driver: held
    status: { source: status-file, file: RECORDER.JSON }
    clockSync: true
  - id: generic-mass-storage
    name: generic
`,
    'test',
  );
  return { profiles, drivers, reading, release };
}

describe('docking through detection (issue 4)', () => {
  it('docks a recorder that appears under a mount root: health before clock sync, verdict, ingest, sync, undock', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    const s = await station(dir);
    const ended = s.ended();
    // The folder appears first and fills; it becomes a recorder when its status file lands.
    const files = await recorder(join(dir, 'media', 'ZFY001'), 'ZFY001', { battery: 12, clockOffsetSeconds: 300 });
    const o = await ended;

    expect(o.profile).toBe('custody-simulated');
    expect(o.identity).toMatchObject({ serial: 'ZFY001', officer: '100001' });
    expect(o.assessment.verdict).toBe('not-ready');
    expect(o.assessment.reasons.map((r) => r.code)).toEqual(['BATTERY_LOW', 'CLOCK_DRIFT']);
    // A recorder that is not ready for duty still hands in its footage.
    expect(o.report).toMatchObject({ status: 'complete', ingested: 3, failed: 0 });
    const ev = evidence(s, 'ZFY001');
    expect(ev.map((e) => [e.source_path, e.sha256])).toEqual(Object.entries(files).map(([p, b]) => [p, sha(b)]).sort());
    // The drift measured before the sync corrects the recorded times.
    for (const e of ev) {
      expect(e.clock_drift_ms).toBe(300_000);
      expect(Date.parse(e.recorded_start) - Date.parse(e.recorded_start_corrected!)).toBe(300_000);
    }

    // Recorded: the dock row and device.docked with the snapshot and verdict, then the sync.
    const dock = new DeviceRepo(s.rig.catalog.db).dock(o.dockId)!;
    expect(dock).toMatchObject({ recorderSerial: 'ZFY001', batteryPercent: 12, clockDriftMs: 300_000, verdict: 'not-ready', sessionStatus: 'complete', filesIngested: 3, undockedAt: null });
    expect(dock.reasons).toEqual(['battery 12 % is below 30 %', 'device clock +300 s (ahead of the station) is beyond ±30 s']);
    // Issue 15: the same reasons as codes and figures, kept with the dock.
    expect(dock.reasonDetails).toEqual([
      { code: 'BATTERY_LOW', message: dock.reasons[0], params: { batteryPercent: 12, minBatteryPercent: 30 } },
      { code: 'CLOCK_DRIFT', message: dock.reasons[1], params: { driftMs: 300_000, driftSeconds: 300, maxClockDriftSeconds: 30, estimated: false } },
    ]);
    expect(dock.clockSyncedAt).not.toBeNull();
    const [docked] = ledger(s, 'device.docked');
    expect(docked!.subject).toBe('ZFY001');
    expect(docked!.data).toMatchObject({ dockId: o.dockId, profile: 'custody-simulated', verdict: 'not-ready', health: { batteryPercent: 12, clockDriftMs: 300_000 } });
    expect((docked!.data.reasons as Array<{ code: string }>).map((r) => r.code)).toEqual(['BATTERY_LOW', 'CLOCK_DRIFT']);
    expect(ledger(s, 'device.clock-synced')).toEqual([{ subject: 'ZFY001', data: expect.objectContaining({ dockId: o.dockId, clockDriftMsBefore: 300_000 }) }]);
    expect(JSON.parse(await readFile(join(dir, 'media', 'ZFY001', 'RECORDER.JSON'), 'utf8')).clockOffsetSeconds).toBe(0);
    // Ledger order: the dock (with its health) before any evidence, the sync after all of it.
    const types = s.rig.catalog.db.prepare<[], { type: string }>('SELECT type FROM ledger ORDER BY seq').all().map((r) => r.type);
    expect(types).toEqual(['recorder.registered', 'device.docked', 'evidence.ingested', 'evidence.ingested', 'evidence.ingested', 'device.clock-synced']);

    // The activity bus saw it live, in order.
    const kinds = s.events.map((e) => e.type);
    expect(kinds[0]).toBe('dock');
    expect(kinds.filter((k) => k === 'ingested')).toHaveLength(3);
    expect(kinds[kinds.length - 1]).toBe('undock');
    expect(s.events.find((e) => e.type === 'dock')).toMatchObject({ dock: { serial: 'ZFY001', verdict: 'not-ready', reasons: dock.reasons } });
    // Every dock event carries the codes and figures, who the recorder is issued to and what the check read (issue 15).
    const registered = new DeviceRepo(s.rig.catalog.db).recorder('ZFY001')!;
    expect(registered.officer).toBe('100001');
    for (const e of s.events.filter((x) => x.type === 'dock')) {
      expect(e.dock).toMatchObject({
        reasonDetails: dock.reasonDetails,
        officer: registered.officer,
        unit: registered.unit,
        batteryPercent: 12,
        storageFreeBytes: dock.storageFreeBytes,
        clockDriftMs: 300_000,
      });
    }

    // Taking the recorder away closes its dock.
    const undocked = once<{ dockId: string; midSession: boolean }>(s.manager, 'undocked');
    await rm(join(dir, 'media', 'ZFY001'), { recursive: true });
    expect(await undocked).toMatchObject({ dockId: o.dockId, midSession: false });
    expect(new DeviceRepo(s.rig.catalog.db).dock(o.dockId)!.undockedAt).not.toBeNull();
    expect(ledger(s, 'device.undocked')).toEqual([
      { subject: 'ZFY001', data: expect.objectContaining({ dockId: o.dockId, reason: 'removed', midSession: false, sessionStatus: 'complete', ingested: 3 }) },
    ]);
    expect((await verifyVault({ catalog: s.rig.catalog, store: s.rig.store, deep: true })).ok).toBe(true);
  });

  it('serves several recorders at once, and the user-folder layout /run/media/<user>/<label>', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media', 'alice'), { recursive: true });
    const s = await station(dir);
    const done = new Map<string, DockOutcome>();
    const all = new Promise<void>((resolve) => {
      s.manager.on('ended', (o: DockOutcome) => {
        done.set(o.identity!.serial, o);
        if (done.size === 2) resolve();
      });
    });
    await Promise.all([recorder(join(dir, 'media', 'alice', 'REC A'), 'ZFYA01'), recorder(join(dir, 'media', 'ZFYB02'), 'ZFYB02')]);
    // A plain folder with no status file and no mount is no recorder: never docked.
    await writeTree(join(dir, 'media', 'alice', 'HOLIDAY'), { 'DCIM/a.mp4': 100 });
    await all;
    expect(done.get('ZFYA01')).toMatchObject({ location: join(dir, 'media', 'alice', 'REC A'), assessment: { verdict: 'ready' }, report: { ingested: 3 } });
    expect(done.get('ZFYB02')).toMatchObject({ assessment: { verdict: 'ready' }, report: { ingested: 3 } });
    expect(s.detection.docked().map((c) => c.location).sort()).toEqual([join(dir, 'media', 'ZFYB02'), join(dir, 'media', 'alice', 'REC A')].sort());
    expect(ledger(s, 'device.docked')).toHaveLength(2);
  });

  it('ties a mount to its USB device through mountinfo and sysfs: profile by USB id, serial from iSerial', async () => {
    const dir = await tempDir();
    const media = join(dir, 'media');
    // A fake sysfs: the recorder is USB 2a7c:0b01 with serial ZFY0042; its storage is 8:17.
    const sys = join(dir, 'sys');
    const usbDev = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-2');
    const part = join(usbDev, '1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1');
    await mkdir(part, { recursive: true });
    for (const [k, v] of Object.entries({ idVendor: '2a7c', idProduct: '0b01', serial: 'ZFY0042', product: 'DSJ-X1', busnum: '1', devnum: '9' })) await writeFile(join(usbDev, k), v + '\n');
    await mkdir(join(sys, 'dev/block'), { recursive: true });
    await symlink(relative(join(sys, 'dev/block'), part), join(sys, 'dev/block/8:17'));
    // ...and a phone (unknown USB id) on 8:33.
    const phone = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-3');
    await mkdir(join(phone, 'block/sdc/sdc1'), { recursive: true });
    await writeFile(join(phone, 'idVendor'), '18d1\n');
    await writeFile(join(phone, 'idProduct'), '4ee1\n');
    await symlink(relative(join(sys, 'dev/block'), join(phone, 'block/sdc/sdc1')), join(sys, 'dev/block/8:33'));
    const mountinfo = join(dir, 'mountinfo');
    await writeFile(
      mountinfo,
      [
        `28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw`,
        `530 28 8:17 / ${join(media, 'custody', 'sdb1')} rw,nosuid,nodev shared:398 - vfat /dev/sdb1 rw`,
        `531 28 8:33 / ${join(media, 'custody', 'sdc1')} rw,nosuid,nodev shared:399 - vfat /dev/sdc1 rw`,
      ].join('\n') + '\n',
    );
    const profiles = parseProfiles(
      `profiles:
  - id: vendor-x1
    name: Vendor X1
    model: DSJ-X1
    usb: ["2a7c:0b01"]
    layout: { mediaDirs: [DCIM] }
    identity: [usb-serial]
  - id: generic-mass-storage
    name: generic
`,
      'test profiles',
    );
    await mkdir(join(media, 'custody'), { recursive: true });
    const s = await station(dir, { profiles, mountInfoFile: mountinfo, sysRoot: sys });
    const ignored = once<{ location: string; reason: string }>(s.manager, 'ignored');
    const ended = s.ended();
    // The mounts' folders: mountinfo says they are mount points (no root needed to "mount").
    await writeTree(join(media, 'custody', 'sdb1'), { 'DCIM/100MEDIA/V0001.MP4': 4000, 'MISC/THUMB.JPG': 10 });
    await writeTree(join(media, 'custody', 'sdc1'), { 'DCIM/IMG_0001.JPG': 4000 });
    const o = await ended;
    expect(await ignored).toEqual({ location: join(media, 'custody', 'sdc1'), reason: 'unknown model' });
    expect(o).toMatchObject({ profile: 'vendor-x1', identity: { serial: 'ZFY0042', model: 'DSJ-X1', officer: null }, report: { ingested: 1 } });
    // No status source: battery and clock are unknown, and reported as such, not guessed.
    expect(o.assessment.reasons.map((r) => r.code)).toEqual(['BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);
    expect(o.clockSyncedAt).toBeNull();
    expect(ledger(s, 'device.docked')[0]!.data).toMatchObject({ usb: { vendorId: 0x2a7c, productId: 0x0b01, serial: 'ZFY0042', product: 'DSJ-X1' }, health: { batteryPercent: null, clockDriftMs: null } });
    expect(evidence(s, 'ZFY0042').map((e) => e.source_path)).toEqual(['DCIM/100MEDIA/V0001.MP4']);
  });

  it('docks a drop-folder entry once the copy is at rest; an unidentifiable one is recorded as not ready', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'drop'), { recursive: true });
    const s = await station(dir);
    const first = s.ended();
    // Copied by hand: no status file; the recorder wrote its serial into every name.
    await writeTree(join(dir, 'drop', 'from-zhang'), {
      'DCIM/ZFY777_20260301100128_0001.MP4': 2000,
      'DCIM/ZFY777_20260301100149_0002.MP4': 2000,
    });
    const o = await first;
    expect(o).toMatchObject({ profile: 'generic-mass-storage', identity: { serial: 'ZFY777' }, report: { status: 'complete', ingested: 2 } });
    expect(o.assessment.reasons.map((r) => r.code)).toEqual(['BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);

    const second = s.ended();
    await writeTree(join(dir, 'drop', 'unknown'), { 'DCIM/clip.mp4': 1000 });
    const u = await second;
    expect(u).toMatchObject({ identity: null, report: null, assessment: { verdict: 'not-ready' } });
    expect(u.skipped).toMatch(/^unidentified/);
    expect(u.assessment.reasons[0]!.code).toBe('RECORDER_UNIDENTIFIED');
    const docked = ledger(s, 'device.docked');
    expect(docked).toHaveLength(2);
    expect(docked[1]).toMatchObject({ subject: null, data: { location: join(dir, 'drop', 'unknown'), source: 'drop', identity: null } });
    expect(new DeviceRepo(s.rig.catalog.db).dock(u.dockId)).toMatchObject({ recorderSerial: null, verdict: 'not-ready', sessionStatus: 'not-run' });
  });

  it('ends every dock with an ended event: one whose ledger append throws says it failed, records nothing, and the next dock is whole (issue 13)', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    const s = await station(dir);
    // The catalog refuses every ledger entry, as a full disk would (a trigger on this connection only).
    s.rig.catalog.db.exec("CREATE TEMP TRIGGER refuse_ledger BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const failed = s.ended();
    await recorder(join(dir, 'media', 'ZFY010'), 'ZFY010');
    const f = await failed;
    expect(f).toMatchObject({ identity: { serial: 'ZFY010' }, report: null, clockSyncedAt: null, skipped: null });
    expect(f.failed).toMatch(/database or disk is full/);
    // The dock's transaction rolled back whole: no dock row, no recorder, no entry.
    expect(new DeviceRepo(s.rig.catalog.db).dock(f.dockId)).toBeNull();
    expect(s.rig.catalog.db.prepare('SELECT COUNT(*) AS n FROM ledger').get()).toEqual({ n: 0 });
    expect(evidence(s, 'ZFY010')).toEqual([]);

    // Once the catalog takes entries again, the recorder's next dock ingests it all.
    s.rig.catalog.db.exec('DROP TRIGGER temp.refuse_ledger');
    await rm(join(dir, 'media', 'ZFY010'), { recursive: true });
    await waitFor('the failed dock to be undocked', async () => s.manager.active().length === 0);
    const again = s.ended();
    const files = await recorder(join(dir, 'media', 'ZFY010'), 'ZFY010');
    const o = await again;
    expect(o).toMatchObject({ failed: null, report: { status: 'complete', ingested: 3 } });
    expect(evidence(s, 'ZFY010').map((e) => e.sha256).sort()).toEqual(Object.values(files).map(sha).sort());
  });

  it('ends the session of a recorder pulled mid-session cleanly and reports it; the next dock finishes the job', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    // Only the recorder is simulated: the second file's read waits until the recorder has been pulled.
    const { profiles, drivers, reading, release } = secondReadHeld();
    const s = await station(dir, { profiles, drivers, concurrency: 1 });
    const ended = s.ended();
    const files: Record<string, number> = {};
    for (let i = 1; i <= 6; i++) files[`DCIM/ZFY5_2026030110012${i}_000${i}.MP4`] = 50_000;
    const root = join(dir, 'media', 'ZFY5');
    await recorder(root, 'ZFY5', { files });
    const undocked = once<{ midSession: boolean; reason: string }>(s.manager, 'undocked');
    await once(s.manager, 'docked');
    // The first file is committed and the second is being read: pull the recorder (it vanishes at once).
    await reading;
    await rename(root, join(dir, 'pulled'));
    await waitFor('the recorder to be seen gone', async () => s.detection.docked().length === 0);
    release();
    const u = await undocked;
    const o = await ended;
    expect(u).toMatchObject({ midSession: true, reason: 'removed' });
    expect(o.report).toMatchObject({ status: 'recorder-gone', ingested: 1, failed: 0 });
    expect(o.report!.error).toMatchObject({ code: 'RECORDER_GONE' });
    expect(o.clockSyncedAt).toBeNull(); // not all files are in: the clock keeps the drift they were recorded with
    expect(ledger(s, 'device.undocked')[0]!.data).toMatchObject({ midSession: true, sessionStatus: 'recorder-gone', ingested: 1 });
    // Nothing half-stored: one object in the vault, no temp files, and the vault verifies.
    expect(evidence(s, 'ZFY5')).toHaveLength(1);
    expect(await readdir(join(dir, 'home', 'vault', '.tmp')).catch(() => [])).toEqual([]);
    expect((await verifyVault({ catalog: s.rig.catalog, store: s.rig.store, deep: true })).ok).toBe(true);

    // Docked again: what was committed is skipped, the rest comes in.
    release();
    const again = s.ended();
    await rename(join(dir, 'pulled'), root);
    const o2 = await again;
    expect(o2.report).toMatchObject({ status: 'complete', ingested: 5, skipped: 1 });
    expect(evidence(s, 'ZFY5')).toHaveLength(6);
  });

  it.each([
    ['at the same place', 'ZFY6'],
    ['at another place', 'ZFY6-slot2'],
  ])('collects a recorder docked again %s while a read of its pulled dock never returns, and the late read then records nothing', async (_, again) => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    // Only the recorder is simulated: the second file's read hangs (a file system that
    // no longer answers) until the test lets it return, long after the pull.
    const { profiles, drivers, reading, release: letReturn } = secondReadHeld();
    const s = await station(dir, { profiles, drivers, concurrency: 1, stragglerMs: 300 });
    const files: Record<string, number> = {};
    for (let i = 1; i <= 6; i++) files[`DCIM/ZFY6_2026030110012${i}_000${i}.MP4`] = 50_000;
    const root = join(dir, 'media', 'ZFY6');
    await recorder(root, 'ZFY6', { files });
    const firstUndocked = once<{ dockId: string; midSession: boolean }>(s.manager, 'undocked', () => true, 60_000);
    const first = await once<DockOutcome>(s.manager, 'docked');
    await reading;
    // Pulled while the read hangs: the dock is gone, its session aborted, its read still out.
    await rename(root, join(dir, 'pulled'));
    await waitFor('the recorder to be seen gone', async () => s.detection.docked().length === 0);
    const ended = s.ended((o) => o.dockId !== first.dockId);
    await rename(join(dir, 'pulled'), join(dir, 'media', again));
    const o = await ended;
    expect(o.report).toMatchObject({ status: 'complete', ingested: 5, skipped: 1, failed: 0 });
    expect(evidence(s, 'ZFY6')).toHaveLength(6);

    // The hung read returns at last: the first dock ends, its copy rolled back, and it
    // records nothing more — no second item, no failure, no temp file left.
    letReturn();
    const u = await firstUndocked;
    expect(u).toMatchObject({ dockId: first.dockId, midSession: true });
    expect(evidence(s, 'ZFY6')).toHaveLength(6);
    expect(s.rig.catalog.db.prepare("SELECT count(*) AS n FROM ingest_failures WHERE recorder_serial = 'ZFY6'").get()).toEqual({ n: 0 });
    expect(await readdir(join(dir, 'home', 'vault', '.tmp')).catch(() => [])).toEqual([]);
    expect((await verifyVault({ catalog: s.rig.catalog, store: s.rig.store, deep: true })).ok).toBe(true);
  });

  it('after a restart, recorders still docked are docked again and their interrupted session resumes', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    const files: Record<string, number> = {};
    for (let i = 1; i <= 12; i++) files[`DCIM/ZFY6_202603011001${String(i).padStart(2, '0')}_${String(i).padStart(4, '0')}.MP4`] = 400_000;
    const s1 = await station(dir, { concurrency: 1, readBufferKb: 16 });
    const first = s1.ended();
    const committed = new Promise<void>((resolve) => {
      const off = s1.rig.catalog.ledger.onAppend((e) => {
        if (e.type === 'evidence.ingested') {
          off();
          // The daemon stops mid-session (SIGTERM): intake stops now, copies in flight roll back.
          void s1.manager.stop(0);
          resolve();
        }
      });
    });
    await recorder(join(dir, 'media', 'ZFY6'), 'ZFY6', { files });
    await committed;
    await s1.stop(0);
    const o1 = await first;
    expect(o1.report!.status).toBe('aborted');
    const done1 = o1.report!.ingested;
    expect(done1).toBeGreaterThan(0);
    expect(done1).toBeLessThan(12);

    const s2 = await station(dir, { concurrency: 4 });
    const o2 = await s2.ended();
    expect(o2.report).toMatchObject({ status: 'complete', ingested: 12 - done1, skipped: done1 });
    expect(evidence(s2, 'ZFY6')).toHaveLength(12);
    const docks = new DeviceRepo(s2.rig.catalog.db).docksOf('ZFY6');
    expect(docks.map((d) => d.sessionStatus)).toEqual(['complete', 'aborted']);
    expect((await verifyVault({ catalog: s2.rig.catalog, store: s2.rig.store, deep: true })).ok).toBe(true);
  });

  it('marks sessions a crashed process left running as interrupted when the dock manager starts', async () => {
    const dir = await tempDir();
    const r = await rig(dir);
    r.catalog.db.prepare("INSERT INTO docks (id, location, docked_at, verdict) VALUES ('d-crashed', '/media/X', '2026-03-01T00:00:00Z', 'ready')").run();
    r.catalog.db.prepare("INSERT INTO docks (id, location, docked_at, verdict, session_status) VALUES ('d-done', '/media/Y', '2026-03-01T00:00:00Z', 'ready', 'complete')").run();
    r.close();
    const s = await station(dir);
    const repo = new DeviceRepo(s.rig.catalog.db);
    expect(repo.dock('d-crashed')!.sessionStatus).toBe('interrupted');
    expect(repo.dock('d-done')!.sessionStatus).toBe('complete');
  });

  it('keeps device status in the registry, ledgered; a recorder reported damaged is not ready at its dock', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'media'), { recursive: true });
    const s = await station(dir);
    const first = s.ended();
    await recorder(join(dir, 'media', 'ZFY8'), 'ZFY8');
    await first;
    const reg = new DeviceRegistry(s.rig.catalog);
    expect(reg.list()).toEqual([expect.objectContaining({ serial: 'ZFY8', status: 'in-service', lastDock: expect.objectContaining({ verdict: 'ready' }) })]);
    expect(reg.setStatus('ZFY8', 'reported-damaged', { actor: 'cli:test', note: 'cracked lens' })).toMatchObject({ changed: true, device: { status: 'reported-damaged', statusNote: 'cracked lens' } });
    expect(reg.setStatus('ZFY8', 'reported-damaged', { actor: 'cli:test', note: 'cracked lens' }).changed).toBe(false);
    expect(() => reg.setStatus('ZFY8', 'lost', { actor: 'cli:test' })).toThrow(/status must be one of/);
    expect(() => reg.setStatus('NOPE', 'retired', { actor: 'cli:test' })).toThrow(/recorder not found: NOPE/);
    expect(ledger(s, 'device.status-changed')).toEqual([{ subject: 'ZFY8', data: { from: 'in-service', to: 'reported-damaged', note: 'cracked lens' } }]);

    const undocked = once(s.manager, 'undocked');
    await rm(join(dir, 'media', 'ZFY8'), { recursive: true });
    await undocked;
    const second = s.ended();
    await recorder(join(dir, 'media', 'ZFY8'), 'ZFY8');
    const o = await second;
    expect(o.assessment.reasons.map((r) => r.code)).toEqual(['RECORDER_NOT_IN_SERVICE']);
    // The recorder came back with new footage under the same names: that is new evidence.
    expect(reg.show('ZFY8')).toMatchObject({ serial: 'ZFY8', evidence: { items: 6 }, docks: [expect.objectContaining({ verdict: 'not-ready' }), expect.objectContaining({ verdict: 'ready' })] });
  });
});
