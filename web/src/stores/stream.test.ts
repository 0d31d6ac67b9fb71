/**
 * The page's one event stream: the stores (docks, flags, exports) and the 账本 page
 * shared a helper but each opened its own EventSource, so a page holding two stores held
 * two connections to /api/v1/events, each reconnecting on its own. Node has no
 * EventSource: a fake stands in, and the stores' GETs answer from a table.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static all: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly init?: { withCredentials?: boolean },
  ) {
    super();
    FakeEventSource.all.push(this);
  }
  /** The server answered with the stream. */
  opened(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.();
  }
  /** The connection dropped (the browser reconnects) or was refused (it does not). */
  failed(refused: boolean): void {
    this.readyState = refused ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.();
  }
  send(type: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(type, { data: typeof data === 'string' ? data : JSON.stringify(data) }));
  }
  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }
}

const open = (): FakeEventSource[] => FakeEventSource.all.filter((s) => s.readyState !== FakeEventSource.CLOSED);

/** What the stores GET, by path; every GET is counted. */
const answers: Record<string, unknown> = {};
const gets: string[] = [];
vi.stubGlobal('EventSource', FakeEventSource);
// The API client is made at import with the globals of that moment: same-origin paths need a base in Node.
vi.stubGlobal(
  'Request',
  class extends Request {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' && input.startsWith('/') ? `http://station${input}` : input, init);
    }
  },
);
vi.stubGlobal('fetch', async (req: Request) => {
  const path = new URL(req.url).pathname;
  gets.push(path);
  const body = answers[path];
  return body === undefined ? new Response(JSON.stringify({ error: { code: 'NOT_FOUND', message: path } }), { status: 404, headers: { 'content-type': 'application/json' } }) : Response.json(body);
});

const stream = await import('./stream');
const dockStore = await import('./docks');
const flagStore = await import('./flags');

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
};

beforeEach(() => {
  FakeEventSource.all = [];
  gets.length = 0;
  answers['/api/v1/docks'] = { items: [] };
  answers['/api/v1/devices'] = { items: [], next: null };
  answers['/api/v1/flags'] = { items: [], next: null };
});
afterEach(() => {
  dockStore.stop();
  flagStore.stop();
  expect(open()).toEqual([]);
});

describe('the page’s one event stream', () => {
  it('is one connection for every subscriber, each given only its own event types', () => {
    const a: unknown[] = [];
    const b: unknown[] = [];
    const one = stream.subscribe(['dock', 'flag'], (t, d) => a.push([t, d]), () => undefined);
    const two = stream.subscribe(['flag', 'export'], (t, d) => b.push([t, d]), () => undefined);
    expect(FakeEventSource.all).toHaveLength(1);
    const es = FakeEventSource.all[0]!;
    expect(es.url).toBe('/api/v1/events');
    expect(es.init).toEqual({ withCredentials: true });
    es.opened();
    es.send('dock', { dockId: 'd1' });
    es.send('flag', { id: 'f1' });
    es.send('export', { id: 'x1' });
    es.send('flag', '{not json');
    expect(a).toEqual([['dock', { dockId: 'd1' }], ['flag', { id: 'f1' }]]);
    expect(b).toEqual([['flag', { id: 'f1' }], ['export', { id: 'x1' }]]);
    // Closed with the last subscriber, not before.
    one.close();
    expect(open()).toHaveLength(1);
    es.send('dock', { dockId: 'd2' });
    expect(a).toHaveLength(2);
    two.close();
    expect(open()).toEqual([]);
  });

  it('tells every subscriber of each (re)connection, and one that comes when it is live, once', async () => {
    const told: string[] = [];
    const first = stream.subscribe(['dock'], () => undefined, () => told.push('first'));
    const es = FakeEventSource.all[0]!;
    expect(stream.connection.value).toBe('connecting');
    es.opened();
    expect(stream.connection.value).toBe('live');
    expect(told).toEqual(['first']);
    const second = stream.subscribe(['flag'], () => undefined, () => told.push('second'));
    await settle();
    expect(told).toEqual(['first', 'second']);
    // Dropped: the browser reconnects the same source, and both read again.
    es.failed(false);
    expect(stream.connection.value).toBe('connecting');
    es.opened();
    expect(told).toEqual(['first', 'second', 'first', 'second']);
    // Refused (401, 403): closed until reconnect(), which opens one new source for both.
    es.failed(true);
    expect(stream.connection.value).toBe('closed');
    stream.reconnect();
    expect(open()).toHaveLength(1);
    expect(FakeEventSource.all).toHaveLength(2);
    const again = FakeEventSource.all[1]!;
    again.opened();
    expect(told).toEqual(['first', 'second', 'first', 'second', 'first', 'second']);
    // A new source gets the listeners of every subscriber.
    const got: unknown[] = [];
    const third = stream.subscribe(['undock'], (_t, d) => got.push(d), () => undefined);
    again.send('undock', { dockId: 'd9' });
    expect(got).toEqual([{ dockId: 'd9' }]);
    for (const s of [first, second, third]) s.close();
    expect(open()).toEqual([]);
    expect(stream.connection.value).toBe('connecting');
  });

  it('feeds the docks and flags stores through one connection, each reading with GET when it connects', async () => {
    dockStore.start();
    flagStore.start();
    expect(FakeEventSource.all).toHaveLength(1);
    const es = FakeEventSource.all[0]!;
    es.opened();
    await settle();
    expect(gets).toEqual(expect.arrayContaining(['/api/v1/docks', '/api/v1/devices', '/api/v1/flags']));
    expect(dockStore.connection.value).toBe('live');
    expect(flagStore.connection.value).toBe('live');

    es.send('dock', { dockId: 'd1', serial: 'ZFY001', location: 'usb 1-1', dockedAt: '2026-12-03T01:00:00.000Z', verdict: 'ready', reasons: [], officer: '100001', unit: '350200', batteryPercent: 80, storageFreeBytes: 1, clockDriftMs: 0 });
    es.send('ingested', { dockId: 'd1' });
    expect(dockStore.docks.get('d1')).toMatchObject({ serial: 'ZFY001', state: 'ready', ingested: 1, officer: '100001' });

    answers['/api/v1/flags/f1'] = { id: 'f1', rule: 'late-upload', state: 'open', raisedAt: '2026-12-03T01:00:00.000Z', officer: '100001', recorderSerial: 'ZFY001', unit: '350200', seen: {}, summary: '', aboutCaller: false };
    es.send('flag', { id: 'f1' });
    await settle();
    expect([...flagStore.flags.keys()]).toEqual(['f1']);
    expect(flagStore.fresh.has('f1')).toBe(true);

    // Leaving the flags page leaves the docks' stream open; leaving both closes it.
    flagStore.stop();
    expect(open()).toEqual([es]);
    dockStore.stop();
    expect(open()).toEqual([]);
  });

  it('keeps a read only when no event came while it was in flight: an event that came meanwhile is newer', async () => {
    const got: unknown[] = [];
    const sub = stream.subscribe(['verify'], (_t, d) => got.push(d), () => undefined);
    const es = open().at(-1)!;
    es.opened();
    // The answer of a read made while a run was going, which ends (its event) before that answer arrives.
    let answer!: (v: string) => void;
    const overtaken = sub.fresh(() => new Promise<string>((r) => (answer = r)));
    es.send('verify', { running: null, last: { ok: true } });
    answer('running');
    expect(await overtaken).toBeUndefined();
    expect(got).toEqual([{ running: null, last: { ok: true } }]);
    // A read with no event meanwhile is kept; an event of another type does not count.
    const kept = sub.fresh(() => new Promise<string>((r) => (answer = r)));
    es.send('dock', { dockId: 'd9' });
    answer('idle');
    expect(await kept).toBe('idle');
    sub.close();
  });
});
