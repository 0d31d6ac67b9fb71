import { Readable } from 'node:stream';
import { type Catalog, EvidenceRepo } from '../catalog/index.js';
import { CustodyError, errorMessage, isCustodyError, type Logger, rfc3339 } from '../core/index.js';
import { JOBS, type JobName, type JobRunner } from '../jobs/index.js';
import type { MediaTools } from '../media/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import type { HeaderProbe } from './session.js';
import { ledgerOf } from '../ledger/index.js';
import { withLocalCopy } from './local-copy.js';
import { PROXY_JOB, ProxyRepo, proxyHandler, requestProxyIfNeeded } from './proxy.js';

export const ANALYSE_JOB = 'evidence.analyse' satisfies JobName;

export interface FollowUpDeps {
  catalog: Catalog;
  store: ObjectStore;
  media: MediaTools;
  log: Logger;
  thumbnailWidth: number;
  /** Queue the `evidence.proxy` job of an item the analysis found a browser cannot play. */
  enqueueProxy?: (evidenceId: string) => Promise<void>;
}

/**
 * The follow-up job for one evidence item: probe its media and make a thumbnail.
 * Idempotent: an item already analysed is left alone. A file that cannot be probed
 * (truncated, hostile) is recorded as such; its evidence is untouched.
 */
export function analyseHandler(deps: FollowUpDeps) {
  const repo = new EvidenceRepo(deps.catalog.db);
  const proxies = new ProxyRepo(deps.catalog.db);
  return async (payload: unknown, ctx: { signal: AbortSignal; log: Logger }): Promise<void> => {
    // The runner has checked the payload against the job table; checked again here
    // with the same schema, for callers that run the handler directly.
    const parsed = JOBS[ANALYSE_JOB].safeParse(payload);
    if (!parsed.success) throw new CustodyError('JOBS_PAYLOAD_INVALID', 'evidence.analyse needs { evidenceId }');
    const id = parsed.data.evidenceId;
    const ev = repo.get(id);
    if (!ev || ev.status !== 'live' || ev.media !== null) return;
    const key = contentKey(ev.sha256);
    let media: Record<string, unknown>;
    let durationMs: number | null = null;
    let thumb: { sha256: string; size: number } | null = null;
    await withLocalCopy(deps.store, key, ctx.signal, async (file) => {
      try {
        const info = await deps.media.probe(file, { signal: ctx.signal });
        durationMs = info.durationMs > 0 ? info.durationMs : null;
        media = { ok: true, ...info, creationTime: info.creationTime ? rfc3339(info.creationTime) : null };
      } catch (e) {
        if (isCustodyError(e) && e.retryable) throw e;
        media = { ok: false, error: { code: isCustodyError(e) ? e.code : 'MEDIA_PROBE_FAILED', message: errorMessage(e) } };
        ctx.log.warn({ evidenceId: id, err: e }, 'media could not be probed; the evidence is kept as it is');
        return;
      }
      try {
        const t = await deps.media.thumbnail(file, { width: deps.thumbnailWidth, signal: ctx.signal });
        if (t.hasPicture) {
          const put = await deps.store.putContent(Readable.from([t.webp]));
          thumb = { sha256: put.sha256, size: put.size };
        }
      } catch (e) {
        if (isCustodyError(e) && e.retryable) throw e;
        ctx.log.warn({ evidenceId: id, err: e }, 'no thumbnail could be made');
      }
    });
    const end = durationMs !== null ? new Date(Date.parse(ev.recordedStart) + durationMs) : null;
    const endCorrected = durationMs !== null && ev.recordedStartCorrected ? new Date(Date.parse(ev.recordedStartCorrected) + durationMs) : null;
    let proxyRequested = false;
    deps.catalog.tx(() => {
      const current = repo.get(id);
      if (!current || current.media !== null) return;
      repo.setMedia(id, media, durationMs, end ? rfc3339(end) : null, endCorrected ? rfc3339(endCorrected) : null);
      // In the same transaction: an analysed item a browser cannot play always has its proxy request.
      proxyRequested = requestProxyIfNeeded(proxies, current, media, rfc3339(deps.catalog.clock.now()));
      if (thumb) repo.setThumbnail(id, (thumb as { sha256: string }).sha256);
      ledgerOf(deps.catalog).append({
        type: 'evidence.analysed',
        actor: 'custody:media',
        subject: id,
        data: {
          sha256: ev.sha256,
          ok: media.ok === true,
          durationMs,
          recordedEnd: current.recordedEnd ?? (end ? rfc3339(end) : null),
          thumbnail: thumb,
          ...(media.ok === true ? {} : { error: media.error as Record<string, unknown> }),
        },
      });
    });
    if (proxyRequested) await deps.enqueueProxy?.(id);
  };
}

export interface FollowUps {
  /** Header-only read of a media file's creation time, for the ingest critical path. */
  headerProbe: HeaderProbe;
  enqueueFor(evidenceIds: string[]): Promise<void>;
  /**
   * Queue follow-ups for every live item never analysed, and every proxy asked for and
   * not yet made (after a crash between commit and enqueue); returns how many were queued.
   */
  sweep(): Promise<number>;
  /** Run the queued follow-ups now (in-process runner); with BullMQ, workers elsewhere do it. */
  drain(): Promise<void>;
  readonly runner: JobRunner;
  close(): Promise<void>;
}

export interface FollowUpsOptions {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  /** The station's job runner: the follow-up handlers are registered on it. */
  runner: JobRunner;
  /** The station's ffmpeg/ffprobe tools. */
  media: MediaTools;
  /** Width of the thumbnails made for videos and photos (media.thumbnailWidth). */
  thumbnailWidth: number;
  /** jobs.maxAttempts, so a proxy's last failed attempt is recorded as final; the runner's default when omitted. */
  maxAttempts?: number;
}

/** The follow-ups on the station's runner and media tools (src/station.ts builds them once). */
export async function createFollowUps(deps: FollowUpsOptions): Promise<FollowUps> {
  const { runner, media } = deps;
  const enqueueProxy = async (id: string): Promise<void> => {
    await runner.enqueue(PROXY_JOB, { evidenceId: id }, { key: `proxy:${id}` });
  };
  runner.register(ANALYSE_JOB, analyseHandler({ catalog: deps.catalog, store: deps.store, media, log: deps.log, thumbnailWidth: deps.thumbnailWidth, enqueueProxy }));
  runner.register(PROXY_JOB, proxyHandler({ catalog: deps.catalog, store: deps.store, media, log: deps.log, maxAttempts: deps.maxAttempts }));
  const repo = new EvidenceRepo(deps.catalog.db);
  const proxies = new ProxyRepo(deps.catalog.db);
  let started = false;
  const enqueueFor = async (ids: string[]): Promise<void> => {
    // All at once: the in-process runner stores a session's jobs in one transaction.
    await runner.enqueueMany(ids.map((id) => ({ name: ANALYSE_JOB, payload: { evidenceId: id }, opts: { key: `analyse:${id}` } })));
  };
  return {
    runner,
    headerProbe: async (file, signal) => ({ creationTime: await media.creationTimeOf(file, { signal }), durationMs: null }),
    enqueueFor,
    async sweep() {
      const ids = repo.withoutMedia(10_000);
      await enqueueFor(ids);
      const pending = proxies.pending(10_000);
      for (const id of pending) await enqueueProxy(id);
      return ids.length + pending.length;
    },
    async drain() {
      if (runner.kind !== 'sqlite') return;
      await new Promise<void>((resolve, reject) => {
        const check = async (): Promise<void> => {
          const s = await runner.stats();
          if (s.waiting === 0 && s.active === 0) {
            off();
            resolve();
          }
        };
        const off = runner.on(() => {
          check().catch(reject);
        });
        (started ? Promise.resolve() : runner.start().then(() => void (started = true))).then(check, reject);
      });
    },
    async close() {
      if (started || runner.kind === 'bullmq') await runner.stop();
    },
  };
}
