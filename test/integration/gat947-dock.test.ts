/**
 * A GA/T 947.4 recorder over USB, end to end through the daemon's parts (issue 16):
 * the simulated recorder attaches (node-usb boundary) → UsbPreDock asks it (identity,
 * battery, storage, device clock: drift measured), sets its clock (SyncDevTime,
 * ledgered), switches it to mass storage (SetMSDC) → its storage appears as a mount
 * under a watched root (a mountinfo line and sysfs tie it to the same USB port) →
 * detection docks it, the dock manager's driver serves the reading taken before the
 * mount → ingest → the mount goes → undock. Only the USB bus and the recorder are
 * simulated; catalog, vault, ledger and files are real.
 */
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCompliance } from '../../src/compliance/index.js';
import { complianceOptions } from '../../src/options.js';
import { configSchema } from '../../src/config/schema.js';
import { ActivityBus } from '../../src/core/activity.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeviceDetection, DockManager, DriverRegistry, parseProfiles, type DockOutcome, type HealthThresholds } from '../../src/devices/index.js';
import { UsbPreDock } from '../../src/devices/usb-predock.js';
import { usbAttachHandler, UsbSeenRepo } from '../../src/devices/usb-seen.js';
import { SimRecorderState } from '../helpers/gat947/state.js';
import { SimTcpRecorder } from '../helpers/gat947/tcp-sim.js';
import { SIM_COMMANDS, SimUsbRecorder } from '../helpers/gat947/usb-sim.js';
import { rig, writeTree } from '../helpers/ingest-fixtures.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const thresholds: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('a GA/T 947.4 recorder docked over USB (issue 16)', () => {
  it('attach → health through the driver → clock sync → SetMSDC → mount under a watched root → ingest → undock', async () => {
    const dir = await tempDir();
    const media = join(dir, 'media');
    const mountPoint = join(media, 'custody', 'sdb1');
    await mkdir(join(media, 'custody'), { recursive: true });

    // sysfs: the recorder at USB port 1-2 (bus 1, address 9); its mass storage is block 8:17.
    const sys = join(dir, 'sys');
    const usbDev = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-2');
    const part = join(usbDev, '1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1');
    await mkdir(part, { recursive: true });
    for (const [k, v] of Object.entries({ idVendor: 'abcd', idProduct: '0001', serial: 'USBSERIAL9', product: 'DSJ-Y2', busnum: '1', devnum: '9' })) {
      await writeFile(join(usbDev, k), v + '\n');
    }
    await mkdir(join(sys, 'dev/block'), { recursive: true });
    await symlink(relative(join(sys, 'dev/block'), part), join(sys, 'dev/block/8:17'));
    // /sys/bus/usb/devices/<port> links to the device, as on a real system.
    await mkdir(join(sys, 'bus/usb/devices'), { recursive: true });
    await symlink(relative(join(sys, 'bus/usb/devices'), usbDev), join(sys, 'bus/usb/devices/1-2'));
    const mountinfo = join(dir, 'mountinfo');
    const root = `28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n`;
    await writeFile(mountinfo, root);

    // The recorder: its clock 125 s fast, 64 % battery, its officer, a password.
    const state = new SimRecorderState({
      info: { serial: 'ZFY0042', officerNo: '012345', unitNo: '330100000000' },
      password: 'pw-2468',
      battery: 64,
      clockOffsetMs: 125_000,
      sd: { totalBytes: 64e9, freeBytes: 30e9 },
      zone: 'Asia/Shanghai',
    });
    const dev = new SimUsbRecorder(state, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 9 });
    let files: Record<string, Buffer> = {};
    // SetMSDC: the system mounts its storage (udev + systemd-mount on a real station).
    state.onMsdc = () => {
      void (async () => {
        files = await writeTree(mountPoint, {
          'DCIM/100MEDIA/ZFY0042_20261201083000_0001.MP4': 5000,
          'RECORD/ZFY0042_20261201091500_0002.WAV': 3000,
        });
        await writeFile(mountinfo, root + `530 28 8:17 / ${mountPoint} rw,nosuid,nodev shared:398 - vfat /dev/sdb1 rw\n`);
      })();
    };

    const profiles = parseProfiles(
      `profiles:
  - id: dsj-y2
    name: DSJ-Y2 (GA/T 947.4)
    model: DSJ-Y2
    usb: ["abcd:0001"]
    driver: gat947
    clockSync: true
    layout: { mediaDirs: [DCIM, RECORD] }
    gat947:
      usb: { timeoutMs: 500 }
      commands: { getTime: ${SIM_COMMANDS.getTime} }
      password: { env: DSJ_Y2_PASSWORD }
  - id: generic-mass-storage
    name: generic
`,
      'station profiles',
    );
    const r = await rig(dir);
    const gat947 = { zone: 'Asia/Shanghai', env: { DSJ_Y2_PASSWORD: 'pw-2468' }, findUsbDevice: async (b: number, a: number) => (b === 1 && a === 9 && !dev.gone ? dev : null) };
    const preDock = new UsbPreDock({ profiles, catalog: r.catalog, log: silentLogger, gat947, syncClock: true });
    const manager = new DockManager({
      catalog: r.catalog,
      ingest: r.service({ settings: { settleSeconds: 0, perRecorder: 1 } }),
      activity: new ActivityBus(),
      profiles,
      thresholds,
      syncClock: true,
      dropProfile: 'generic-mass-storage',
      log: silentLogger,
      drivers: new DriverRegistry({ gat947, readings: preDock }),
    });
    const detection = new DeviceDetection({
      mountRoots: [media],
      dropFolders: [],
      dropSettleMs: 300,
      mountWaitMs: 1000,
      mountPollMs: 50,
      rescanMs: 0,
      usb: false,
      statusFiles: profiles.statusFiles,
      isKnownUsb: (v, p) => profiles.byUsb(v, p) !== null,
      log: silentLogger,
      onDock: (c) => manager.dock(c),
      onUndock: (loc, reason) => manager.undock(loc, reason),
      mountInfoFile: mountinfo,
      sysRoot: sys,
    });
    manager.start();
    await detection.start();
    stops.push(async () => {
      await detection.stop();
      await manager.stop(0);
      r.close();
    });
    const ended = new Promise<DockOutcome>((resolve) => manager.once('ended', resolve));
    const undocked = new Promise<{ midSession: boolean; reason: string }>((resolve) => manager.once('undocked', resolve));

    // The daemon's USB attach handler, as detection calls it. Present at start: recorded, not asked (it may be mounted).
    const onAttach = usbAttachHandler({ catalog: r.catalog, preDock, log: silentLogger, sysRoot: sys });
    const ref = { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 9, portNumbers: [2], interfaceClasses: [8] };
    await onAttach(ref, true);
    expect(dev.events).toEqual([]);
    expect(new UsbSeenRepo(r.catalog.db).list()).toEqual([
      expect.objectContaining({ usbId: 'abcd:0001', product: 'DSJ-Y2', serial: 'USBSERIAL9', interfaceClasses: [8], timesSeen: 1 }),
    ]);
    // Attached while the daemon runs: asked, its clock set, switched to mass storage.
    await onAttach(ref, false);
    expect(state.msdc).toBe(true);
    expect(new UsbSeenRepo(r.catalog.db).list()[0]!.timesSeen).toBe(2);
    // Its clock was set to the station's (in the station zone) before it was mounted.
    expect(state.syncs).toHaveLength(1);
    expect(Math.abs(state.clockOffsetMs)).toBeLessThan(1500);
    // The coming back as mass storage is not asked again.
    expect(await preDock.attached({ vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 10, portNumbers: [2] })).toBeNull();
    expect(dev.iface.kernelDriverActive).toBe(true);

    const o = await ended;
    expect(o.profile).toBe('dsj-y2');
    // The device's identity wins over the USB iSerial, and the disagreement is kept.
    expect(o.identity).toMatchObject({ serial: 'ZFY0042', officer: '012345', unit: '330100000000', model: 'DSJ-Y2' });
    expect(o.identity?.conflicts).toEqual([{ field: 'serial', source: 'usb-serial', value: 'USBSERIAL9', deviceValue: 'ZFY0042' }]);
    expect(o.health).toMatchObject({ batteryPercent: 64, storageTotalBytes: 64e9, storageFreeBytes: 30e9, clockDriftMethod: 'device-clock' });
    // The drift measured before the sync: not ready for duty on the clock alone.
    expect(o.assessment).toMatchObject({ state: 'not-ready', verdict: 'not-ready' });
    expect(o.assessment.reasons.map((x) => x.code)).toEqual(['CLOCK_DRIFT']);
    expect(o.report).toMatchObject({ status: 'complete', ingested: 2, failed: 0 });

    const ledger = (type: string) =>
      r.catalog.db
        .prepare<[string], { subject: string | null; data: string }>('SELECT subject, data FROM ledger WHERE type = ? ORDER BY seq')
        .all(type)
        .map((x) => ({ subject: x.subject, data: JSON.parse(x.data) as Record<string, unknown> }));
    const synced = ledger('device.clock-synced');
    expect(synced).toHaveLength(1);
    expect(synced[0]).toMatchObject({ subject: 'ZFY0042', data: { when: 'before-mount', profile: 'dsj-y2', clockDriftMethod: 'device-clock' } });
    expect(Math.abs((synced[0]!.data.clockDriftMsBefore as number) - 125_000)).toBeLessThanOrEqual(1500);
    expect(ledger('device.docked')[0]!.data).toMatchObject({
      identity: { serial: 'ZFY0042', conflicts: [{ source: 'usb-serial' }] },
      health: { batteryPercent: 64, clockDriftMethod: 'device-clock' },
      verdict: 'not-ready',
      state: 'not-ready',
    });
    // The dock record keeps the three-state verdict, how the drift was found and the disagreement.
    expect(
      r.catalog.db.prepare('SELECT recorder_serial, verdict, health_state, clock_drift_method, identity_conflicts, battery_percent FROM docks').get(),
    ).toEqual({
      recorder_serial: 'ZFY0042',
      verdict: 'not-ready',
      health_state: 'not-ready',
      clock_drift_method: 'device-clock',
      identity_conflicts: JSON.stringify([{ field: 'serial', source: 'usb-serial', value: 'USBSERIAL9', deviceValue: 'ZFY0042' }]),
      battery_percent: 64,
    });
    // The drift measured at the dock corrects the recorded times of what was ingested.
    const rows = r.catalog.db.prepare<[], { source_path: string; clock_drift_ms: number | null; sha256: string }>("SELECT source_path, clock_drift_ms, sha256 FROM evidence WHERE recorder_serial = 'ZFY0042' ORDER BY source_path").all();
    expect(rows.map((x) => x.source_path)).toEqual(['DCIM/100MEDIA/ZFY0042_20261201083000_0001.MP4', 'RECORD/ZFY0042_20261201091500_0002.WAV']);
    expect(rows.every((x) => x.clock_drift_ms !== null && Math.abs(x.clock_drift_ms - 125_000) <= 1500)).toBe(true);
    expect(Object.keys(files)).toHaveLength(2);
    expect(ledger('evidence.ingested')).toHaveLength(2);
    // The password reached the recorder and is nowhere in the ledger.
    expect(JSON.stringify(r.catalog.db.prepare('SELECT * FROM ledger').all())).not.toContain('pw-2468');

    // The disagreement raises the attribution-conflict flag (the compliance scan after an undock does this).
    const flags = () => createCompliance({ catalog: r.catalog, settings: complianceOptions(configSchema.parse({})), actor: 'custody:test' }).rules.scan().raised;
    const raised = flags();
    expect(raised.filter((f) => f.rule === 'attribution-conflict').map((f) => [f.recorderSerial, f.dockId, f.summary])).toEqual([
      ['ZFY0042', o.dockId, expect.stringMatching(/reported itself as ZFY0042 .* but its usb-serial says USBSERIAL9/)],
    ]);
    expect(flags().filter((f) => f.rule === 'attribution-conflict')).toEqual([]);

    // Undock: the recorder is pulled, its mount goes.
    await writeFile(mountinfo, root);
    await rm(mountPoint, { recursive: true, force: true });
    expect(await undocked).toMatchObject({ midSession: false });
    await waitFor('device.undocked', async () => ledger('device.undocked').length === 1);
    expect(await readFile(mountinfo, 'utf8')).toBe(root);
  });

  it('a wrong password is a typed error in the reading: nothing hangs, nothing is switched or set, the device goes back to the kernel', async () => {
    const dir = await tempDir();
    const state = new SimRecorderState({ password: 'right-1' });
    const dev = new SimUsbRecorder(state, { busNumber: 1, deviceAddress: 4 });
    const profiles = parseProfiles(
      `profiles:\n  - id: m\n    name: m\n    usb: ["1234:5678"]\n    driver: gat947\n    clockSync: true\n    gat947: { usb: { timeoutMs: 300 }, password: { env: PW }, mountWaitSeconds: 1 }\n`,
      'p',
    );
    const r = await rig(dir);
    stops.push(async () => r.close());
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const preDock = new UsbPreDock({ profiles, catalog: r.catalog, log, gat947: { env: { PW: 'wrong-2' }, findUsbDevice: async () => dev }, syncClock: true });
    const reading = await preDock.attached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: 4, portNumbers: [3] });
    expect(reading).toMatchObject({ identity: null, identifyError: { code: 'GAT947_PASSWORD_WRONG' }, healthError: { code: 'GAT947_PASSWORD_WRONG' }, clockSetTo: null, msdc: false, msdcError: { code: 'GAT947_PASSWORD_WRONG' } });
    expect(state.msdc).toBe(false);
    expect(state.syncs).toEqual([]);
    // Nothing will be mounted, so no dock records it: the ledger does, with the codes.
    const failed = r.catalog.db.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'device.read-failed'").all();
    expect(failed.map((x) => JSON.parse(x.data) as unknown)).toEqual([
      expect.objectContaining({ profile: 'm', usb: { vendorId: 0x1234, productId: 0x5678, port: '1-3' }, identifyError: expect.objectContaining({ code: 'GAT947_PASSWORD_WRONG' }), switchedToMassStorage: false }),
    ]);
    expect(failed[0]!.data).not.toMatch(/wrong-2|right-1/);
    expect(dev.iface.kernelDriverActive).toBe(true);
    // Plugged in again with the right password in place: asked again, and switched.
    state.password = 'wrong-2';
    const again = await preDock.attached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: 4, portNumbers: [3] });
    expect(again).toMatchObject({ identity: { serial: 'ZFY0001' }, msdc: true });
    expect(lines.join('')).toMatch(/GAT947_PASSWORD_WRONG/);
    expect(lines.join('')).not.toMatch(/wrong-2|right-1/);
    // No storage of it is mounted within the profile's mountWaitSeconds: said, and the reading dropped.
    await waitFor('the mount-wait error', async () => lines.some((l) => l.includes('no storage of it was mounted')), 5000);
    expect(preDock.take({ vendorId: 0x1234, productId: 0x5678, serial: null, manufacturer: null, product: null, busNumber: 1, deviceAddress: 5, kernelName: '1-3' })).toBeNull();
    // Not a GA/T 947.4 USB model: nothing is asked.
    expect(await preDock.attached({ vendorId: 0x1111, productId: 0x2222, busNumber: 1, deviceAddress: 5, portNumbers: [4] })).toBeNull();
  });

  it('a GA/T 947.4 recorder met already mounted (no reading before the mount): identity from the USB serial, 未检测 unchecked, the drift estimated; TCP: a clock that cannot be set is kept on the dock and ledgered', async () => {
    const dir = await tempDir();
    const media = join(dir, 'media');
    await mkdir(join(media, 'custody'), { recursive: true });
    const sys = join(dir, 'sys');
    await mkdir(join(sys, 'dev/block'), { recursive: true });
    const mountinfo = join(dir, 'mountinfo');
    let table = `28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n`;
    await writeFile(mountinfo, table);
    /** A USB device at port 1-<port> whose storage (block 8:<minor>) is mounted at media/custody/<name>. */
    async function mounted(port: number, minor: number, ids: Record<string, string>, tree: Record<string, number>, mtime?: Date): Promise<string> {
      const usbDev = join(sys, `devices/pci0000:00/0000:00:14.0/usb1/1-${port}`);
      const part = join(usbDev, `1-${port}:1.0/host${port}/target${port}:0:0/${port}:0:0:0/block/sd${minor}/sd${minor}1`);
      await mkdir(part, { recursive: true });
      for (const [k, v] of Object.entries({ busnum: '1', devnum: String(port + 10), ...ids })) await writeFile(join(usbDev, k), v + '\n');
      await symlink(relative(join(sys, 'dev/block'), part), join(sys, `dev/block/8:${minor}`));
      const at = join(media, 'custody', `sd${minor}`);
      await writeTree(at, tree, mtime);
      table += `${530 + minor} 28 8:${minor} / ${at} rw,nosuid,nodev shared:${400 + minor} - vfat /dev/sd${minor}1 rw\n`;
      await writeFile(mountinfo, table);
      return at;
    }

    const state = new SimRecorderState({ password: null, battery: 90, clockOffsetMs: 0, zone: 'Asia/Shanghai' });
    const tcp = new SimTcpRecorder(state);
    const tcpPort = await tcp.start();
    stops.push(() => tcp.stop());
    const profiles = parseProfiles(
      `profiles:
  - id: usb-947
    name: USB model
    model: DSJ-U
    usb: ["abcd:0002"]
    driver: gat947
    identity: [usb-serial]
    unknownIsNotReady: false
  - id: tcp-947
    name: Android model
    usb: ["abcd:0003"]
    driver: gat947
    clockSync: true
    gat947: { transport: tcp, tcp: { host: 127.0.0.1, port: ${tcpPort}, timeoutMs: 500 }, commands: { getTime: ${SIM_COMMANDS.getTime} } }
  - id: generic-mass-storage
    name: generic
`,
      'station profiles',
    );
    const r = await rig(dir);
    const manager = new DockManager({
      catalog: r.catalog,
      ingest: r.service({ settings: { settleSeconds: 0, perRecorder: 1 } }),
      activity: new ActivityBus(),
      profiles,
      thresholds,
      syncClock: true,
      dropProfile: 'generic-mass-storage',
      log: silentLogger,
      drivers: new DriverRegistry({ gat947: { zone: 'Asia/Shanghai', findUsbDevice: async () => { throw new Error('a mounted USB recorder must not be asked'); } } }),
    });
    const detection = new DeviceDetection({
      mountRoots: [media],
      dropFolders: [],
      dropSettleMs: 300,
      mountWaitMs: 1000,
      mountPollMs: 50,
      rescanMs: 0,
      usb: false,
      statusFiles: profiles.statusFiles,
      isKnownUsb: (v, p) => profiles.byUsb(v, p) !== null,
      log: silentLogger,
      onDock: (c) => manager.dock(c),
      onUndock: (loc, reason) => manager.undock(loc, reason),
      mountInfoFile: mountinfo,
      sysRoot: sys,
    });
    manager.start();
    await detection.start();
    stops.push(async () => {
      await detection.stop();
      await manager.stop(0);
      r.close();
    });
    const outcomes: DockOutcome[] = [];
    const both = new Promise<void>((resolve) =>
      manager.on('ended', (o: DockOutcome) => {
        outcomes.push(o);
        if (outcomes.length === 2) resolve();
      }),
    );
    // Files dated 10 minutes after now: the recorder clock is at least that far ahead.
    const future = new Date(Date.now() + 600_000);
    await mounted(2, 17, { idVendor: 'abcd', idProduct: '0002', serial: 'ZFYU01' }, { 'DCIM/ZFYU01_1.MP4': 1000 }, future);
    // The TCP recorder refuses to set its clock (iRet 6) once its files are in.
    await mounted(3, 33, { idVendor: 'abcd', idProduct: '0003' }, { 'DCIM/ZFY0001_1.MP4': 1000 });
    state.setClock = () => false;
    await both;

    const usb = outcomes.find((o) => o.profile === 'usb-947')!;
    expect(usb.identity).toMatchObject({ serial: 'ZFYU01', model: 'DSJ-U' });
    expect(usb.health).toMatchObject({ batteryPercent: null, deviceClock: null, clockDriftMethod: 'newest-file-estimate', clockEstimate: { method: 'newest-file', bound: 'at-least' } });
    expect(usb.health!.clockDriftMs!).toBeGreaterThan(590_000);
    // The estimate shows a drift beyond the limit: not ready, and it says it was estimated.
    expect(usb.assessment.state).toBe('not-ready');
    expect(usb.assessment.reasons.map((x) => x.message).join()).toMatch(/estimated from the newest file/);

    const net = outcomes.find((o) => o.profile === 'tcp-947')!;
    expect(net.identity).toMatchObject({ serial: 'ZFY0001' });
    expect(net.report).toMatchObject({ status: 'complete', ingested: 1 });
    expect(net.clockSyncedAt).toBeNull();
    const row = r.catalog.db.prepare<[string], { clock_sync_error: string | null; health_state: string }>('SELECT clock_sync_error, health_state FROM docks WHERE id = ?').get(net.dockId)!;
    expect(row.clock_sync_error).toMatch(/^GAT947_CALL_FAILED: syncDevTime: the recorder could not set its clock/);
    expect(row.health_state).toBe('ready');
    const failed = r.catalog.db.prepare<[], { subject: string; data: string }>("SELECT subject, data FROM ledger WHERE type = 'device.clock-sync-failed'").all();
    expect(failed).toHaveLength(1);
    expect(failed[0]!.subject).toBe('ZFY0001');
    // ...and a clock that could not be set is flagged.
    const raised = createCompliance({ catalog: r.catalog, settings: complianceOptions(configSchema.parse({})), actor: 'custody:test' }).rules.scan().raised;
    expect(raised.filter((f) => f.dockId === net.dockId).map((f) => [f.rule, f.recorderSerial])).toEqual([['clock-drift', 'ZFY0001']]);

    // Nothing read battery or clock and no limit failed: 未检测, and this profile lets it count as ready.
    const unchecked = await (async () => {
      const ended = new Promise<DockOutcome>((resolve) => manager.once('ended', resolve));
      await mounted(4, 49, { idVendor: 'abcd', idProduct: '0002', serial: 'ZFYU02' }, { 'DCIM/ZFYU02_1.MP4': 1000 });
      return ended;
    })();
    expect(unchecked.assessment).toMatchObject({ state: 'unchecked', verdict: 'ready' });
    expect(unchecked.assessment.reasons.map((x) => x.code)).toEqual(['BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);
    expect(r.catalog.db.prepare<[string], { verdict: string; health_state: string }>('SELECT verdict, health_state FROM docks WHERE id = ?').get(unchecked.dockId)).toEqual({ verdict: 'ready', health_state: 'unchecked' });
  });
});
