import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { decodeBody, encodeFrame, FrameReader, type TcpFields } from '../../../src/devices/gat947/tcp-link.js';
import { SIM_COMMANDS } from './usb-sim.js';
import type { SimRecorderState } from './state.js';

export type TcpFault =
  /** The recorder reads the call and never answers. */
  | 'silent'
  /** The recorder drops the connection mid-call. */
  | 'close'
  /** A frame longer than any answer (not this protocol). */
  | 'oversize';

/**
 * A simulated Android recorder speaking the calls over TCP on loopback (port 0):
 * 4-byte big-endian length, GBK text KEY=VALUE lines. Test-only.
 */
export class SimTcpRecorder {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  readonly faults: TcpFault[] = [];
  port = 0;
  connections = 0;

  constructor(readonly state: SimRecorderState) {}

  async start(): Promise<number> {
    const server = createServer((s) => this.serve(s));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  inject(f: TcpFault): void {
    this.faults.push(f);
  }

  private serve(s: Socket): void {
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
    const reader = new FrameReader('be');
    s.on('data', (chunk: Buffer) => {
      for (const body of reader.push(chunk)) {
        const fault = this.faults.shift();
        if (fault === 'silent') continue;
        if (fault === 'close') {
          s.destroy();
          return;
        }
        if (fault === 'oversize') {
          const head = Buffer.alloc(4);
          head.writeUInt32BE(10 * 1024 * 1024, 0);
          s.write(head);
          continue;
        }
        s.write(encodeFrame(this.answer(decodeBody(body)), 'be'));
      }
    });
  }

  private answer(req: TcpFields): TcpFields {
    const st = this.state;
    const cmd = Number(req.CMD);
    if (cmd === SIM_COMMANDS.getIdCode) return { RET: '1', IDCODE: st.idCode };
    if (!st.checkPassword(req.PWD ?? '')) return { RET: '4' };
    switch (cmd) {
      case SIM_COMMANDS.getDevInfo:
        return {
          RET: '3',
          SERIAL: st.info.serial,
          USERNO: st.info.officerNo ?? '',
          USERNAME: st.info.officerName ?? '',
          UNITNO: st.info.unitNo ?? '',
          UNITNAME: st.info.unitName ?? '',
        };
      case SIM_COMMANDS.readBattery:
        return { RET: '3', BATTERY: String(st.battery) };
      case SIM_COMMANDS.getSdStatus:
        return st.sd ? { RET: '3', TOTAL: String(st.sd.totalBytes), FREE: String(st.sd.freeBytes) } : { RET: '2' };
      case SIM_COMMANDS.getTime:
        return st.canReadTime ? { RET: '3', TIME: st.deviceLocal().toFormat('yyyy-MM-dd HH:mm:ss') } : { RET: '2' };
      case SIM_COMMANDS.syncDevTime: {
        const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(req.TIME ?? '');
        if (!m) return { RET: '6' };
        const [, year, month, day, hour, minute, second] = m.map(Number) as number[];
        return { RET: st.setClock({ year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! }) ? '5' : '6' };
      }
      case SIM_COMMANDS.setMsdc:
        st.switchToMassStorage();
        return { RET: '7' };
      default:
        return { RET: '2' };
    }
  }
}
