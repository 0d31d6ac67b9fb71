import type { Catalog } from '../catalog/index.js';
import { type Clock, type Logger, settledWithin, systemClock } from '../core/index.js';
import type { RecorderDriver } from '../devices/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { IngestSlots } from './slots.js';
import { CopyThreads } from './copy-threads.js';
import { IngestSession, type HeaderProbe, type IngestSettings, type SessionDeps, type SessionReport } from './session.js';

export interface IngestServiceDeps {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  settings: IngestSettings;
  /**
   * Files copied at once across every recorder, beyond the one each docked recorder may
   * always copy (see IngestSlots); also the most copy threads for small files the
   * sessions hold at once (see CopyThreads).
   */
  concurrency: number;
  probe?: HeaderProbe | undefined;
  clock?: Clock;
  /** Called once a session has committed evidence (queue probes and thumbnails). */
  afterSession?: ((report: SessionReport) => Promise<void>) | undefined;
  /** Told true when a first session starts and false when the last one ends (follow-ups wait meanwhile). */
  onBusy?: ((busy: boolean) => void) | undefined;
}

/**
 * Runs dock sessions, many recorders at once, under one bound on total I/O. Every
 * docked recorder may always copy one file (its first byte never waits behind other
 * recorders' files), `concurrency` bounds the copies beyond that, and a freed slot goes
 * to the recorder holding the fewest, so a rack of recorders makes fair progress.
 */
export class IngestService {
  private readonly slots: IngestSlots;
  private readonly copyThreads: CopyThreads;
  private readonly sessions = new Set<IngestSession>();
  private accepting = true;

  constructor(private readonly deps: IngestServiceDeps) {
    this.slots = new IngestSlots(deps.concurrency);
    this.copyThreads = new CopyThreads(deps.concurrency);
  }

  /**
   * Start a session; listen to its 'progress' and 'file' events, await `done`.
   * `snapshot`: identity and health the caller has read already (see SessionDeps).
   */
  start(
    driver: RecorderDriver,
    opts: { actor: string; snapshot?: SessionDeps['snapshot'] },
  ): { session: IngestSession; done: Promise<SessionReport> } {
    if (!this.accepting) throw new Error('ingest service is stopping');
    const session = new IngestSession(driver, {
      catalog: this.deps.catalog,
      store: this.deps.store,
      slots: this.slots.forSession(),
      copyThreads: this.copyThreads,
      log: this.deps.log,
      clock: this.deps.clock ?? systemClock,
      settings: this.deps.settings,
      probe: this.deps.probe,
      actor: opts.actor,
      snapshot: opts.snapshot,
    });
    this.sessions.add(session);
    if (this.sessions.size === 1) this.deps.onBusy?.(true);
    const forget = (): void => {
      if (this.sessions.delete(session) && this.sessions.size === 0) this.deps.onBusy?.(false);
    };
    // Forget a session the moment it ends, so a stop() that comes after its 'end' event
    // (a second stop, or one in the same tick) does not wait for an 'end' that has passed.
    session.once('end', forget);
    const done = session.run().finally(forget).then(async (report) => {
      if (report.ingested > 0 && this.deps.afterSession) {
        try {
          await this.deps.afterSession(report);
        } catch (e) {
          // Follow-up work is re-queued by the sweep for unprobed evidence; the evidence is safe.
          this.deps.log.error({ err: e, session: report.sessionId }, 'could not queue follow-up jobs');
        }
      }
      return report;
    });
    return { session, done };
  }

  /**
   * Whether the vault answers (an object looked up; missing is an answer). What a dock
   * paused by VAULT_UNAVAILABLE asks before it runs a new session.
   */
  async storeAvailable(): Promise<boolean> {
    try {
      await this.deps.store.stat(contentKey('0'.repeat(64)));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Does the vault answer and have room for `bytes` again (after VAULT_FULL)? A store
   * that cannot tell its free space (a bucket) has room once it answers: the next
   * session finds out.
   */
  async storeHasRoom(bytes: number): Promise<boolean> {
    if (!(await this.storeAvailable())) return false;
    const free = this.deps.store.freeBytes ? await this.deps.store.freeBytes().catch(() => null) : null;
    return free === null || free >= bytes;
  }

  async ingest(driver: RecorderDriver, opts: { actor: string }): Promise<SessionReport> {
    return this.start(driver, opts).done;
  }

  get active(): IngestSession[] {
    return [...this.sessions];
  }

  /** Copy threads the sessions hold now (a thread counts until it has ended). */
  get copyThreadsInUse(): number {
    return this.copyThreads.inUse;
  }

  /**
   * Stop intake; copies in flight get `graceMs` to finish, then are aborted (an
   * aborted copy leaves no object and no entry). A session still waiting on a recorder's
   * read `stragglerMs` after its abort (a read that never returns) is left behind, logged:
   * custody stops without it, as after a kill — its session is marked interrupted and its
   * copy in flight freed at the next start. Resolves with how many were left behind.
   */
  async stop(graceMs = 30_000, stragglerMs = STRAGGLER_MS): Promise<number> {
    this.accepting = false;
    const running = [...this.sessions];
    for (const s of running) s.stop({ path: '', code: 'SHUTDOWN', message: 'custody is stopping' }, 'graceful');
    const ended = new Set<IngestSession>();
    const all = Promise.all(running.map((s) => new Promise<void>((r) => s.once('end', () => r(void ended.add(s))))));
    if (await settledWithin(all, graceMs)) return 0;
    for (const s of running) s.stop({ path: '', code: 'SHUTDOWN', message: 'custody is stopping' }, 'abort');
    if (await settledWithin(all, stragglerMs)) return 0;
    const left = running.filter((s) => !ended.has(s)).map((s) => s.id);
    this.deps.log.warn(
      { sessions: left, waitedMs: graceMs + stragglerMs },
      "a recorder's read did not return after its copy was aborted: stopping without it; its session is marked interrupted and its copy in flight freed at the next start",
    );
    return left.length;
  }
}

/** How long a session may take to end after its abort before a stop goes on without it. */
export const STRAGGLER_MS = 10_000;
