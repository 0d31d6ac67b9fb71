import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import type { ApiServer } from '../../src/api/index.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { EvidenceRepo } from '../../src/catalog/evidence-repo.js';
import { loadConfig } from '../../src/config/index.js';
import { ActivityBus } from '../../src/core/activity.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { Clock } from '../../src/core/time.js';
import { registerRecorder } from '../../src/ingest/index.js';
import type { JobStats } from '../../src/jobs/index.js';
import { buildStation } from '../../src/station.js';
import { FsObjectStore } from '../../src/vault/index.js';
import { contentKey } from '../../src/vault/index.js';
import { tempDir } from '../helpers/tmp.js';

export type InjectResponse = Awaited<ReturnType<ApiServer['app']['inject']>>;

/** A clock tests move by hand (grants, tokens and sign-in windows all read it). */
export class TestClock implements Clock {
  constructor(public t: number = Date.parse('2026-11-27T08:00:00.000Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Row counts of what a request could change. */
export interface Snapshot {
  evidence: number;
  recorders: number;
  users: number;
  access_requests: number;
  access_request_items: number;
  ledger: number;
}

export interface SeedItem {
  officer?: string | null;
  unit?: string | null;
  serial?: string;
  type?: 'video' | 'audio' | 'photo';
  recordedStart?: string;
  ingestedAt?: string;
  bytes?: Buffer | number;
  name?: string;
  durationMs?: number | null;
  thumbnail?: Buffer;
}

export interface SeededItem {
  id: string;
  sha256: string;
  content: Buffer;
}

export interface ApiRig {
  dir: string;
  home: string;
  clock: TestClock;
  catalog: Catalog;
  store: FsObjectStore;
  activity: ActivityBus;
  server: ApiServer;
  /** Create a user; returns id and token. */
  user(name: string, role: string, unit?: string | null, tokenExpiresAt?: Date | null): { id: string; token: string };
  /** Store content in the vault and insert the evidence row + ledger entry, as ingest does. */
  seed(item?: SeedItem): Promise<SeededItem>;
  /** fastify inject with a bearer token. */
  call(token: string | null, opts: { method?: string; url: string; payload?: unknown; headers?: Record<string, string> }): Promise<InjectResponse>;
  ledgerTypes(): string[];
  /** Row counts of the tables a request could change, and the ledger length. */
  snapshot(): Snapshot;
  close(): Promise<void>;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function apiRig(env: Record<string, string> = {}, opts: { jobStats?: () => Promise<JobStats>; log?: Logger } = {}): Promise<ApiRig> {
  const dir = await tempDir('custody-api-');
  const home = join(dir, 'home');
  const config = loadConfig({ home, env: { CUSTODY_API_PORT: '0', ...env } });
  const clock = new TestClock();
  const catalog = Catalog.open(join(home, 'catalog.db'), { clock });
  const store = new FsObjectStore({ root: config.vault.fs.path, fsync: false });
  await store.init();
  const activity = new ActivityBus();
  // The API on the station's services, over this rig's catalog (its clock) and store.
  const station = buildStation({ config, log: opts.log ?? silentLogger, actor: 'custody:api', catalog, store, activity });
  const server = await station.api({ now: () => clock.t, ...(opts.jobStats ? { jobStats: opts.jobStats } : {}) });
  const repo = new EvidenceRepo(catalog.db);
  let n = 0;

  return {
    dir,
    home,
    clock,
    catalog,
    store,
    activity,
    server,
    user(name, role, unit = null, tokenExpiresAt = null) {
      const { user, token } = server.context.users.create({ name, role, unit, tokenExpiresAt }, 'test');
      return { id: user.id, token };
    },
    async seed(item = {}) {
      n++;
      const content = Buffer.isBuffer(item.bytes) ? item.bytes : randomBytes(item.bytes ?? 1000);
      const put = await store.putContent(Readable.from([content]));
      const thumb = item.thumbnail ? await store.putContent(Readable.from([item.thumbnail])) : null;
      const id = uuidv7();
      const serial = item.serial ?? 'ZFY001';
      const recordedStart = item.recordedStart ?? new Date(clock.t - 3600_000 + n * 1000).toISOString();
      catalog.tx(() => {
        const now = item.ingestedAt ?? clock.now().toISOString();
        registerRecorder(catalog, repo, { serial, model: 'DSJ-T1', officer: item.officer ?? '0417', unit: item.unit === undefined ? 'U1' : item.unit }, 'test', now);
        repo.insert({
          id,
          sha256: put.sha256,
          size: content.length,
          mediaType: item.type ?? 'video',
          recorderSerial: serial,
          officer: item.officer === undefined ? '0417' : item.officer,
          unit: item.unit === undefined ? 'U1' : item.unit,
          sourcePath: `DCIM/${item.name ?? `CLIP${n}.MP4`}`,
          sourceName: item.name ?? `CLIP${n}.MP4`,
          sourceMtimeMs: Date.parse(recordedStart),
          recordedStart,
          recordedEnd: null,
          recordedSource: 'filename',
          clockDriftMs: null,
          recordedStartCorrected: null,
          recordedEndCorrected: null,
          ingestedAt: now,
          sessionId: 'session-1',
          durationMs: item.durationMs === undefined ? 60_000 : item.durationMs,
        });
        if (thumb) repo.setThumbnail(id, thumb.sha256);
        catalog.ledger.append({ type: 'evidence.ingested', actor: 'test', subject: id, data: { sha256: put.sha256, size: content.length } });
      });
      return { id, sha256: sha(content), content };
    },
    call(token, opts) {
      return server.app.inject({
        method: (opts.method ?? 'GET') as 'GET',
        url: opts.url,
        ...(opts.payload !== undefined ? { payload: opts.payload as string } : {}),
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      });
    },
    ledgerTypes() {
      return [...catalog.ledger.entries()].map((e) => e.type);
    },
    snapshot() {
      const n = (t: string): number => (catalog.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      return {
        evidence: n('evidence'),
        recorders: n('recorders'),
        users: n('users'),
        access_requests: n('access_requests'),
        access_request_items: n('access_request_items'),
        ledger: n('ledger'),
      };
    },
    async close() {
      await server.stop();
      await store.close();
      catalog.close();
    },
  };
}

export { contentKey };

/** The JSON body of a response. */
export function body<T = Record<string, unknown>>(res: { body: string }): T {
  return JSON.parse(res.body) as T;
}
