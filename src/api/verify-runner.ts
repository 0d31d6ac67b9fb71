import type { Catalog } from '../catalog/index.js';
import { ConflictError } from '../access/index.js';
import { scrub } from '../archive/index.js';
import { CustodyError, type Logger, rfc3339 } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import { ledgerOf, unclaimedOrNull, type UnclaimedKind, type VerifyProblem, type VerifyProgress, verifyVault } from '../ledger/index.js';

export interface VerifySummary {
  ok: boolean;
  deep: boolean;
  startedAt: string;
  finishedAt: string;
  startedBy: string;
  entries: number;
  objects: number;
  segments: number;
  unsealed: number;
  purged: number;
  bytesHashed: number;
  durationMs: number;
  /** The first problems found (at most 50); `problemCount` counts them all. */
  problems: VerifyProblem[];
  problemCount: number;
  /**
   * The vault's objects that no ledger entry names (kept, never a failure): how many, their
   * bytes, and the first of them with what their first bytes say they are; null for a run
   * recorded before they were counted, one that stopped before it counted them, or one
   * whose vault could not be listed.
   */
  unclaimed: { count: number; bytes: number; objects: Array<{ sha256: string; size: number; kind: UnclaimedKind }> } | null;
  /** Set when the run itself failed (the vault could not be read at all). */
  error: string | null;
}

/**
 * Where a run stands: a phase of verifyVault, then `unclaimed` while the vault is listed
 * against the ledger (done: objects listed so far; total 0, as a listing's size is not
 * known before it ends).
 */
export type RunProgress = Omit<VerifyProgress, 'phase'> & { phase: VerifyProgress['phase'] | 'unclaimed' };

export interface VerifyRunning {
  deep: boolean;
  startedAt: string;
  startedBy: string;
  progress: RunProgress | null;
}

export interface VerifyStatus {
  running: VerifyRunning | null;
  last: VerifySummary | null;
  /** A verification started through the API that a stop of the station ended before it was recorded. */
  interrupted: Omit<VerifyRunning, 'progress'> | null;
}

const META_KEY = 'api.verify.last';
/** The run in progress, kept until it is recorded: found at a later start, it was interrupted. */
const META_RUNNING = 'api.verify.running';
const KEEP_PROBLEMS = 50;

/**
 * Runs vault verifications started through the API, one at a time, in this process.
 * The last result is kept in the catalog (meta `api.verify.last`) so it survives a
 * restart, and each finished run is ledgered as `vault.verified`.
 */
/** How often a run's progress is told within one phase. */
const TELL_EVERY_MS = 500;

export class VerifyRunner {
  private running: VerifyRunning | null = null;
  private stopped = false;
  private task: Promise<void> | null = null;

  private lastTold = 0;
  private lastPhase = '';

  constructor(
    /** onChange: told when a run starts, moves on (a new phase, or every half second) and ends (the console follows it live). */
    private readonly deps: { catalog: Catalog; store: ObjectStore; log: Logger; onChange?: (status: VerifyStatus) => void },
  ) {}

  /** Tell the listener the status as it now stands; its failure is logged, never the run's. */
  private tell(force: boolean): void {
    if (!this.deps.onChange) return;
    const phase = this.running?.progress?.phase ?? '';
    const now = Date.now();
    if (!force && phase === this.lastPhase && now - this.lastTold < TELL_EVERY_MS) return;
    this.lastTold = now;
    this.lastPhase = phase;
    try {
      this.deps.onChange(this.status());
    } catch (err) {
      this.deps.log.warn({ err }, 'could not announce the verification');
    }
  }

  status(): VerifyStatus {
    return { running: this.running ? { ...this.running } : null, last: this.last(), interrupted: this.running ? null : this.interrupted() };
  }

  /** Start a verification in the background; 409 while one runs. */
  start(opts: { deep: boolean; actor: string }): VerifyRunning {
    if (this.running) throw new ConflictError('VERIFY_RUNNING', `a verification started at ${this.running.startedAt} is still running`);
    const { catalog, store, log } = this.deps;
    const run: VerifyRunning = { deep: opts.deep, startedAt: rfc3339(catalog.clock.now()), startedBy: opts.actor, progress: null };
    this.running = run;
    catalog.setMeta(META_RUNNING, JSON.stringify({ deep: run.deep, startedAt: run.startedAt, startedBy: run.startedBy }));
    this.task = (async () => {
      let summary: VerifySummary;
      try {
        const r = await verifyVault({
          catalog,
          store,
          deep: opts.deep,
          onProgress: (p) => {
            run.progress = p;
            this.tell(false);
          },
        });
        // The listing of a large vault (S3 above all) takes a while: the console says so.
        const listed = (done: number): void => {
          run.progress = { phase: 'unclaimed', done, total: 0 };
          this.tell(false);
        };
        listed(0);
        const unclaimed = await unclaimedOrNull({ db: catalog.db, store, limit: KEEP_PROBLEMS, log, onProgress: listed });
        summary = {
          ok: r.ok,
          deep: r.deep,
          startedAt: run.startedAt,
          finishedAt: rfc3339(catalog.clock.now()),
          startedBy: opts.actor,
          entries: r.entries,
          objects: r.objects,
          segments: r.segments,
          unsealed: r.unsealed,
          purged: r.purged,
          bytesHashed: r.bytesHashed,
          durationMs: r.durationMs,
          // Kept and shown to auditors: system messages and station paths stay in the log (issue 14).
          problems: r.problems.slice(0, KEEP_PROBLEMS).map((p) => ({ ...p, message: scrub(p.message) })),
          problemCount: r.problems.length + r.problemsOmitted,
          unclaimed: unclaimed && { count: unclaimed.count, bytes: unclaimed.bytes, objects: unclaimed.objects.map(({ sha256, size, kind }) => ({ sha256, size, kind })) },
          error: null,
        };
      } catch (e) {
        summary = {
          ok: false,
          deep: opts.deep,
          startedAt: run.startedAt,
          finishedAt: rfc3339(catalog.clock.now()),
          startedBy: opts.actor,
          entries: 0,
          objects: 0,
          segments: 0,
          unsealed: 0,
          purged: 0,
          bytesHashed: 0,
          durationMs: 0,
          problems: [],
          problemCount: 0,
          unclaimed: null,
          error: e instanceof CustodyError ? `${e.code}: ${scrub(e.message)}` : 'the verification stopped on a system error; see the log',
        };
        log.error({ err: e }, 'vault verification stopped');
      }
      // The server may have stopped (and the catalog closed) during a long deep run.
      if (this.stopped) return;
      try {
        catalog.tx(() => {
          catalog.setMeta(META_KEY, JSON.stringify(summary));
          catalog.setMeta(META_RUNNING, '');
          ledgerOf(catalog).append({
            type: 'vault.verified',
            actor: opts.actor,
            data: {
              ok: summary.ok,
              deep: summary.deep,
              entries: summary.entries,
              objects: summary.objects,
              segments: summary.segments,
              problems: summary.problemCount,
              ...(summary.unclaimed ? { unclaimed: summary.unclaimed.count } : {}),
              error: summary.error,
              durationMs: summary.durationMs,
            },
          });
        });
        log.info({ ok: summary.ok, deep: summary.deep, problems: summary.problemCount, durationMs: summary.durationMs }, 'vault verification finished');
      } catch (e) {
        log.error({ err: e }, 'could not record the verification result');
      } finally {
        this.running = null;
        this.tell(true);
      }
    })();
    this.tell(true);
    return { ...run };
  }

  /** Stop reporting; a running verification is left to finish unrecorded. */
  stop(): void {
    this.stopped = true;
  }

  /** For tests: resolves when the current run (if any) has been recorded. */
  async settled(): Promise<void> {
    await this.task;
  }

  private interrupted(): VerifyStatus['interrupted'] {
    const raw = this.deps.catalog.getMeta(META_RUNNING);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as VerifyStatus['interrupted'];
    } catch {
      return null;
    }
  }

  private last(): VerifySummary | null {
    const raw = this.deps.catalog.getMeta(META_KEY);
    if (raw === null) return null;
    try {
      const last = JSON.parse(raw) as Omit<VerifySummary, 'unclaimed'> & { unclaimed?: VerifySummary['unclaimed'] };
      return { ...last, unclaimed: last.unclaimed ?? null };
    } catch {
      return null;
    }
  }
}
