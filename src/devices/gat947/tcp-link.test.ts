import { createServer, type AddressInfo } from 'node:net';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import { SimRecorderState } from '../../../test/helpers/gat947/state.js';
import { SimTcpRecorder } from '../../../test/helpers/gat947/tcp-sim.js';
import { SIM_COMMANDS } from '../../../test/helpers/gat947/usb-sim.js';
import { Gat947Error } from './errors.js';
import { localTime } from './link.js';
import { gat947ParamsSchema } from './params.js';
import { decodeBody, encodeFrame, FrameReader, TcpLink } from './tcp-link.js';

const sims: SimTcpRecorder[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});

async function start(o: ConstructorParameters<typeof SimRecorderState>[0] = {}) {
  const state = new SimRecorderState({ password: '8888', ...o });
  const sim = new SimTcpRecorder(state);
  sims.push(sim);
  const port = await sim.start();
  const params = gat947ParamsSchema.parse({ transport: 'tcp', tcp: { host: '127.0.0.1', port, timeoutMs: 300 }, commands: { getTime: SIM_COMMANDS.getTime } });
  return { state, sim, params };
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

describe('GA/T 947.4 over TCP (length-framed GBK text)', () => {
  it('frames GBK text behind a 4-byte length, and splits frames however the bytes arrive', () => {
    const f = encodeFrame({ CMD: '3', USERNAME: '张三' });
    const body = iconv.encode('CMD=3\nUSERNAME=张三', 'gbk');
    expect(f.readUInt32BE(0)).toBe(body.length);
    expect(f.subarray(4)).toEqual(body);
    const r = new FrameReader();
    const two = Buffer.concat([f, f]);
    const got = [...r.push(two.subarray(0, 5)), ...r.push(two.subarray(5, 17)), ...r.push(two.subarray(17))];
    expect(got.map(decodeBody)).toEqual([
      { CMD: '3', USERNAME: '张三' },
      { CMD: '3', USERNAME: '张三' },
    ]);
    expect(() => new FrameReader().push(Buffer.from([0x7f, 0, 0, 0]))).toThrow(Gat947Error);
  });

  it('speaks every call with a loopback recorder', async () => {
    const fixed = new Date('2026-07-01T00:00:00Z');
    const { state, params } = await start({ battery: 41, clockOffsetMs: -90_000, now: () => fixed });
    const link = await TcpLink.open(params, '8888');
    expect(await link.getIdCode()).toBe('SIM-947');
    expect(await link.getZfyInfo()).toEqual(state.info);
    expect(await link.readBattery()).toBe(41);
    expect(await link.getSdStatus()).toEqual({ totalBytes: 64e9, freeBytes: 40e9 });
    expect(await link.getTime()).toEqual({ year: 2026, month: 7, day: 1, hour: 7, minute: 58, second: 30 });
    await link.syncDevTime(localTime(fixed, 'Asia/Shanghai'));
    expect(state.syncs).toEqual(['2026-07-01 08:00:00']);
    await link.setMsdc();
    expect(state.msdc).toBe(true);
    await link.close();
  });

  it('a wrong password is GAT947_PASSWORD_WRONG', async () => {
    const { params } = await start();
    const link = await TcpLink.open(params, 'wrong-97531');
    const e = await failure(link.readBattery());
    expect(e.code).toBe('GAT947_PASSWORD_WRONG');
    expect(e.message).not.toContain('97531');
    await link.close();
  });

  it('a silent recorder times out, a dropped connection is the recorder gone, an oversize frame is a bad reply', async () => {
    const { sim, params } = await start();
    for (const [fault, code] of [
      ['silent', 'GAT947_TIMEOUT'],
      ['close', 'GAT947_DEVICE_GONE'],
      ['oversize', 'GAT947_BAD_REPLY'],
    ] as const) {
      const link = await TcpLink.open(params, '8888');
      sim.inject(fault);
      const t0 = Date.now();
      expect((await failure(link.getZfyInfo())).code).toBe(code);
      expect(Date.now() - t0).toBeLessThan(1500);
      // The connection is not used again after a fault: its state is unknown.
      expect((await failure(link.readBattery())).code).toBe('GAT947_LINK_CLOSED');
      await link.close();
    }
  });

  it('cannot connect: refused is GAT947_CONNECT_FAILED, a peer that never accepts is a timeout', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const params = gat947ParamsSchema.parse({ transport: 'tcp', tcp: { host: '127.0.0.1', port, timeoutMs: 300 } });
    expect((await failure(TcpLink.open(params, null))).code).toBe('GAT947_CONNECT_FAILED');
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there.
    const black = gat947ParamsSchema.parse({ transport: 'tcp', tcp: { host: '192.0.2.1', port: 9, timeoutMs: 200 } });
    const e = await failure(TcpLink.open(black, null));
    expect(['GAT947_TIMEOUT', 'GAT947_CONNECT_FAILED']).toContain(e.code);
  });
});
