import { describe, expect, it } from 'vitest';
import { SimRecorderState } from '../../../test/helpers/gat947/state.js';
import { SIM_COMMANDS, SimUsbRecorder, type InjectedFault } from '../../../test/helpers/gat947/usb-sim.js';
import { Gat947Error, type Gat947ErrorCode } from './errors.js';
import { localTime } from './link.js';
import { gat947ParamsSchema, type Gat947Params } from './params.js';
import { UsbLink } from './usb-link.js';

const params = (over: Record<string, unknown> = {}): Gat947Params =>
  gat947ParamsSchema.parse({ usb: { timeoutMs: 150 }, commands: { getTime: SIM_COMMANDS.getTime }, ...over });

function sim(o: ConstructorParameters<typeof SimRecorderState>[0] = {}) {
  const state = new SimRecorderState({ password: '246810', ...o });
  return { state, dev: new SimUsbRecorder(state) };
}

async function failure(p: Promise<unknown>): Promise<Gat947Error> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Gat947Error) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('GA/T 947.4 over USB Bulk-Only Transport (UsbLink on the simulated recorder)', () => {
  it('detaches the kernel driver, speaks the calls, and gives the device back on close', async () => {
    const { dev, state } = sim({ battery: 64, sd: { totalBytes: 32e9, freeBytes: 5e9 } });
    const link = await UsbLink.open(dev, params(), '246810');
    expect(await link.getIdCode()).toBe('SIM-947');
    expect(await link.getZfyInfo()).toEqual(state.info);
    expect(await link.readBattery()).toBe(64);
    expect(await link.getSdStatus()).toEqual({ totalBytes: 32e9, freeBytes: 5e9 });
    const t = await link.getTime();
    expect(t.year).toBeGreaterThan(2000);
    await link.close();
    expect(dev.events).toEqual(['open', 'detach-kernel', 'claim', 'release', 'attach-kernel', 'close']);
    expect(dev.iface.kernelDriverActive).toBe(true);
    // Every password that went over the wire was the profile's.
    expect(new Set(state.passwordsSeen)).toEqual(new Set(['246810']));
  });

  it('reads the 89-byte ZFY_INFO layout when the model sends it', async () => {
    const { dev } = sim({ layout: '89', info: { serial: 'B765432', officerName: '李四' } });
    const link = await UsbLink.open(dev, params(), '246810');
    expect(await link.getZfyInfo()).toMatchObject({ serial: 'B765432', officerName: '李四' });
    await link.close();
    const forced = await UsbLink.open(dev, params({ zfyInfoLayout: '89' }), '246810');
    expect((await forced.getZfyInfo()).serial).toBe('B765432');
    await forced.close();
  });

  it('sets the clock to the host local time in the station zone (SyncDevTime)', async () => {
    const fixed = new Date('2026-12-02T06:30:15.400Z');
    const { dev, state } = sim({ clockOffsetMs: 420_000, now: () => fixed });
    const link = await UsbLink.open(dev, params(), '246810');
    await link.syncDevTime(localTime(fixed, 'Asia/Shanghai'));
    await link.close();
    expect(state.syncs).toEqual(['2026-12-02 14:30:15']);
    expect(Math.abs(state.clockOffsetMs)).toBeLessThan(1000);
  });

  it('a wrong password is GAT947_PASSWORD_WRONG, and the password is in no message', async () => {
    const { dev } = sim();
    const link = await UsbLink.open(dev, params(), 'not-it-13579');
    const e = await failure(link.getZfyInfo());
    expect(e.code).toBe('GAT947_PASSWORD_WRONG');
    expect(JSON.stringify({ m: e.message, d: e.details, s: e.stack })).not.toContain('13579');
    await link.close();
  });

  it('takes command numbers from the profile: a renumbered call reaches another command, an absent one is not sent', async () => {
    const { dev } = sim();
    const link = await UsbLink.open(dev, params({ commands: { readBattery: 0x31, getTime: null } }), '246810');
    expect((await failure(link.readBattery())).code).toBe('GAT947_STALL');
    expect((await failure(link.getTime())).code).toBe('GAT947_NOT_SUPPORTED');
    // The link recovered: the next call works.
    expect((await link.getZfyInfo()).serial).toBe('ZFY0001');
    await link.close();
  });

  const faults: Array<[string, InjectedFault, Gat947ErrorCode, { reset?: boolean; usable: boolean }]> = [
    ['a stalled data phase', { fault: 'stall', phase: 'data', command: SIM_COMMANDS.getDevInfo }, 'GAT947_STALL', { usable: true }],
    ['a stalled command wrapper', { fault: 'stall', phase: 'cbw', command: SIM_COMMANDS.readBattery }, 'GAT947_STALL', { reset: true, usable: true }],
    ['a short data phase', { fault: 'short', phase: 'data', command: SIM_COMMANDS.getSdStatus }, 'GAT947_SHORT_TRANSFER', { usable: true }],
    ['a CSW with another tag', { fault: 'wrong-tag', phase: 'csw' }, 'GAT947_CSW_TAG', { reset: true, usable: true }],
    ['a CSW that is not one', { fault: 'bad-csw', phase: 'csw' }, 'GAT947_CSW_INVALID', { reset: true, usable: true }],
    ['CSW status failed', { fault: 'csw-failed', phase: 'csw' }, 'GAT947_COMMAND_FAILED', { usable: true }],
    ['CSW phase error', { fault: 'phase-error', phase: 'csw' }, 'GAT947_PHASE_ERROR', { reset: true, usable: true }],
    ['a libusb timeout', { fault: 'timeout', phase: 'data', command: SIM_COMMANDS.readBattery }, 'GAT947_TIMEOUT', { reset: true, usable: true }],
    ['a transfer that never completes', { fault: 'hang', phase: 'csw' }, 'GAT947_TIMEOUT', { reset: true, usable: true }],
    ['the recorder pulled mid-command', { fault: 'gone', phase: 'data', command: SIM_COMMANDS.getDevInfo }, 'GAT947_DEVICE_GONE', { usable: false }],
  ];

  it.each(faults)('%s ends the call in a typed error, within the time limit', async (_name, fault, code, how) => {
    const { dev } = sim();
    const link = await UsbLink.open(dev, params(), '246810');
    dev.inject(fault);
    const started = Date.now();
    const call =
      fault.command === SIM_COMMANDS.readBattery ? () => link.readBattery() : fault.command === SIM_COMMANDS.getSdStatus ? () => link.getSdStatus() : () => link.getZfyInfo();
    const e = await failure(call());
    expect(e).toBeInstanceOf(Gat947Error);
    expect(e.code).toBe(code);
    // Never a hang: a few transfer timeouts at most (150 ms each, plus the guard).
    expect(Date.now() - started).toBeLessThan(2000);
    if (how.reset) expect(dev.events).toContain('reset');
    if (how.usable) {
      expect(await link.readBattery()).toBe(87);
    } else {
      expect(['GAT947_DEVICE_GONE', 'GAT947_LINK_CLOSED']).toContain((await failure(link.readBattery())).code);
    }
    await link.close(); // never throws, even with the device gone
    expect(dev.events.at(-1)).toBe('close');
  });

  it('refuses to open without permission (GAT947_ACCESS_DENIED) or when the device is gone', async () => {
    const state = new SimRecorderState();
    expect((await failure(UsbLink.open(new SimUsbRecorder(state, { accessDenied: true }), params(), null))).code).toBe('GAT947_ACCESS_DENIED');
    const gone = new SimUsbRecorder(state);
    gone.unplug();
    expect((await failure(UsbLink.open(gone, params(), null))).code).toBe('GAT947_DEVICE_GONE');
  });

  it('treats the recorder vanishing after SetMSDC went out as the switch (it re-enumerates)', async () => {
    const { dev, state } = sim();
    state.onMsdc = () => dev.unplug();
    const link = await UsbLink.open(dev, params(), '246810');
    await link.setMsdc();
    expect(state.msdc).toBe(true);
    await link.close();
  });
});
