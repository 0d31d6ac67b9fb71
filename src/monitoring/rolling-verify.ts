import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog/index.js';
import { errorMessage, type Logger } from '../core/index.js';
import { ledgerOf } from '../ledger/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';

/** Where the rolling verification keeps its place: the catalog's meta table (survives restarts, no schema change). */
export const ROLLING_VERIFY_META_KEY = 'rolling_verify';

/**
 * What is re-hashed, in this order within a pass: live items' footage by hash, their
 * proxies by item, the catalog snapshots still kept by ledger position, then the sealed
 * ledger segments by position. Each phase pages through an index, so no page costs more
 * than its rows however large the vault.
 */
export const ROLLING_PHASES = ['objects', 'proxies', 'snapshots', 'segments'] as const;
export type RollingPhase = (typeof ROLLING_PHASES)[number];

/**
 * The rolling verification's place and figures, kept in the catalog after every few
 * objects: a restarted daemon goes on from `cursor` within the same pass.
 */
export interface RollingVerifyState {
  /** When the pass in progress began (ISO); its schedule runs from here. */
  passStartedAt: string;
  phase: RollingPhase;
  /** The last object done in this phase: a content hash (objects), an item id (proxies), a ledger seq (snapshots) or a segment's first_seq (segments); null: none yet. */
  cursor: string | null;
  objectsDone: number;
  bytesDone: number;
  /**
   * Bytes the pass has to read (the schedule's denominator), counted when it began and
   * again each day, so footage ingested meanwhile quickens the pace rather than
   * stretching the pass beyond its period.
   */
  bytesTotal: number;
  objectsTotal: number;
  /** When bytesTotal was counted (ISO). */
  totalsAt?: string;
  /** Objects that failed in this pass. */
  failures: number;
  /** The last pass that ended: when, in how long, with how many failures; null before the first. */
  lastPass: { endedAt: string; objects: number; bytes: number; failures: number; durationMs: number } | null;
}

export interface RollingVerifySettings {
  /** A whole pass over every object is spread over this many days (0: the rolling verification is off). */
  periodDays: number;
  /** Never read faster than this (bytes per second), whatever the period asks. */
  maxBytesPerSecond: number;
}

export interface RollingVerifierDeps extends RollingVerifySettings {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  /** Who the ledger names for a failure found (the daemon). */
  actor: string;
  /** Waits ms or until the signal aborts (tests give one that does not wait); default: a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The state is saved after this many objects or this many ms, whichever comes first. */
  saveEvery?: { objects: number; ms: number };
  /**
   * An object that cannot be read (the store did not answer) is tried again after each of
   * these waits before it is ledgered as unreadable: an S3 outage is not damage.
   * Default 1, 5 and 15 minutes.
   */
  retryDelaysMs?: readonly number[];
}

/** One failure, as ledgered (`vault.object-failed`). */
export interface RollingFailure {
  key: string;
  sha256: string;
  size: number;
  code: 'OBJECT_MISSING' | 'OBJECT_SIZE_MISMATCH' | 'OBJECT_HASH_MISMATCH' | 'OBJECT_UNREADABLE';
  message: string;
}

interface Target {
  phase: RollingPhase;
  cursor: string;
  key: string;
  sha256: string;
  size: number;
}

const PAGE = 200;

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The objects the vault holds for the station and their bytes: live items' footage and
 * proxies, the catalog snapshots kept, the sealed segments (an object shared by several
 * items counts for each). One pass over live evidence: about 0.1 s per 100,000 items.
 */
export function vaultTotals(catalog: Catalog): { objects: number; bytes: number } {
  let objects = 0;
  let bytes = 0;
  for (const sql of TOTALS_SQL) {
    const r = catalog.db.prepare<[], { n: number; b: number | null }>(sql).get()!;
    objects += r.n;
    bytes += r.b ?? 0;
  }
  return { objects, bytes };
}

/** The rolling verification's state as last saved, or null when it never ran (metrics, `custody doctor`). */
export function readRollingVerifyState(catalog: Catalog): RollingVerifyState | null {
  const raw = catalog.getMeta(ROLLING_VERIFY_META_KEY);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as RollingVerifyState;
  } catch {
    return null;
  }
}

/**
 * The rolling deep verification (issue 20): re-hashes every object the vault holds for
 * a live item (its content and its browser-playable proxy), every catalog snapshot still
 * kept and every sealed ledger segment, spread over `periodDays`, never faster than `maxBytesPerSecond`. Where it is
 * is kept in the catalog, so a restart goes on where it stopped. A failure (missing,
 * wrong size, changed content, unreadable) is ledgered as `vault.object-failed` and
 * logged at error; the pass goes on. A pass that ends is ledgered as
 * `vault.rolling-verified`, and the next begins when the period is over.
 *
 * Pacing: the pass should have read `bytesDone` bytes `bytesDone / rate` seconds after it
 * began, where rate = bytesTotal / period (at most maxBytesPerSecond); the verifier
 * sleeps until then between objects, and within an object reads no faster than
 * maxBytesPerSecond. Behind schedule (a long stop), it reads at maxBytesPerSecond.
 */
export class RollingVerifier {
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private state: RollingVerifyState | null;

  constructor(private readonly deps: RollingVerifierDeps) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.state = readRollingVerifyState(deps.catalog);
  }

  /** Starts the loop in the background (no-op when periodDays is 0). */
  start(): void {
    if (this.loop || this.deps.periodDays <= 0) {
      if (this.deps.periodDays <= 0) this.deps.log.info('rolling verification is off (verification.rollingPeriodDays is 0)');
      return;
    }
    const ac = new AbortController();
    this.abort = ac;
    this.loop = this.run(ac.signal).catch((err: unknown) => {
      this.deps.log.error({ err }, `rolling verification stopped: ${errorMessage(err)}`);
    });
  }

  /** Stops after the object being read (its place is saved). */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.abort = null;
  }

  /** The state as last saved. */
  current(): RollingVerifyState | null {
    return this.state;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const st = this.state;
      if (st && st.phase === 'segments' && st.cursor === 'done') {
        // The pass is over: the next begins when its period has run out.
        const next = Date.parse(st.passStartedAt) + this.periodMs();
        const wait = next - this.now();
        if (wait > 0) await this.sleep(Math.min(wait, 2 ** 31 - 1), signal);
        if (signal.aborted) return;
        if (this.now() < next) continue;
        this.state = null;
      }
      await this.runPass(signal);
    }
  }

  /** One pass from where the saved state stands (or a new one) to its end, or until stopped. Exposed for tests. */
  async runPass(signal: AbortSignal = new AbortController().signal): Promise<RollingVerifyState> {
    const { catalog, log } = this.deps;
    let st = this.state;
    if (!st || (st.phase === 'segments' && st.cursor === 'done')) {
      const totals = this.totals();
      st = {
        passStartedAt: new Date(this.now()).toISOString(),
        phase: 'objects',
        cursor: null,
        objectsDone: 0,
        bytesDone: 0,
        bytesTotal: totals.bytes,
        objectsTotal: totals.objects,
        totalsAt: new Date(this.now()).toISOString(),
        failures: 0,
        lastPass: st?.lastPass ?? null,
      };
      this.state = st;
      this.save();
      log.info({ objects: totals.objects, bytes: totals.bytes, periodDays: this.deps.periodDays }, 'rolling verification: pass started');
    }
    const saveEvery = this.deps.saveEvery ?? { objects: 50, ms: 10_000 };
    let unsaved = 0;
    let savedAt = this.now();
    while (!signal.aborted) {
      const batch = this.nextTargets(st);
      if (batch.length === 0) {
        const next = ROLLING_PHASES[ROLLING_PHASES.indexOf(st.phase) + 1];
        if (next) {
          st.phase = next;
          st.cursor = null;
          continue;
        }
        break;
      }
      for (const t of batch) {
        this.recount(st);
        await this.waitForSchedule(st, signal);
        if (signal.aborted) break;
        let failure = await this.check(t, signal);
        for (const delay of this.deps.retryDelaysMs ?? [60_000, 300_000, 900_000]) {
          if (signal.aborted || failure?.code !== 'OBJECT_UNREADABLE') break;
          log.warn({ key: t.key, retryInMs: delay }, `rolling verification: ${failure.message}; trying again`);
          await this.sleep(delay, signal);
          if (!signal.aborted) failure = await this.check(t, signal);
        }
        if (signal.aborted && failure?.code === 'OBJECT_UNREADABLE') break; // cut short by stop: read again next time
        st.objectsDone++;
        st.bytesDone += t.size;
        st.phase = t.phase;
        st.cursor = t.cursor;
        if (failure) {
          st.failures++;
          this.recordFailure(failure);
        }
        unsaved++;
        if (unsaved >= saveEvery.objects || this.now() - savedAt >= saveEvery.ms || failure) {
          this.save();
          unsaved = 0;
          savedAt = this.now();
        }
      }
    }
    if (!signal.aborted) {
      const endedAt = new Date(this.now());
      const durationMs = endedAt.getTime() - Date.parse(st.passStartedAt);
      st.lastPass = { endedAt: endedAt.toISOString(), objects: st.objectsDone, bytes: st.bytesDone, failures: st.failures, durationMs };
      st.phase = 'segments';
      st.cursor = 'done';
      catalog.tx(() => {
        ledgerOf(catalog).append({
          type: 'vault.rolling-verified',
          actor: this.deps.actor,
          subject: null,
          data: { passStartedAt: st.passStartedAt, objects: st.objectsDone, bytes: st.bytesDone, failures: st.failures, durationMs },
        });
        this.save();
      });
      log.info({ objects: st.objectsDone, bytes: st.bytesDone, failures: st.failures, durationMs }, 'rolling verification: pass ended');
    } else {
      this.save();
    }
    return st;
  }

  private periodMs(): number {
    return this.deps.periodDays * 86_400_000;
  }

  private now(): number {
    return this.deps.catalog.clock.now().getTime();
  }

  private save(): void {
    if (this.state) this.deps.catalog.setMeta(ROLLING_VERIFY_META_KEY, JSON.stringify(this.state));
  }

  /** What the pass has to read, counted when it begins. */
  private totals(): { objects: number; bytes: number } {
    return vaultTotals(this.deps.catalog);
  }

  private nextTargets(st: RollingVerifyState): Target[] {
    const db = this.deps.catalog.db;
    const content = (phase: RollingPhase, rows: Array<{ cursor: string | number; sha256: string; size: number }>): Target[] =>
      rows.map((r) => ({ phase, cursor: String(r.cursor), key: contentKey(r.sha256), sha256: r.sha256, size: r.size }));
    switch (st.phase) {
      case 'objects':
        return content(
          'objects',
          db
            .prepare<[string, number], { cursor: string; sha256: string; size: number }>(
              "SELECT sha256 AS cursor, sha256, max(size) AS size FROM evidence WHERE status = 'live' AND sha256 > ? GROUP BY sha256 ORDER BY sha256 LIMIT ?",
            )
            .all(st.cursor ?? '', PAGE),
        );
      case 'proxies':
        return content(
          'proxies',
          db
            .prepare<[string, number], { cursor: string; sha256: string; size: number }>(
              `SELECT p.evidence_id AS cursor, p.proxy_sha256 AS sha256, p.size FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id
                WHERE p.evidence_id > ? AND p.status = 'ready' AND p.proxy_sha256 IS NOT NULL AND p.size IS NOT NULL AND e.status = 'live'
                ORDER BY p.evidence_id LIMIT ?`,
            )
            .all(st.cursor ?? '', PAGE),
        );
      case 'snapshots':
        return content(
          'snapshots',
          db
            .prepare<[number, number], { cursor: number; sha256: string; size: number }>(
              `SELECT seq AS cursor, json_extract(data, '$.sha256') AS sha256, json_extract(data, '$.size') AS size FROM ledger t
                WHERE type = 'catalog.snapshot-taken' AND seq > ?
                  AND NOT EXISTS (SELECT 1 FROM ledger d WHERE d.type = 'catalog.snapshot-deleted' AND json_extract(d.data, '$.sha256') = json_extract(t.data, '$.sha256'))
                ORDER BY seq LIMIT ?`,
            )
            .all(st.cursor === null ? 0 : Number(st.cursor), PAGE)
            .filter((r) => typeof r.sha256 === 'string' && typeof r.size === 'number'),
        );
      case 'segments':
        return db
          .prepare<[number, number], { first_seq: number; key: string; sha256: string; size: number }>(
            'SELECT first_seq, key, sha256, size FROM ledger_segments WHERE first_seq > ? ORDER BY first_seq LIMIT ?',
          )
          .all(st.cursor === null ? 0 : Number(st.cursor), PAGE)
          .map((r) => ({ phase: 'segments', cursor: String(r.first_seq), key: r.key, sha256: r.sha256, size: r.size }));
    }
  }

  /** Count what the pass has to read again once a day (footage ingested meanwhile is part of the pass's bytes). */
  private recount(st: RollingVerifyState): void {
    if (this.now() - Date.parse(st.totalsAt ?? st.passStartedAt) < 86_400_000) return;
    const totals = this.totals();
    st.bytesTotal = Math.max(st.bytesTotal, totals.bytes);
    st.objectsTotal = Math.max(st.objectsTotal, totals.objects);
    st.totalsAt = new Date(this.now()).toISOString();
  }

  /** Sleep until the schedule allows the next object (never when behind it). */
  private async waitForSchedule(st: RollingVerifyState, signal: AbortSignal): Promise<void> {
    const periodS = this.periodMs() / 1000;
    const rate = Math.min(this.deps.maxBytesPerSecond, st.bytesTotal / periodS);
    if (!(rate > 0)) return;
    const due = Date.parse(st.passStartedAt) + (st.bytesDone / rate) * 1000;
    const wait = due - this.now();
    if (wait > 0) await this.sleep(Math.min(wait, 2 ** 31 - 1), signal);
  }

  /** Re-hash one object at no more than maxBytesPerSecond; a failure, or null when it is intact. */
  private async check(t: Target, signal: AbortSignal): Promise<RollingFailure | null> {
    const { store } = this.deps;
    const fail = (code: RollingFailure['code'], message: string): RollingFailure => ({ key: t.key, sha256: t.sha256, size: t.size, code, message });
    let info;
    try {
      info = await store.stat(t.key);
    } catch (e) {
      return fail('OBJECT_UNREADABLE', `cannot check ${t.key}: ${errorMessage(e)}`);
    }
    if (!info) return fail('OBJECT_MISSING', `object ${t.key} is not in the vault`);
    if (info.size !== t.size) return fail('OBJECT_SIZE_MISMATCH', `object ${t.key} has ${info.size} bytes; the catalog records ${t.size}`);
    const h = createHash('sha256');
    const started = Date.now();
    let read = 0;
    try {
      const stream = await store.get(t.key);
      try {
        for await (const chunk of stream) {
          h.update(chunk as Buffer);
          read += (chunk as Buffer).length;
          // Within one object: no faster than the bound (a long clip is not read in one burst).
          const ahead = (read / this.deps.maxBytesPerSecond) * 1000 - (Date.now() - started);
          if (ahead > 5) await this.sleep(ahead, signal);
          if (signal.aborted) {
            stream.destroy();
            return fail('OBJECT_UNREADABLE', 'stopped');
          }
        }
      } finally {
        stream.destroy();
      }
    } catch (e) {
      return fail('OBJECT_UNREADABLE', `cannot read ${t.key}: ${errorMessage(e)}`);
    }
    const got = h.digest('hex');
    if (got !== t.sha256) return fail('OBJECT_HASH_MISMATCH', `object ${t.key} hashes to ${got}: its content was changed`);
    return null;
  }

  private recordFailure(f: RollingFailure): void {
    const { catalog, log, actor } = this.deps;
    log.error({ key: f.key, sha256: f.sha256, code: f.code }, `rolling verification: ${f.message}`);
    catalog.tx(() => {
      ledgerOf(catalog).append({ type: 'vault.object-failed', actor, subject: null, data: { ...f } });
    });
  }
}

/** Counts and bytes of each phase, for the schedule of a pass (and the vault's stored bytes in /metrics). */
export const TOTALS_SQL = [
  "SELECT count(*) AS n, sum(size) AS b FROM evidence WHERE status = 'live'",
  `SELECT count(*) AS n, sum(p.size) AS b FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id
    WHERE p.status = 'ready' AND p.proxy_sha256 IS NOT NULL AND p.size IS NOT NULL AND e.status = 'live'`,
  `SELECT count(*) AS n, sum(json_extract(data, '$.size')) AS b FROM ledger t
    WHERE type = 'catalog.snapshot-taken'
      AND NOT EXISTS (SELECT 1 FROM ledger d WHERE d.type = 'catalog.snapshot-deleted' AND json_extract(d.data, '$.sha256') = json_extract(t.data, '$.sha256'))`,
  'SELECT count(*) AS n, sum(size) AS b FROM ledger_segments',
];
