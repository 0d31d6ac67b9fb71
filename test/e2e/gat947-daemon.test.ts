/**
 * GA/T 947.4 recorders on USB through the daemon (issue 16): `createDaemon` — the
 * composition root the `custody daemon` command uses, every service as it builds them
 * — given a simulated machine: a USB bus with hotplug events (node-usb's shape) on
 * which simulated recorders speak Bulk-Only Transport and the vendor commands, and a
 * mount table and sysfs in a folder where their storage "is mounted" as the kernel
 * and udev would. Catalog, vault, ledger, ingest, API and files are real.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { ActivityEvent } from '../../src/core/activity.js';
import { createDaemon, type Daemon } from '../../src/daemon.js';
import type { DockOutcome } from '../../src/devices/index.js';
import { massStorageDevice, SimHostFiles, SimUsbBus } from '../helpers/gat947/host.js';
import { SimRecorderState } from '../helpers/gat947/state.js';
import { SIM_COMMANDS, SimUsbRecorder } from '../helpers/gat947/usb-sim.js';
import { runCli, waitFor } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const running: Daemon[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
});

interface LedgerRow {
  seq: number;
  type: string;
  subject: string | null;
  data: Record<string, unknown>;
}

/** A station home with the dsj-y2 model learned, its password in a file, and a supervisor's token. */
async function station(dir: string, mountWaitSeconds = 60): Promise<{ home: string; media: string; token: string; profilesFile: string }> {
  const home = join(dir, 'home');
  const media = join(dir, 'media');
  await mkdir(join(media, 'custody'), { recursive: true });
  expect((await runCli(['init', '--home', home])).code).toBe(0);
  const { token } = JSON.parse((await runCli(['users', 'add', '--name', 'Chief', '--role', 'supervisor', '--json', '--home', home])).stdout) as { token: string };
  const secret = join(dir, 'dsj-y2.secret');
  await writeFile(secret, 'pw-2468\n', { mode: 0o600 });
  const profilesFile = join(dir, 'recorders.yaml');
  await writeFile(
    profilesFile,
    `profiles:
  - id: dsj-y2
    name: DSJ-Y2 (GA/T 947.4)
    model: DSJ-Y2
    usb: ["abcd:0001"]
    driver: gat947
    identity: [usb-serial, file-name]
    namePattern: '^(?<serial>ZFY[0-9A-Z]+)_'
    clockSync: true
    layout: { mediaDirs: [DCIM, RECORD] }
    gat947:
      usb: { timeoutMs: 400 }
      commands: { getTime: ${SIM_COMMANDS.getTime} }
      password: { file: ${secret} }
      mountWaitSeconds: ${mountWaitSeconds}
  - id: generic-mass-storage
    name: generic
`,
  );
  return { home, media, token, profilesFile };
}

/** The daemon as `custody daemon` builds it (createDaemon), on the simulated machine; not started. */
async function makeDaemon(s: { home: string; media: string; profilesFile: string }, host: { bus: SimUsbBus; files: SimHostFiles }, lines: string[]): Promise<Daemon> {
  const config = loadConfig({
    home: s.home,
    env: {
      CUSTODY_DEVICES_MOUNT_ROOTS: s.media,
      CUSTODY_DEVICES_PROFILES_FILE: s.profilesFile,
      CUSTODY_API_PORT: '0',
      CUSTODY_DEVICES_RESCAN_SECONDS: '0',
    },
  });
  const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
  const daemon = await createDaemon({ config, log, host: { usb: host.bus, mountInfoFile: host.files.mountinfo, sysRoot: host.files.sys } });
  running.push(daemon);
  return daemon;
}

function ledger(d: Daemon): LedgerRow[] {
  return d.catalog.db
    .prepare<[], { seq: number; type: string; subject: string | null; data: string }>('SELECT seq, type, subject, data FROM ledger ORDER BY seq')
    .all()
    .map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
}

function ended(d: Daemon, location: (l: string) => boolean): Promise<DockOutcome> {
  return new Promise((resolve) => {
    const on = (o: DockOutcome): void => {
      if (!location(o.location)) return;
      d.docks.off('ended', on);
      resolve(o);
    };
    d.docks.on('ended', on);
  });
}

describe('GA/T 947.4 recorders on USB, through the daemon (issue 16)', () => {
  it('attach → health through the driver → clock sync → SetMSDC → mount under a watched root → ingest → undock, in that order in the ledger; one already mounted at start is not asked', async () => {
    const dir = await tempDir();
    const s = await station(dir);
    const bus = new SimUsbBus();
    const files = await new SimHostFiles(dir).init();

    // Recorder A is docked and mounted before custody starts (port 1-3): it must not be asked.
    const stateA = new SimRecorderState({ info: { serial: 'ZFYA01' }, password: 'pw-2468', battery: 80, clockOffsetMs: 0 });
    const devA = new SimUsbRecorder(stateA, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 5, portNumbers: [3] });
    await files.usbDevice('1-3', { idVendor: 'abcd', idProduct: '0001', serial: 'ZFYA01', product: 'DSJ-Y2', busnum: '1', devnum: '5' });
    const mountA = join(s.media, 'custody', 'sdc1');
    await writeTree(mountA, { 'DCIM/ZFYA01_20261201080000_0001.MP4': 2000 });
    await files.mount('1-3', 33, mountA);
    bus.present(devA);

    const lines: string[] = [];
    const daemon = await makeDaemon(s, { bus, files }, lines);
    // Listening before start: the mount is docked as detection starts.
    const endedA = ended(daemon, (l) => l === mountA);
    await daemon.start();
    const a = await endedA;
    // Never opened: no detach of usb-storage under its mounted file system.
    expect(devA.events).toEqual([]);
    expect(stateA.syncs).toEqual([]);
    expect(a.identity).toMatchObject({ serial: 'ZFYA01', model: 'DSJ-Y2' });
    expect(a.assessment.state).toBe('unchecked');
    expect(a.assessment.reasons.map((r) => r.code)).toEqual(['DEVICE_NOT_ASKED', 'BATTERY_UNKNOWN', 'CLOCK_UNKNOWN']);
    expect(a.assessment.reasons[0]!.message).toMatch(/not asked over USB: its storage was already mounted .* asked before the mount when it is next plugged in/);
    expect(a.report).toMatchObject({ status: 'complete', ingested: 1 });
    expect(lines.join('')).toMatch(/recorder storage already mounted: not asked over USB/);

    // Recorder B attaches while the daemon runs (port 1-2, address 9): its clock 125 s fast.
    const state = new SimRecorderState({
      info: { serial: 'ZFY0042', officerNo: '012345', unitNo: '330100000000' },
      password: 'pw-2468',
      battery: 64,
      clockOffsetMs: 125_000,
      sd: { totalBytes: 64e9, freeBytes: 30e9 },
      zone: 'Asia/Shanghai',
    });
    const dev = new SimUsbRecorder(state, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 9, portNumbers: [2] });
    await files.usbDevice('1-2', { idVendor: 'abcd', idProduct: '0001', serial: 'USBSERIAL9', product: 'DSJ-Y2', busnum: '1', devnum: '9' });
    const order: string[] = [];
    const setClock = state.setClock.bind(state);
    state.setClock = (t) => (order.push('SyncDevTime'), setClock(t));
    const mountB = join(s.media, 'custody', 'sdb1');
    const msc = massStorageDevice({ vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 10, portNumbers: [2] });
    // SetMSDC: the recorder re-enumerates as mass storage (address 10) and udev mounts it.
    state.onMsdc = () => {
      order.push('SetMSDC');
      setTimeout(() => {
        void (async () => {
          dev.unplug();
          bus.unplug(dev);
          await files.usbDevice('1-2', { devnum: '10' });
          bus.plug(msc);
          await writeTree(mountB, { 'DCIM/100MEDIA/ZFY0042_20261201083000_0001.MP4': 5000, 'RECORD/ZFY0042_20261201091500_0002.WAV': 3000 });
          await files.mount('1-2', 17, mountB);
        })();
      }, 20);
    };
    const endedB = ended(daemon, (l) => l === mountB);
    bus.plug(dev);
    const o = await endedB;

    expect(order).toEqual(['SyncDevTime', 'SetMSDC']);
    expect(Math.abs(state.clockOffsetMs)).toBeLessThan(1500);
    // The kernel driver it detached to ask it was given back before it switched.
    expect(dev.events.filter((e) => e === 'detach-kernel' || e === 'attach-kernel')).toEqual(expect.arrayContaining(['detach-kernel', 'attach-kernel']));
    expect(o.identity).toMatchObject({ serial: 'ZFY0042', officer: '012345', unit: '330100000000', model: 'DSJ-Y2' });
    expect(o.identity?.conflicts).toEqual([{ field: 'serial', source: 'usb-serial', value: 'USBSERIAL9', deviceValue: 'ZFY0042' }]);
    expect(o.health).toMatchObject({ batteryPercent: 64, storageTotalBytes: 64e9, storageFreeBytes: 30e9, clockDriftMethod: 'device-clock' });
    expect(o.assessment).toMatchObject({ state: 'not-ready', verdict: 'not-ready' });
    expect(o.assessment.reasons.map((x) => x.code)).toEqual(['CLOCK_DRIFT']);
    expect(o.report).toMatchObject({ status: 'complete', ingested: 2, failed: 0 });
    expect(o.clockSyncedAt).not.toBeNull();

    // Undock: the recorder is pulled; its mount goes.
    bus.unplug(msc);
    await files.unmount(mountB);
    await waitFor('the undock', async () => ledger(daemon).some((e) => e.type === 'device.undocked' && e.data.dockId === o.dockId));

    // The order, from the ledger's own sequence: the drift measured and the clock set
    // before the mount, the dock of the mount, each file, the undock.
    const ofB = (e: LedgerRow): boolean => e.subject === 'ZFY0042' || (e.data.recorder as { serial?: string } | undefined)?.serial === 'ZFY0042';
    const rows = ledger(daemon).filter((e) => ofB(e) && ['device.clock-synced', 'device.docked', 'evidence.ingested', 'device.undocked'].includes(e.type));
    expect(rows.map((e) => e.type)).toEqual(['device.clock-synced', 'device.docked', 'evidence.ingested', 'evidence.ingested', 'device.undocked']);
    const [synced, docked] = rows as [LedgerRow, LedgerRow];
    expect(synced.data).toMatchObject({ when: 'before-mount', dockId: null, profile: 'dsj-y2', clockDriftMethod: 'device-clock' });
    expect(Math.abs((synced.data.clockDriftMsBefore as number) - 125_000)).toBeLessThanOrEqual(1500);
    const before = docked.data.beforeMount as { clockSetTo: string; switchedAt: string; switchedToMassStorage: boolean; port: string; readAt: string };
    expect(before).toMatchObject({ port: '1-2', switchedToMassStorage: true, clockError: null, msdcError: null });
    // health read → clock set → switched → docked, by their own times too.
    expect(Date.parse(before.readAt)).toBeLessThanOrEqual(Date.parse(before.clockSetTo));
    expect(Date.parse(before.clockSetTo)).toBeLessThanOrEqual(Date.parse(before.switchedAt));
    expect(docked.data).toMatchObject({ dockId: o.dockId, location: mountB, source: 'mount', verdict: 'not-ready', health: { batteryPercent: 64, clockDriftMethod: 'device-clock' } });
    // The dock row keeps the sync before the mount (one sync: none after the session).
    const row = daemon.catalog.db.prepare<[string], { clock_synced_at: string | null; clock_sync_error: string | null; undock_reason: string | null }>('SELECT clock_synced_at, clock_sync_error, undock_reason FROM docks WHERE id = ?').get(o.dockId)!;
    expect(row).toEqual({ clock_synced_at: before.clockSetTo, clock_sync_error: null, undock_reason: 'usb-detach' });
    expect(state.syncs).toHaveLength(1);
    expect(ledger(daemon).filter((e) => e.type === 'device.clock-synced')).toHaveLength(1);
    // The drift measured before the sync corrects the recorded times of what was ingested.
    const drifts = daemon.catalog.db.prepare<[], { clock_drift_ms: number | null }>("SELECT clock_drift_ms FROM evidence WHERE recorder_serial = 'ZFY0042'").all();
    expect(drifts.every((x) => x.clock_drift_ms !== null && Math.abs(x.clock_drift_ms - 125_000) <= 1500)).toBe(true);
    // The password reached the recorder and is nowhere in the ledger or the log.
    expect(state.passwordsSeen).toContain('pw-2468');
    expect(JSON.stringify(ledger(daemon))).not.toContain('pw-2468');
    expect(lines.join('')).not.toContain('pw-2468');
    // The disagreement raises the attribution-conflict flag (the daemon's scan after an undock).
    await waitFor('the attribution-conflict flag', async () =>
      daemon.catalog.db.prepare<[string], { rule: string }>("SELECT rule FROM flags WHERE dock_id = ? AND rule = 'attribution-conflict'").get(o.dockId),
    );
    // Every device seen is recorded for learning.
    expect(daemon.catalog.db.prepare<[], { serial: string }>("SELECT serial FROM usb_devices WHERE vendor_id = 43981 ORDER BY serial").all().map((x) => x.serial)).toEqual(['USBSERIAL9', 'ZFYA01']);
  });

  it('a reading that fails before the mount is a dock at usb:<port> — on GET /docks and the event stream while plugged in, in `custody devices show` — ended when it is unplugged', async () => {
    const dir = await tempDir();
    const s = await station(dir, 1);
    const bus = new SimUsbBus();
    const files = await new SimHostFiles(dir).init();
    // C (port 1-4) is plugged in, not mounted, when custody starts: it is asked at start.
    // The station holds another password than the recorder's.
    const stateC = new SimRecorderState({ info: { serial: 'ZFYC01' }, password: 'not-the-one' });
    const devC = new SimUsbRecorder(stateC, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 11, portNumbers: [4] });
    await files.usbDevice('1-4', { idVendor: 'abcd', idProduct: '0001', busnum: '1', devnum: '11' });
    bus.present(devC);

    const lines: string[] = [];
    const daemon = await makeDaemon(s, { bus, files }, lines);
    const events: ActivityEvent[] = [];
    daemon.activity.subscribe((e) => events.push(e));
    const endedC = ended(daemon, (l) => l === 'usb:1-4');
    await daemon.start();
    const url = daemon.apiAddress()!.url;
    const liveDocks = async (): Promise<Array<{ dockId: string; location: string; serial: string | null; state: string; reasons: string[] }>> => {
      const res = await fetch(`${url}/api/v1/docks`, { headers: { authorization: `Bearer ${s.token}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: Array<{ dockId: string; location: string; serial: string | null; state: string; reasons: string[] }> }).items;
    };

    const c = await endedC;
    expect(devC.events).toContain('claim');
    expect(c.identity).toBeNull();
    expect(c.assessment.state).toBe('not-ready');
    expect(c.assessment.reasons.map((r) => r.code)).toEqual(['RECORDER_UNIDENTIFIED', 'STORAGE_NOT_MOUNTED', 'HEALTH_UNREADABLE']);
    expect(c.assessment.reasons[1]!.message).toMatch(/^not switched to mass storage \(GAT947_PASSWORD_WRONG: .*\): nothing could be ingested$/);
    expect(c.skipped).toMatch(/^unidentified: GAT947_PASSWORD_WRONG/);
    expect(stateC.msdc).toBe(false);
    expect(devC.iface.kernelDriverActive).toBe(true);
    // On the board while it is plugged in, with its reasons.
    expect(await liveDocks()).toEqual([expect.objectContaining({ dockId: c.dockId, location: 'usb:1-4', serial: null, state: 'not-ready' })]);
    expect(events.filter((e) => e.type === 'dock').map((e) => (e as { dock: { location: string } }).dock.location)).toEqual(['usb:1-4']);
    expect(events.some((e) => e.type === 'undock')).toBe(false);
    expect(lines.join('')).toMatch(/GAT947_PASSWORD_WRONG/);
    expect(lines.join('')).not.toMatch(/pw-2468|not-the-one/);

    // D (port 1-5): read, but it refuses to set its clock (iRet 6), and SetMSDC times out.
    const stateD = new SimRecorderState({ info: { serial: 'ZFYD01' }, password: 'pw-2468', battery: 90, clockOffsetMs: 0, sd: { totalBytes: 64e9, freeBytes: 60e9 } });
    stateD.setClock = () => false;
    const devD = new SimUsbRecorder(stateD, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 12, portNumbers: [5] });
    devD.inject({ fault: 'timeout', command: SIM_COMMANDS.setMsdc });
    await files.usbDevice('1-5', { idVendor: 'abcd', idProduct: '0001', busnum: '1', devnum: '12' });
    const endedD = ended(daemon, (l) => l === 'usb:1-5');
    bus.plug(devD);
    const d = await endedD;
    expect(d.identity).toMatchObject({ serial: 'ZFYD01' });
    expect(d.assessment.state).toBe('not-ready');
    expect(d.assessment.reasons.map((r) => r.code)).toEqual(['STORAGE_NOT_MOUNTED']);
    expect(d.assessment.reasons[0]!.message).toMatch(/^not switched to mass storage \(GAT947_TIMEOUT: /);
    expect(d.clockSyncedAt).toBeNull();
    // The clock that could not be set is kept on the dock (and raises a flag once it is undocked, below).
    expect(daemon.catalog.db.prepare<[string], { clock_sync_error: string | null }>('SELECT clock_sync_error FROM docks WHERE id = ?').get(d.dockId)!.clock_sync_error).toMatch(/^GAT947_CALL_FAILED: syncDevTime/);
    const shown = await runCli(['devices', 'show', 'ZFYD01', '--json', '--home', s.home]);
    expect(shown.code).toBe(0);
    const detail = JSON.parse(shown.stdout) as { docks: Array<{ id: string; location: string; healthState: string; reasons: string[]; sessionStatus: string; undockedAt: string | null; clockSyncedAt: string | null }> };
    expect(detail.docks).toEqual([
      expect.objectContaining({ id: d.dockId, location: 'usb:1-5', healthState: 'not-ready', sessionStatus: 'not-run', undockedAt: null, clockSyncedAt: d.clockSyncedAt, reasons: [expect.stringMatching(/GAT947_TIMEOUT/)] }),
    ]);
    const text = await runCli(['devices', 'show', 'ZFYD01', '--home', s.home]);
    expect(text.stdout).toMatch(/at usb:1-5/);
    expect((await liveDocks()).map((x) => x.location).sort()).toEqual(['usb:1-4', 'usb:1-5']);
    expect(ledger(daemon).filter((x) => x.type === 'device.clock-sync-failed').map((x) => [x.subject, x.data.when])).toEqual([['ZFYD01', 'before-mount']]);

    // Unplugged: each dock ends (usb-detach), leaves the board, and the stream says so.
    devC.unplug();
    bus.unplug(devC);
    devD.unplug();
    bus.unplug(devD);
    await waitFor('both undocks', async () => ledger(daemon).filter((e) => e.type === 'device.undocked').length === 2);
    const undocked = ledger(daemon).filter((e) => e.type === 'device.undocked');
    expect(undocked.map((e) => [e.data.dockId, e.data.location, e.data.reason, e.data.sessionStatus])).toEqual(
      expect.arrayContaining([
        [c.dockId, 'usb:1-4', 'usb-detach', 'not-run'],
        [d.dockId, 'usb:1-5', 'usb-detach', 'not-run'],
      ]),
    );
    expect(await liveDocks()).toEqual([]);
    await waitFor('the clock-drift flag of the clock not set', async () =>
      daemon.catalog.db.prepare<[string], { rule: string }>("SELECT rule FROM flags WHERE dock_id = ? AND rule = 'clock-drift'").get(d.dockId),
    );
    expect(events.filter((e) => e.type === 'undock').map((e) => (e as { dockId: string }).dockId).sort()).toEqual([c.dockId, d.dockId].sort());
    // The failed readings are in the ledger with their codes too, and no password.
    const failed = ledger(daemon).filter((e) => e.type === 'device.read-failed');
    expect(failed.map((e) => (e.data.usb as { port: string }).port).sort()).toEqual(['1-4', '1-5']);
    expect(JSON.stringify(ledger(daemon))).not.toMatch(/pw-2468|not-the-one/);

    // E (port 1-6): switched, but nothing is mounted within the profile's mountWaitSeconds (1 s).
    const stateE = new SimRecorderState({ info: { serial: 'ZFYE01' }, password: 'pw-2468', battery: 90, clockOffsetMs: 0 });
    const devE = new SimUsbRecorder(stateE, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 13, portNumbers: [6] });
    await files.usbDevice('1-6', { idVendor: 'abcd', idProduct: '0001', busnum: '1', devnum: '13' });
    const endedE = ended(daemon, (l) => l === 'usb:1-6');
    bus.plug(devE);
    const e = await endedE;
    expect(stateE.msdc).toBe(true);
    expect(e.identity).toMatchObject({ serial: 'ZFYE01' });
    expect(e.assessment.reasons.map((r) => r.message)).toContainEqual(expect.stringMatching(/^switched to mass storage, but no storage of it was mounted under a watched root within 1 s/));
    expect(lines.join('')).toMatch(/no storage of it was mounted/);
    // Its storage is mounted after all, late: that mount is docked from the reading taken
    // before it (the device was asked), not as a recorder nobody asked.
    const mountE = join(s.media, 'custody', 'sde1');
    await writeTree(mountE, { 'DCIM/ZFYE01_20261201080000_0001.MP4': 1000 });
    const endedLate = ended(daemon, (l) => l === mountE);
    await files.mount('1-6', 65, mountE);
    const late = await endedLate;
    expect(late.identity).toMatchObject({ serial: 'ZFYE01' });
    expect(late.health).toMatchObject({ batteryPercent: 90, clockDriftMethod: 'device-clock' });
    expect(late.assessment.reasons.map((r) => r.code)).not.toContain('DEVICE_NOT_ASKED');
    expect(late.report).toMatchObject({ status: 'complete', ingested: 1 });

    // F (port 1-7): pulled in the middle of a command — the dock is made and ended at once.
    const stateF = new SimRecorderState({ info: { serial: 'ZFYF01' }, password: 'pw-2468' });
    const devF = new SimUsbRecorder(stateF, { vendorId: 0xabcd, productId: 0x0001, busNumber: 1, deviceAddress: 14, portNumbers: [7] });
    devF.inject({ fault: 'hang', command: SIM_COMMANDS.getDevInfo });
    await files.usbDevice('1-7', { idVendor: 'abcd', idProduct: '0001', busnum: '1', devnum: '14' });
    const endedF = ended(daemon, (l) => l === 'usb:1-7');
    bus.plug(devF);
    await waitFor('the recorder to be asked', async () => devF.events.includes('claim'));
    devF.unplug();
    bus.unplug(devF);
    const f = await endedF;
    expect(f.identity).toBeNull();
    await waitFor('its undock', async () => ledger(daemon).some((x) => x.type === 'device.undocked' && x.data.dockId === f.dockId));
    expect(ledger(daemon).find((x) => x.type === 'device.undocked' && x.data.dockId === f.dockId)!.data).toMatchObject({ location: 'usb:1-7', reason: 'usb-detach' });
    expect((await liveDocks()).map((x) => x.location)).toEqual(['usb:1-6']);
  });
});
