import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/tmp.js';
import { SimRecorderState } from '../../../test/helpers/gat947/state.js';
import { SIM_COMMANDS, SimUsbRecorder } from '../../../test/helpers/gat947/usb-sim.js';
import { isCustodyError } from '../../core/index.js';
import { gat947DriverFor, DriverRegistry } from '../drivers.js';
import { parseProfiles } from '../profiles.js';
import type { UsbDeviceInfo } from '../sysfs.js';
import { Gat947Driver } from './driver.js';
import { FolderDriver } from '../folder-driver.js';
import { gat947ParamsSchema, readPassword } from './params.js';

const usbInfo = (serial: string | null): UsbDeviceInfo => ({ vendorId: 0x1234, productId: 0x5678, serial, manufacturer: 'Maker', product: 'DSJ', busNumber: 2, deviceAddress: 5, kernelName: '2-1' });

function profile(extra = '') {
  return parseProfiles(
    `
profiles:
  - id: m1
    name: model one
    driver: gat947
    usb: ["1234:5678"]
    namePattern: '^(?<serial>[A-Za-z0-9]+)_(?<stamp>\\d{14})_(?<number>\\d{4})\\.'
    identity: [usb-serial, file-name]
    gat947:
      usb: { timeoutMs: 200 }
      password: { env: M1_PASSWORD }
${extra}
`,
    'm1.yaml',
  ).get('m1')!;
}

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'trace' }, stream), text: () => lines.join('') };
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

describe('GA/T 947.4 driver', () => {
  it('believes the device over file names and the USB serial, and keeps the disagreement', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'OLD0001_20261201083000_0001.MP4'), 'x');
    const state = new SimRecorderState({ password: 's3cret-pw', info: { serial: 'NEW0002', officerNo: '054321' } });
    const dev = new SimUsbRecorder(state);
    const { log, text } = capture();
    const d = gat947DriverFor({ location: root, profile: profile(), usb: usbInfo('USB0003') }, { env: { M1_PASSWORD: 's3cret-pw' }, findUsbDevice: async () => dev, log }, { talkOverUsb: true });
    const id = await d.identify();
    expect(id).toMatchObject({ serial: 'NEW0002', officer: '054321', officerName: '张三', idCode: 'SIM-947' });
    expect(id.conflicts).toEqual([
      { field: 'serial', source: 'usb-serial', value: 'USB0003', deviceValue: 'NEW0002' },
      { field: 'serial', source: 'file-name', value: 'OLD0001', deviceValue: 'NEW0002' },
    ]);
    expect(text()).toContain('the device is believed');
    // The password reached the device and nothing else: not the log, not the identity.
    expect(state.passwordsSeen).toContain('s3cret-pw');
    expect(text()).not.toContain('s3cret-pw');
    expect(JSON.stringify(id)).not.toContain('s3cret-pw');
  });

  it('a wrong or missing password is a typed error that names no password', async () => {
    const root = await tempDir();
    const dev = new SimUsbRecorder(new SimRecorderState({ password: 'right-pw-1' }));
    const { log, text } = capture();
    const wrong = gat947DriverFor({ location: root, profile: profile(), usb: usbInfo(null) }, { env: { M1_PASSWORD: 'wrong-pw-2' }, findUsbDevice: async () => dev, log }, { talkOverUsb: true });
    expect(await codeOf(wrong.health())).toBe('GAT947_PASSWORD_WRONG');
    const unset = gat947DriverFor({ location: root, profile: profile(), usb: usbInfo(null) }, { env: {}, findUsbDevice: async () => dev, log }, { talkOverUsb: true });
    expect(await codeOf(unset.identify())).toBe('GAT947_PASSWORD_UNAVAILABLE');
    expect(text()).not.toMatch(/right-pw-1|wrong-pw-2/);
    // The interface went back to the kernel after each call, failed or not.
    expect(dev.iface.kernelDriverActive).toBe(true);
  });

  it('reads the password from a file (first line) or the environment', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'pw'), 'from-file\nignored\n');
    expect(await readPassword(gat947ParamsSchema.parse({ password: { file: join(dir, 'pw') } }), {})).toBe('from-file');
    expect(await readPassword(gat947ParamsSchema.parse({ password: { env: 'X_PW' } }), { X_PW: 'from-env' })).toBe('from-env');
    expect(await readPassword(gat947ParamsSchema.parse({}), {})).toBeNull();
    await expect(readPassword(gat947ParamsSchema.parse({ password: { file: join(dir, 'none') } }), {})).rejects.toMatchObject({ code: 'GAT947_PASSWORD_UNAVAILABLE' });
  });

  it('a USB recorder whose storage is mounted is not asked (the daemon dock): identity from USB serial or files, no battery or clock', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'ZFY0009_20261201083000_0001.MP4'), 'x');
    let asked = false;
    const d = new DriverRegistry({ gat947: { findUsbDevice: async () => ((asked = true), null), env: { M1_PASSWORD: 'x' } } }).create({ location: root, profile: profile(), usb: usbInfo(null) });
    expect(await d.identify()).toMatchObject({ serial: 'ZFY0009' });
    const h = await d.health();
    expect(h).toMatchObject({ batteryPercent: null, deviceClock: null });
    expect(h.storageTotalBytes).toBeGreaterThan(0);
    expect(d.syncClock).toBeUndefined();
    expect(asked).toBe(false);
  });

  it('without a get-time call, estimates the drift from the newest file: at least how far it is dated after the dock', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'DCIM'));
    const dock = new Date('2026-12-02T06:00:00Z');
    const older = join(root, 'DCIM', 'A_20261202135000_0001.MP4');
    const newest = join(root, 'DCIM', 'A_20261202141000_0002.MP4');
    await writeFile(older, 'x');
    await writeFile(newest, 'y');
    await utimes(older, new Date('2026-12-02T05:50:00Z'), new Date('2026-12-02T05:50:00Z'));
    const ahead = new Date(dock.getTime() + 7 * 60_000);
    await utimes(newest, ahead, ahead);
    const make = (created: Date | null) =>
      new Gat947Driver({
        location: root,
        params: gat947ParamsSchema.parse({}),
        model: null,
        openLink: null,
        files: new FolderDriver({ root, statusFile: null }),
        zone: 'Asia/Shanghai',
        creationTimeOf: async () => created,
        now: () => dock,
      });
    const h = await make(new Date(ahead.getTime() - 60_000)).health();
    expect(h.clockDriftMs).toBe(7 * 60_000);
    expect(h.clockDriftMethod).toBe('newest-file-estimate');
    expect(h.clockEstimate).toMatchObject({ method: 'newest-file', bound: 'at-least', file: 'DCIM/A_20261202141000_0002.MP4', dockTime: '2026-12-02T06:00:00.000Z' });
    // Stamps that disagree (created after the file was closed) give no estimate.
    const bad = await make(new Date(ahead.getTime() + 3_600_000)).health();
    expect(bad.clockDriftMs).toBeNull();
    expect(bad.clockEstimate?.note).toMatch(/disagree/);
    // A newest file dated before the dock says nothing about a clock behind.
    await utimes(newest, new Date('2026-12-02T05:55:00Z'), new Date('2026-12-02T05:55:00Z'));
    const behind = await make(null).health();
    expect(behind.clockDriftMs).toBeNull();
    expect(behind.clockDriftMethod).toBeNull();
    expect(behind.clockEstimate).toMatchObject({ driftMs: null, embeddedCreation: null });
  });

  it('reads the device clock where the profile has the call, in the station zone', async () => {
    const root = await tempDir();
    const fixed = new Date('2026-12-02T06:00:00.000Z');
    const dev = new SimUsbRecorder(new SimRecorderState({ password: null, clockOffsetMs: -45_000, now: () => fixed }));
    const d = gat947DriverFor(
      { location: root, profile: profile(`      commands: { getTime: ${SIM_COMMANDS.getTime} }`), usb: usbInfo(null) },
      { env: {}, findUsbDevice: async () => dev, zone: 'Asia/Shanghai', now: () => fixed },
      { talkOverUsb: true },
    );
    // The profile names an env password, the recorder has none: it accepts any.
    await expect(d.health()).rejects.toMatchObject({ code: 'GAT947_PASSWORD_UNAVAILABLE' });
    const open = gat947DriverFor(
      { location: root, profile: parseProfiles(`profiles:\n  - id: m2\n    name: m2\n    driver: gat947\n    gat947: { commands: { getTime: ${SIM_COMMANDS.getTime} } }\n`, 'm2').get('m2')!, usb: usbInfo(null) },
      { env: {}, findUsbDevice: async () => dev, zone: 'Asia/Shanghai', now: () => fixed },
      { talkOverUsb: true },
    );
    const h = await open.health();
    expect(h.deviceClock?.toISOString()).toBe('2026-12-02T05:59:15.000Z');
    expect(h.clockDriftMs).toBe(-45_000);
    expect(h.clockDriftMethod).toBe('device-clock');
  });
});
