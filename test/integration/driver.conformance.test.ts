/**
 * One conformance suite for the RecorderDriver port, run against every driver: the
 * folder driver (a simulated recorder's tree with its status file) and the GA/T 947.4
 * driver over USB (the simulated recorder at the node-usb boundary) and over TCP (the
 * simulated Android recorder on loopback). Only the USB bus and the recorders are
 * simulated; files are real files in a temp folder.
 *
 * Differences, and why:
 * 1. Clock resolution. The folder driver's simulated clock is an offset in
 *    milliseconds; a GA/T 947.4 recorder keeps whole seconds, so drift read from it is
 *    within a second (plus the test's own time) of the truth.
 * 2. Identity failure. The folder driver fails on a broken status file
 *    (RECORDER_STATUS_INVALID); the GA/T 947.4 driver on a refused password
 *    (GAT947_PASSWORD_WRONG). Both are typed errors with stable codes.
 * 3. Presence. Both are present while the storage is; the GA/T 947.4 recorder's
 *    storage is its mass-storage mount.
 */
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCustodyError, SourceFileError } from '../../src/core/errors.js';
import type { RecorderDriver } from '../../src/devices/driver.js';
import { folderDriverFor, gat947DriverFor } from '../../src/devices/drivers.js';
import { parseProfiles, type RecorderProfile } from '../../src/devices/profiles.js';
import { RECORDER_STATUS_FORMAT } from '../../src/devices/status-file.js';
import { SimRecorderState } from '../helpers/gat947/state.js';
import { SimTcpRecorder } from '../helpers/gat947/tcp-sim.js';
import { SIM_COMMANDS, SimUsbRecorder } from '../helpers/gat947/usb-sim.js';
import { tempDir } from '../helpers/tmp.js';

interface Spec {
  serial: string;
  officer: string;
  unit: string;
  battery: number;
  clockOffsetMs: number;
  storageTotalBytes: number;
  storageFreeBytes: number;
}

interface Subject {
  driver: RecorderDriver;
  /** Make identity unreadable; resolves with the error code identify() must then reject with. */
  breakIdentity(): Promise<string>;
  /** The recorder goes away. */
  unplug(): Promise<void>;
  /** Drift the clock resolution allows (ms). */
  clockSlackMs: number;
}

interface Target {
  name: string;
  make(root: string, spec: Spec): Promise<Subject>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const FILES: Record<string, string> = {
  'DCIM/100MEDIA/ZFY0042_20261201083000_0001.MP4': 'video one',
  'DCIM/100MEDIA/ZFY0042_20261201090000_0002.MP4': 'video two, longer',
  'RECORD/ZFY0042_20261201091500_0003.WAV': 'audio',
  'PHOTO/ZFY0042_20261201092000_0004.JPG': 'photo',
};

/** The recorder's storage: media, plus what a driver must never list (a symlink out, a dotfile, a system folder). */
async function writeTree(root: string, outside: string): Promise<void> {
  for (const [p, body] of Object.entries(FILES)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), body);
  }
  await writeFile(join(outside, 'secret.txt'), 'not on the recorder');
  await symlink(join(outside, 'secret.txt'), join(root, 'DCIM', '100MEDIA', 'LINK.MP4'));
  await writeFile(join(root, 'DCIM', '.hidden.MP4'), 'x');
  await mkdir(join(root, 'System Volume Information'), { recursive: true });
  await writeFile(join(root, 'System Volume Information', 'IndexerVolumeGuid'), 'x');
}

const profileYaml = (extra: string) => `
profiles:
  - id: conformance
    name: conformance model
    model: DSJ-CONF
    usb: ["1234:5678"]
    layout: { mediaDirs: [DCIM, RECORD, PHOTO] }
    namePattern: '^(?<serial>[A-Za-z0-9]+)_(?<stamp>\\d{14})_(?<number>\\d{4})\\.'
${extra}
`;

function profile(extra: string): RecorderProfile {
  return parseProfiles(profileYaml(extra), 'conformance.yaml').get('conformance')!;
}

const folderTarget: Target = {
  name: 'folder driver (simulated recorder status file)',
  async make(root, spec) {
    await writeFile(
      join(root, 'RECORDER.JSON'),
      JSON.stringify({
        format: RECORDER_STATUS_FORMAT,
        serial: spec.serial,
        model: 'SIM-DSJ-1',
        officer: spec.officer,
        unit: spec.unit,
        battery: spec.battery,
        clockOffsetSeconds: spec.clockOffsetMs / 1000,
        storageTotalBytes: spec.storageTotalBytes,
        storageFreeBytes: spec.storageFreeBytes,
      }),
    );
    const p = profile(`    driver: folder
    detectByStatusFile: true
    status: { source: status-file, file: RECORDER.JSON }
    identity: [status-file]
    clockSync: true`);
    return {
      driver: folderDriverFor({ location: root, profile: p, usb: null }),
      async breakIdentity() {
        await writeFile(join(root, 'RECORDER.JSON'), '{ not json');
        return 'RECORDER_STATUS_INVALID';
      },
      async unplug() {
        await rm(root, { recursive: true, force: true });
      },
      clockSlackMs: 50,
    };
  },
};

function gat947State(spec: Spec): SimRecorderState {
  return new SimRecorderState({
    info: { serial: spec.serial, officerNo: spec.officer, unitNo: spec.unit, officerName: '张三', unitName: '城管执法大队' },
    password: 'pw-246810',
    battery: spec.battery,
    clockOffsetMs: spec.clockOffsetMs,
    sd: { totalBytes: spec.storageTotalBytes, freeBytes: spec.storageFreeBytes },
    zone: 'Asia/Shanghai',
  });
}

const usbTarget: Target = {
  name: 'GA/T 947.4 driver over USB (simulated node-usb device)',
  async make(root, spec) {
    const state = gat947State(spec);
    const dev = new SimUsbRecorder(state, { busNumber: 3, deviceAddress: 9 });
    const p = profile(`    driver: gat947
    clockSync: true
    gat947:
      transport: usb
      usb: { timeoutMs: 300 }
      commands: { getTime: ${SIM_COMMANDS.getTime} }
      password: { env: CONF_GAT947_PASSWORD }`);
    const driver = gat947DriverFor(
      { location: root, profile: p, usb: { vendorId: 0x1234, productId: 0x5678, serial: null, manufacturer: null, product: null, busNumber: 3, deviceAddress: 9, kernelName: '3-1' } },
      {
        zone: 'Asia/Shanghai',
        env: { CONF_GAT947_PASSWORD: 'pw-246810' },
        findUsbDevice: async (bus, addr) => (bus === 3 && addr === 9 && !dev.gone ? dev : null),
      },
      { talkOverUsb: true },
    );
    return {
      driver,
      async breakIdentity() {
        state.password = 'changed-on-the-device';
        return 'GAT947_PASSWORD_WRONG';
      },
      async unplug() {
        dev.unplug();
        await rm(root, { recursive: true, force: true });
      },
      clockSlackMs: 1500,
    };
  },
};

const tcpTarget: Target = {
  name: 'GA/T 947.4 driver over TCP (simulated recorder on loopback)',
  async make(root, spec) {
    const state = gat947State(spec);
    const sim = new SimTcpRecorder(state);
    const port = await sim.start();
    cleanups.push(() => sim.stop());
    const p = profile(`    driver: gat947
    clockSync: true
    gat947:
      transport: tcp
      tcp: { host: 127.0.0.1, port: ${port}, timeoutMs: 500 }
      commands: { getTime: ${SIM_COMMANDS.getTime} }
      password: { env: CONF_GAT947_PASSWORD }`);
    const driver = gat947DriverFor({ location: root, profile: p, usb: null }, { zone: 'Asia/Shanghai', env: { CONF_GAT947_PASSWORD: 'pw-246810' } });
    return {
      driver,
      async breakIdentity() {
        state.password = 'changed-on-the-device';
        return 'GAT947_PASSWORD_WRONG';
      },
      async unplug() {
        await sim.stop();
        await rm(root, { recursive: true, force: true });
      },
      clockSlackMs: 1500,
    };
  },
};

const spec: Spec = { serial: 'ZFY0042', officer: '012345', unit: '330100000000', battery: 64, clockOffsetMs: 125_000, storageTotalBytes: 64e9, storageFreeBytes: 21e9 };

async function list(d: RecorderDriver): Promise<string[]> {
  const out: string[] = [];
  for await (const f of d.listFiles()) out.push(f.path);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isCustodyError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a typed error');
}

describe.each([folderTarget, usbTarget, tcpTarget])('RecorderDriver conformance: $name', (target) => {
  async function subject(): Promise<Subject & { root: string }> {
    const dir = await tempDir('custody-driver-conf-');
    const root = join(dir, 'recorder');
    const outside = join(dir, 'outside');
    await mkdir(root, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeTree(root, outside);
    return { ...(await target.make(root, spec)), root };
  }

  it('identity: serial, officer and unit as the recorder states them', async () => {
    const { driver } = await subject();
    const id = await driver.identify();
    expect(id).toMatchObject({ serial: 'ZFY0042', officer: '012345', unit: '330100000000' });
    expect(id.model).toEqual(expect.any(String));
  });

  it('health: battery, storage and the clock drift, measured', async () => {
    const { driver, clockSlackMs } = await subject();
    const h = await driver.health();
    expect(h.batteryPercent).toBe(64);
    expect(h.storageTotalBytes).toBe(64e9);
    expect(h.storageFreeBytes).toBe(21e9);
    expect(h.deviceClock).toBeInstanceOf(Date);
    expect(Math.abs(h.clockDriftMs! - 125_000)).toBeLessThanOrEqual(clockSlackMs);
    expect(Math.abs(h.deviceClock!.getTime() - Date.now() - 125_000)).toBeLessThanOrEqual(clockSlackMs + 1000);
  });

  it('clock: read, set to the station clock, read again', async () => {
    const { driver, clockSlackMs } = await subject();
    expect(Math.abs((await driver.health()).clockDriftMs! - 125_000)).toBeLessThanOrEqual(clockSlackMs);
    expect(driver.syncClock).toBeTypeOf('function');
    const before = Date.now();
    const setTo = await driver.syncClock!();
    expect(setTo.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(setTo.getTime()).toBeLessThanOrEqual(Date.now() + 5);
    expect(Math.abs((await driver.health()).clockDriftMs!)).toBeLessThanOrEqual(clockSlackMs);
  });

  it("listing: the recorder's files, relative, never a symlink, a dotfile or a system folder", async () => {
    const { driver } = await subject();
    expect((await list(driver)).sort()).toEqual(Object.keys(FILES).sort());
    const f = await driver.stat('RECORD/ZFY0042_20261201091500_0003.WAV');
    expect(f).toMatchObject({ path: 'RECORD/ZFY0042_20261201091500_0003.WAV', size: 5 });
    expect(f.mtimeMs).toBeGreaterThan(0);
  });

  it('reading: a stream of the bytes, and a local path for tools', async () => {
    const { driver } = await subject();
    const p = 'DCIM/100MEDIA/ZFY0042_20261201090000_0002.MP4';
    const chunks: Buffer[] = [];
    for await (const c of await driver.open(p)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(FILES[p]);
    const local = driver.localPath(p);
    expect(local && (await readFile(local, 'utf8'))).toBe(FILES[p]);
  });

  it('removal: a deleted file is gone from the listing, and reading it fails SOURCE_GONE', async () => {
    const { driver } = await subject();
    const p = 'PHOTO/ZFY0042_20261201092000_0004.JPG';
    await driver.delete(p);
    expect(await list(driver)).not.toContain(p);
    const e = await driver.stat(p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SourceFileError);
    expect((e as SourceFileError).code).toBe('SOURCE_GONE');
  });

  it('errors: paths out of the recorder are refused, unreadable identity is a typed error, a pulled recorder is not present', async () => {
    const s = await subject();
    expect(await codeOf(s.driver.stat('../outside/secret.txt'))).toBe('RECORDER_BAD_PATH');
    expect(await codeOf(s.driver.open('DCIM/../../outside/secret.txt'))).toBe('RECORDER_BAD_PATH');
    expect(await codeOf(s.driver.open('DCIM/100MEDIA/LINK.MP4'))).toBe('SOURCE_IS_SYMLINK');
    expect(await s.driver.present()).toBe(true);
    const expected = await s.breakIdentity();
    expect(await codeOf(s.driver.identify())).toBe(expected);
    await s.unplug();
    expect(await s.driver.present()).toBe(false);
    expect(await codeOf(s.driver.stat('RECORD/ZFY0042_20261201091500_0003.WAV'))).toBe('SOURCE_GONE');
  });
});
