import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Catalog, type Db, EvidenceRepo } from '../catalog/index.js';
import { CustodyError, errorMessage, isCustodyError, type Logger, rfc3339 } from '../core/index.js';
import { JOBS, type JobName, runnerDefaults } from '../jobs/index.js';
import { playbackPlan, type MediaTools, type ProxyKind, type ProxyMedia } from '../media/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { ledgerOf } from '../ledger/index.js';
import { withLocalCopy } from './local-copy.js';

export const PROXY_JOB = 'evidence.proxy' satisfies JobName;

export type ProxyStatus = 'pending' | 'ready' | 'failed';

/** A proxy as made and stored: its object and media, as the row and `evidence.proxied` keep them. */
export type MadeProxy = { sha256: string; size: number } & ProxyMedia;

/** A row of `evidence_proxies` (migration 014). */
export interface ProxyRecord {
  evidenceId: string;
  sourceSha256: string;
  kind: ProxyKind;
  status: ProxyStatus;
  reason: string;
  proxySha256: string | null;
  size: number | null;
  container: ProxyMedia['container'] | null;
  videoCodec: string | null;
  audioCodec: string | null;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  evidence_id: string;
  source_sha256: string;
  kind: ProxyKind;
  status: ProxyStatus;
  reason: string;
  proxy_sha256: string | null;
  size: number | null;
  container: ProxyMedia['container'] | null;
  video_codec: string | null;
  audio_codec: string | null;
  width: number | null;
  height: number | null;
  duration_ms: number | null;
  attempts: number;
  error: string | null;
  created_at: string;
  updated_at: string;
}

function record(r: Row): ProxyRecord {
  return {
    evidenceId: r.evidence_id,
    sourceSha256: r.source_sha256,
    kind: r.kind,
    status: r.status,
    reason: r.reason,
    proxySha256: r.proxy_sha256,
    size: r.size,
    container: r.container,
    videoCodec: r.video_codec,
    audioCodec: r.audio_codec,
    width: r.width,
    height: r.height,
    durationMs: r.duration_ms,
    attempts: r.attempts,
    error: r.error === null ? null : (JSON.parse(r.error) as { code: string; message: string }),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The proxies of the catalog (`evidence_proxies`): requested, made, failed. */
export class ProxyRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string], Row>('SELECT * FROM evidence_proxies WHERE evidence_id = ?'),
      request: db.prepare(
        `INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, created_at, updated_at)
         VALUES (@id, @source, @kind, 'pending', @reason, @now, @now) ON CONFLICT (evidence_id) DO NOTHING`,
      ),
      attempt: db.prepare("UPDATE evidence_proxies SET status = 'pending', attempts = attempts + 1, updated_at = @now WHERE evidence_id = @id AND status <> 'ready'"),
      ready: db.prepare(
        `UPDATE evidence_proxies SET status = 'ready', proxy_sha256 = @sha256, size = @size, container = @container, video_codec = @videoCodec,
           audio_codec = @audioCodec, width = @width, height = @height, duration_ms = @durationMs, error = NULL, updated_at = @now
         WHERE evidence_id = @id`,
      ),
      failed: db.prepare("UPDATE evidence_proxies SET status = @status, error = @error, updated_at = @now WHERE evidence_id = @id AND status <> 'ready'"),
      inUse: db.prepare<{ key: string }, { n: number }>(
        `SELECT (SELECT count(*) FROM evidence WHERE status = 'live' AND (thumbnail_sha256 = @key OR sha256 = @key))
              + (SELECT count(*) FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id
                  WHERE e.status = 'live' AND p.status = 'ready' AND p.proxy_sha256 = @key) AS n`,
      ),
      pending: db.prepare<[number], { evidence_id: string }>(
        "SELECT evidence_id FROM evidence_proxies WHERE status = 'pending' ORDER BY created_at, evidence_id LIMIT ?",
      ),
    };
  }

  get(evidenceId: string): ProxyRecord | null {
    const r = this.q.get.get(evidenceId);
    return r ? record(r) : null;
  }

  /** Ask for a proxy (status pending); true when this created the request, false when one exists. */
  request(evidenceId: string, sourceSha256: string, kind: ProxyKind, reason: string, now: string): boolean {
    return this.q.request.run({ id: evidenceId, source: sourceSha256, kind, reason, now }).changes > 0;
  }

  /** An attempt begins: pending again, counted. A ready proxy stays as it is. */
  attempt(evidenceId: string, now: string): void {
    this.q.attempt.run({ id: evidenceId, now });
  }

  ready(evidenceId: string, made: MadeProxy, now: string): void {
    this.q.ready.run({ id: evidenceId, ...made, now });
  }

  /**
   * Whether a live item uses these bytes as its content, thumbnail or ready proxy (the
   * purge's rule for derived objects, retention/purge.ts): a proxy made for an item
   * that is gone meanwhile is deleted only when nothing live uses its bytes.
   */
  inUse(sha256: string): boolean {
    return this.q.inUse.get({ key: sha256 })!.n > 0;
  }

  /** An attempt failed: `final` when no retry follows (status failed), else it stays pending with the error. */
  failed(evidenceId: string, error: { code: string; message: string }, final: boolean, now: string): void {
    this.q.failed.run({ id: evidenceId, status: final ? 'failed' : 'pending', error: JSON.stringify(error), now });
  }

  /** Items whose proxy was asked for and not yet made (the sweep queues them again). */
  pending(limit = 1000): string[] {
    return this.q.pending.all(limit).map((r) => r.evidence_id);
  }
}

/**
 * Ask for a proxy of an item that has just been analysed, when a browser cannot play
 * it. Runs inside the caller's transaction (the analysis), so an analysed item that
 * needs a proxy always has its request; true when a job should be queued.
 */
export function requestProxyIfNeeded(
  proxies: ProxyRepo,
  ev: { id: string; sha256: string; mediaType: ProxyKind },
  media: Readonly<Record<string, unknown>>,
  now: string,
): boolean {
  const plan = playbackPlan(ev.mediaType, media);
  if (plan.original) return false;
  return proxies.request(ev.id, ev.sha256, plan.proxy, plan.reason, now);
}

export interface ProxyDeps {
  catalog: Catalog;
  store: ObjectStore;
  media: MediaTools;
  log: Logger;
  /** jobs.maxAttempts: after the last attempt a failure is final (status failed). */
  maxAttempts?: number | undefined;
}

const EXTENSION: Record<ProxyKind, string> = { video: 'mp4', audio: 'm4a', photo: 'jpg' };

/**
 * The `evidence.proxy` job: make a browser-playable copy of an item's original with
 * ffmpeg, store it in the vault as a content object (the original is only read), and
 * record it in the catalog and the ledger (`evidence.proxied`, naming both hashes).
 *
 * Idempotent: an item with a ready proxy, one the browser plays as it is, or one no
 * longer live is left alone. A failure is recorded on the proxy's row (the error, and
 * status failed once no retry follows) and thrown, so the runner's rules apply: bad
 * media (MEDIA_TRANSCODE_FAILED) fails at once, a timeout or a vault hiccup is retried.
 */
export function proxyHandler(deps: ProxyDeps) {
  const repo = new EvidenceRepo(deps.catalog.db);
  const proxies = new ProxyRepo(deps.catalog.db);
  const maxAttempts = deps.maxAttempts ?? runnerDefaults.maxAttempts;
  const now = (): string => rfc3339(deps.catalog.clock.now());
  return async (payload: unknown, ctx: { signal: AbortSignal; log: Logger; attempt: number }): Promise<void> => {
    const parsed = JOBS[PROXY_JOB].safeParse(payload);
    if (!parsed.success) throw new CustodyError('JOBS_PAYLOAD_INVALID', 'evidence.proxy needs { evidenceId }');
    const id = parsed.data.evidenceId;
    const ev = repo.get(id);
    if (!ev || ev.status !== 'live') return;
    const plan = playbackPlan(ev.mediaType, ev.media);
    if (plan.original || proxies.get(id)?.status === 'ready') return;
    deps.catalog.tx(() => {
      // A job queued by hand, or for an item analysed before proxies existed, asks here.
      proxies.request(id, ev.sha256, plan.proxy, plan.reason, now());
      proxies.attempt(id, now());
    });
    try {
      const made = await withLocalCopy(deps.store, contentKey(ev.sha256), ctx.signal, async (file): Promise<MadeProxy> => {
        const dir = await mkdtemp(join(tmpdir(), 'custody-proxy-'));
        try {
          const out = join(dir, `proxy.${EXTENSION[plan.proxy]}`);
          const info = await deps.media.makeProxy(file, out, plan.proxy, { signal: ctx.signal, durationMs: ev.durationMs });
          const put = await deps.store.putContent(createReadStream(out), { signal: ctx.signal });
          const { container, videoCodec, audioCodec, width, height, durationMs } = info;
          return { sha256: put.sha256, size: put.size, container, videoCodec, audioCodec, width, height, durationMs };
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      const recorded = deps.catalog.tx(() => {
        const current = repo.get(id);
        if (!current || current.status !== 'live' || proxies.get(id)?.status === 'ready') return false;
        proxies.ready(id, made, now());
        ledgerOf(deps.catalog).append({
          type: 'evidence.proxied',
          actor: 'custody:media',
          subject: id,
          data: { sha256: ev.sha256, kind: plan.proxy, reason: plan.reason, proxy: made },
        });
        return true;
      });
      if (!recorded) {
        // Purged (or given a proxy by another attempt) while this one was made: a copy
        // of its footage must not outlive it in the vault unrecorded.
        try {
          if (!proxies.inUse(made.sha256)) await deps.store.delete(contentKey(made.sha256));
          ctx.log.info({ evidenceId: id, proxy: made.sha256 }, 'proxy made for an item that no longer needs it; deleted');
        } catch (e) {
          ctx.log.error({ evidenceId: id, proxy: made.sha256, err: e }, 'a proxy made for an item that no longer needs it could not be deleted');
        }
        return;
      }
      ctx.log.info({ evidenceId: id, proxy: made.sha256, size: made.size, width: made.width, height: made.height }, 'proxy made');
    } catch (e) {
      // The runner retries anything but a CustodyError that says a retry cannot help.
      const retryable = isCustodyError(e) ? e.retryable : true;
      const final = !retryable || ctx.attempt >= maxAttempts;
      const error = { code: isCustodyError(e) ? e.code : 'JOBS_HANDLER_FAILED', message: errorMessage(e) };
      try {
        deps.catalog.tx(() => proxies.failed(id, error, final, now()));
      } catch (recordError) {
        ctx.log.error({ evidenceId: id, err: recordError }, 'could not record the proxy failure');
      }
      ctx.log.warn({ evidenceId: id, err: e, final }, final ? 'no proxy could be made; the original is kept as it is' : 'proxy attempt failed; it will be retried');
      throw e;
    }
  };
}
