/**
 * GA/T 947.4 recorders, the parts on their own (issue 16): UsbPreDock's fault handling,
 * and the dock of a recorder met already mounted or reached over TCP. The whole path
 * through the daemon — attach, health, clock sync, SetMSDC, mount, ingest, undock, and
 * the docks of readings that fail before the mount — is test/e2e/gat947-daemon.test.ts.
 * Only the USB bus and the recorder are simulated; catalog, vault, ledger and files are real.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCompliance } from '../../src/compliance/index.js';
import { complianceOptions } from '../../src/options.js';
import { configSchema } from '../../src/config/schema.js';
import { ActivityBus } from '../../src/core/activity.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeviceDetection, DockManager, DriverRegistry, parseProfiles, type DockCandidate, type DockOutcome, type HealthThresholds } from '../../src/devices/index.js';
import { UsbPreDock } from '../../src/devices/usb-predock.js';
import { SimRecorderState } from '../helpers/gat947/state.js';
import { SimTcpRecorder } from '../helpers/gat947/tcp-sim.js';
import { SIM_COMMANDS, SimUsbRecorder, type InjectedFault } from '../helpers/gat947/usb-sim.js';
import { rig, writeTree } from '../helpers/ingest-fixtures.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const thresholds: HealthThresholds = { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true };
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('a GA/T 947.4 recorder docked over USB (issue 16)', () => {
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
    // The dock manager, as far as the pre-dock talks to it.
    const handed: DockCandidate[] = [];
    const ended: Array<[string, string]> = [];
    const docks = { dock: (c: DockCandidate) => void handed.push(c), undock: (location: string, reason: string) => void ended.push([location, reason]) };
    const mountinfo = join(dir, 'mountinfo');
    await writeFile(mountinfo, '28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n');
    const preDock = new UsbPreDock({ profiles, catalog: r.catalog, log, gat947: { env: { PW: 'wrong-2' }, findUsbDevice: async () => dev }, syncClock: true, docks, mountInfoFile: mountinfo, sysRoot: join(dir, 'sys') });
    const reading = await preDock.attached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: 4, portNumbers: [3] });
    expect(reading).toMatchObject({ identity: null, identifyError: { code: 'GAT947_PASSWORD_WRONG' }, healthError: { code: 'GAT947_PASSWORD_WRONG' }, clockSetTo: null, msdc: false, msdcError: { code: 'GAT947_PASSWORD_WRONG' } });
    expect(state.msdc).toBe(false);
    expect(state.syncs).toEqual([]);
    // Nothing will be mounted: it is handed to the dock manager as a dock at its USB port, with its reading.
    expect(handed).toEqual([
      expect.objectContaining({ location: 'usb:1-3', source: 'usb', usb: expect.objectContaining({ kernelName: '1-3', busNumber: 1, deviceAddress: 4 }), reading: expect.objectContaining({ msdc: false, notMounted: expect.stringMatching(/^not switched to mass storage \(GAT947_PASSWORD_WRONG: /) }) }),
    ]);
    // ...and the ledger has the codes of the failed reading.
    const failed = r.catalog.db.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'device.read-failed'").all();
    expect(failed.map((x) => JSON.parse(x.data) as unknown)).toEqual([
      expect.objectContaining({ profile: 'm', usb: { vendorId: 0x1234, productId: 0x5678, port: '1-3' }, identifyError: expect.objectContaining({ code: 'GAT947_PASSWORD_WRONG' }), switchedToMassStorage: false }),
    ]);
    expect(failed[0]!.data).not.toMatch(/wrong-2|right-1/);
    expect(dev.iface.kernelDriverActive).toBe(true);
    // Unplugged: its dock ends.
    preDock.detached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: 4, portNumbers: [3] });
    expect(ended).toEqual([['usb:1-3', 'usb-detach']]);
    // Plugged in again with the right password in place: asked again, and switched.
    state.password = 'wrong-2';
    // (a device plugged in again gets a new address)
    dev.deviceAddress = 6;
    const again = await preDock.attached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: 6, portNumbers: [3] });
    expect(again).toMatchObject({ identity: { serial: 'ZFY0001' }, msdc: true });
    expect(lines.join('')).toMatch(/GAT947_PASSWORD_WRONG/);
    expect(lines.join('')).not.toMatch(/wrong-2|right-1/);
    // No storage of it is mounted within the profile's mountWaitSeconds: said, the reading dropped, and docked as not mounted.
    await waitFor('the mount-wait error', async () => lines.some((l) => l.includes('no storage of it was mounted')), 5000);
    expect(handed[1]).toMatchObject({ location: 'usb:1-3', reading: { msdc: true, identity: { serial: 'ZFY0001' }, notMounted: expect.stringMatching(/within 1 s/) } });
    // A mount that comes later still, while the device stays, is docked from that reading (once).
    const behind = { vendorId: 0x1234, productId: 0x5678, serial: null, manufacturer: null, product: null, busNumber: 1, deviceAddress: 5, kernelName: '1-3' };
    expect(preDock.take(behind)).toMatchObject({ identity: { serial: 'ZFY0001' }, msdc: true, notMounted: null });
    expect(preDock.take(behind)).toBeNull();
    // Plugged in again (address 7): asked and switched; it comes back as mass storage
    // (address 8) and is pulled before anything is mounted: its dock ends at once.
    ended.length = 0;
    dev.deviceAddress = 7;
    const ref = (deviceAddress: number) => ({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress, portNumbers: [3] });
    expect(await preDock.attached(ref(7))).toMatchObject({ msdc: true });
    // (the dock of the last time, never unplugged as far as custody heard, is over)
    expect(ended).toEqual([['usb:1-3', 'usb-detach']]);
    preDock.detached(ref(7));
    expect(await preDock.attached(ref(8))).toBeNull();
    preDock.detached(ref(8));
    await waitFor('the second mount-wait', async () => handed.length === 3, 5000);
    await waitFor('its end', async () => ended.length === 2);
    expect(ended[1]).toEqual(['usb:1-3', 'usb-detach']);
    // Not a GA/T 947.4 USB model: nothing is asked.
    expect(await preDock.attached({ vendorId: 0x1111, productId: 0x2222, busNumber: 1, deviceAddress: 5, portNumbers: [4] })).toBeNull();
  });

  it('every USB fault before the mount ends in a typed error, a log line and a dock at usb:<port> — never a hang', async () => {
    const dir = await tempDir();
    const profiles = parseProfiles(
      `profiles:\n  - id: m\n    name: m\n    usb: ["1234:5678"]\n    driver: gat947\n    clockSync: true\n    gat947: { usb: { timeoutMs: 200 }, password: { env: PW }, commands: { getTime: ${SIM_COMMANDS.getTime} } }\n  - id: generic-mass-storage\n    name: generic\n`,
      'p',
    );
    const r = await rig(dir);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const manager = new DockManager({
      catalog: r.catalog,
      ingest: r.service({ settings: { settleSeconds: 0, perRecorder: 1 } }),
      activity: new ActivityBus(),
      profiles,
      thresholds,
      syncClock: true,
      dropProfile: 'generic-mass-storage',
      log,
    });
    manager.start();
    stops.push(async () => {
      await manager.stop(0);
      r.close();
    });
    const mountinfo = join(dir, 'mountinfo');
    await writeFile(mountinfo, '28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n');
    const devs = new Map<number, SimUsbRecorder>();
    const preDock = new UsbPreDock({
      profiles,
      catalog: r.catalog,
      log,
      gat947: { zone: 'Asia/Shanghai', env: { PW: '000000' }, findUsbDevice: async (_b, a) => devs.get(a) ?? null },
      syncClock: true,
      docks: manager,
      mountInfoFile: mountinfo,
      sysRoot: join(dir, 'sys'),
    });
    // Each fault on SetMSDC, the last call before the mount (the earlier calls succeed).
    const cases: Array<[InjectedFault, string]> = [
      [{ fault: 'stall', phase: 'cbw', command: SIM_COMMANDS.setMsdc }, 'GAT947_STALL'],
      [{ fault: 'short', phase: 'data', command: SIM_COMMANDS.setMsdc }, 'GAT947_SHORT_TRANSFER'],
      [{ fault: 'wrong-tag', phase: 'csw', command: SIM_COMMANDS.setMsdc }, 'GAT947_CSW_TAG'],
      [{ fault: 'bad-csw', phase: 'csw', command: SIM_COMMANDS.setMsdc }, 'GAT947_CSW_INVALID'],
      [{ fault: 'csw-failed', phase: 'csw', command: SIM_COMMANDS.setMsdc }, 'GAT947_COMMAND_FAILED'],
      [{ fault: 'phase-error', phase: 'csw', command: SIM_COMMANDS.setMsdc }, 'GAT947_PHASE_ERROR'],
      [{ fault: 'timeout', command: SIM_COMMANDS.setMsdc }, 'GAT947_TIMEOUT'],
      [{ fault: 'hang', command: SIM_COMMANDS.setMsdc }, 'GAT947_TIMEOUT'],
    ];
    let port = 10;
    for (const [fault, code] of cases) {
      port += 1;
      const state = new SimRecorderState({ info: { serial: `ZFY${port}` }, battery: 90, sd: { totalBytes: 64e9, freeBytes: 60e9 }, clockOffsetMs: 0, zone: 'Asia/Shanghai' });
      const dev = new SimUsbRecorder(state, { busNumber: 1, deviceAddress: port, portNumbers: [port] });
      devs.set(port, dev);
      dev.inject(fault);
      const location = `usb:1-${port}`;
      const ended = new Promise<DockOutcome>((resolve) => manager.on('ended', (o: DockOutcome) => o.location === location && resolve(o)));
      const started = Date.now();
      const reading = await preDock.attached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: port, portNumbers: [port] });
      expect(reading, fault.fault).toMatchObject({ identity: { serial: `ZFY${port}` }, msdc: false, msdcError: { code } });
      // No call waits longer than a few transfer timeouts.
      expect(Date.now() - started, fault.fault).toBeLessThan(3000);
      const o = await ended;
      expect(o.identity?.serial, fault.fault).toBe(`ZFY${port}`);
      expect(o.assessment.reasons.map((x) => x.code), fault.fault).toEqual(['STORAGE_NOT_MOUNTED']);
      const row = r.catalog.db.prepare<[string], { location: string; health_state: string; reasons: string; session_status: string }>('SELECT location, health_state, reasons, session_status FROM docks WHERE id = ?').get(o.dockId)!;
      expect(row, fault.fault).toMatchObject({ location, health_state: 'not-ready', session_status: 'not-run' });
      expect(row.reasons, fault.fault).toContain(code);
      expect(lines.some((l) => l.includes('could not be switched to mass storage') && l.includes(code)), fault.fault).toBe(true);
      // The kernel driver it detached is given back.
      expect(dev.iface.kernelDriverActive, fault.fault).toBe(true);
      // Unplugged: the dock ends.
      preDock.detached({ vendorId: 0x1234, productId: 0x5678, busNumber: 1, deviceAddress: port, portNumbers: [port] });
      await waitFor(`the undock of ${location}`, async () => r.catalog.db.prepare<[string], { undock_reason: string | null }>('SELECT undock_reason FROM docks WHERE id = ?').get(o.dockId)?.undock_reason === 'usb-detach');
    }
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
    expect(unchecked.assessment.reasons.map((x) => x.code)).toEqual(['DEVICE_NOT_ASKED', 'BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);
    expect(r.catalog.db.prepare<[string], { verdict: string; health_state: string }>('SELECT verdict, health_state FROM docks WHERE id = ?').get(unchecked.dockId)).toEqual({ verdict: 'ready', health_state: 'unchecked' });
  });
});
