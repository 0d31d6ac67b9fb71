import { connect, type Socket } from 'node:net';
import iconv from 'iconv-lite';
import { errorMessage } from '../../core/index.js';
import { Gat947Error } from './errors.js';
import { checkIRet, formatLocalTime, parseLocalTime, type Gat947Link, type LocalDateTime, type SdStatus } from './link.js';
import type { Gat947Call, Gat947Params } from './params.js';
import type { ZfyInfo } from './zfy-info.js';

/** The largest frame either side accepts: the calls' answers are a few hundred bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;

export type TcpFields = Record<string, string>;

/** A frame: 4-byte length, then GBK text lines KEY=VALUE. */
export function encodeFrame(fields: TcpFields, order: 'be' | 'le' = 'be'): Buffer {
  const body = iconv.encode(
    Object.entries(fields)
      .map(([k, v]) => `${k}=${v.replace(/[\r\n]/g, ' ')}`)
      .join('\n'),
    'gbk',
  );
  const head = Buffer.alloc(4);
  if (order === 'be') head.writeUInt32BE(body.length, 0);
  else head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

export function decodeBody(body: Buffer): TcpFields {
  const out: TcpFields = {};
  for (const line of iconv.decode(body, 'gbk').split(/\r?\n/)) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Gat947Error('GAT947_BAD_REPLY', 'a reply line is not KEY=VALUE');
    out[line.slice(0, eq).trim().toUpperCase()] = line.slice(eq + 1);
  }
  return out;
}

/**
 * Splits a byte stream into frames. Returns the bodies complete so far; throws on a
 * frame longer than MAX_FRAME_BYTES (a peer that is not speaking this protocol).
 */
export class FrameReader {
  private buf = Buffer.alloc(0);
  constructor(private readonly order: 'be' | 'le' = 'be') {}

  push(chunk: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const n = this.order === 'be' ? this.buf.readUInt32BE(0) : this.buf.readUInt32LE(0);
      if (n > MAX_FRAME_BYTES) throw new Gat947Error('GAT947_BAD_REPLY', `a frame of ${n} bytes is beyond ${MAX_FRAME_BYTES}`);
      if (this.buf.length < 4 + n) break;
      out.push(this.buf.subarray(4, 4 + n));
      this.buf = this.buf.subarray(4 + n);
    }
    return out;
  }
}

function num(f: TcpFields, key: string, call: string): number {
  const v = f[key];
  if (v === undefined || !/^\d+$/.test(v.trim())) throw new Gat947Error('GAT947_BAD_REPLY', `${call}: no number ${key} in the reply`);
  return Number(v.trim());
}

function text(f: TcpFields, key: string): string | null {
  const v = f[key]?.trim();
  return v ? v : null;
}

/**
 * The calls over a TCP socket (Android-based recorders on the dock's network): one
 * request frame, one reply frame, in turn. A request is CMD=<command number>, PWD=<the
 * device password> when the model has one, and the call's arguments; the reply carries
 * RET=<iRet> and the call's fields. Connect and every call are bounded by `timeoutMs`;
 * the socket closing mid-call is the recorder gone.
 */
export class TcpLink implements Gat947Link {
  private readonly reader: FrameReader;
  private waiting: { resolve: (f: TcpFields) => void; reject: (e: Gat947Error) => void } | null = null;
  private failure: Gat947Error | null = null;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly p: Gat947Params,
    private readonly password: string | null,
  ) {
    this.reader = new FrameReader(p.tcp!.lengthOrder);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const body of this.reader.push(chunk)) {
          const w = this.waiting;
          this.waiting = null;
          if (w) w.resolve(decodeBody(body));
        }
      } catch (e) {
        this.fail(e instanceof Gat947Error ? e : new Gat947Error('GAT947_BAD_REPLY', errorMessage(e)));
        socket.destroy();
      }
    });
    socket.on('error', (e) => this.fail(new Gat947Error('GAT947_DEVICE_GONE', `the recorder's connection failed: ${errorMessage(e)}`, { cause: e })));
    socket.on('close', () => this.fail(new Gat947Error('GAT947_DEVICE_GONE', 'the recorder closed the connection')));
  }

  static open(p: Gat947Params, password: string | null): Promise<TcpLink> {
    const t = p.tcp;
    if (!t) return Promise.reject(new Gat947Error('GAT947_CONNECT_FAILED', 'the profile has no tcp address'));
    return new Promise<TcpLink>((resolve, reject) => {
      const socket = connect({ host: t.host, port: t.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Gat947Error('GAT947_TIMEOUT', `no connection to ${t.host}:${t.port} within ${t.timeoutMs} ms`));
      }, t.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new TcpLink(socket, p, password));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new Gat947Error('GAT947_CONNECT_FAILED', `cannot connect to the recorder at ${t.host}:${t.port}: ${errorMessage(e)}`, { cause: e }));
      });
    });
  }

  private fail(e: Gat947Error): void {
    if (this.closed && e.code === 'GAT947_DEVICE_GONE') return;
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }

  private async call(call: Gat947Call, args: TcpFields = {}, withPassword = true): Promise<TcpFields> {
    if (this.closed) throw new Gat947Error('GAT947_LINK_CLOSED', 'the connection is closed');
    if (this.failure) throw new Gat947Error('GAT947_LINK_CLOSED', `the connection is unusable after ${this.failure.code}`, { cause: this.failure });
    if (this.waiting) throw new Gat947Error('GAT947_LINK_CLOSED', `${call}: another call is still running`);
    const n = this.p.commands[call];
    if (n === null) throw new Gat947Error('GAT947_NOT_SUPPORTED', `this model's profile has no ${call} command`);
    const timeoutMs = this.p.tcp!.timeoutMs;
    const reply = await new Promise<TcpFields>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        // A late answer would be taken for the next call's: the connection is done.
        const e = new Gat947Error('GAT947_TIMEOUT', `${call}: no answer within ${timeoutMs} ms`);
        this.failure ??= e;
        this.socket.destroy();
        reject(e);
      }, timeoutMs);
      this.waiting = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const fields: TcpFields = { CMD: String(n), ...(withPassword && this.password !== null ? { PWD: this.password } : {}), ...args };
      this.socket.write(encodeFrame(fields, this.p.tcp!.lengthOrder));
    });
    checkIRet(call, num(reply, 'RET', call));
    return reply;
  }

  async getIdCode(): Promise<string> {
    const f = await this.call('getIdCode', {}, false);
    const s = text(f, 'IDCODE');
    if (!s) throw new Gat947Error('GAT947_BAD_REPLY', 'GetIDCode returned no code');
    return s;
  }

  async getZfyInfo(): Promise<ZfyInfo> {
    const f = await this.call('getDevInfo');
    const serial = text(f, 'SERIAL');
    if (!serial) throw new Gat947Error('GAT947_BAD_REPLY', 'ZFY_INFO holds no serial');
    return { serial, officerNo: text(f, 'USERNO'), officerName: text(f, 'USERNAME'), unitNo: text(f, 'UNITNO'), unitName: text(f, 'UNITNAME') };
  }

  async readBattery(): Promise<number> {
    const v = num(await this.call('readBattery'), 'BATTERY', 'readBattery');
    if (v > 100) throw new Gat947Error('GAT947_BAD_REPLY', `battery ${v} % is not a charge`);
    return v;
  }

  async getSdStatus(): Promise<SdStatus> {
    const f = await this.call('getSdStatus');
    const total = num(f, 'TOTAL', 'getSdStatus');
    const free = num(f, 'FREE', 'getSdStatus');
    if (free > total) throw new Gat947Error('GAT947_BAD_REPLY', `storage: ${free} bytes free of ${total}`);
    return { totalBytes: total, freeBytes: free };
  }

  async getTime(): Promise<LocalDateTime> {
    const f = await this.call('getTime');
    return parseLocalTime(f.TIME ?? '');
  }

  async syncDevTime(t: LocalDateTime): Promise<void> {
    await this.call('syncDevTime', { TIME: formatLocalTime(t) });
  }

  async setMsdc(): Promise<void> {
    await this.call('setMsdc');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A peer that never closes its side is not waited for.
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 500).unref();
    });
  }
}
