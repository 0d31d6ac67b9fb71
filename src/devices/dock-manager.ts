import { EventEmitter } from 'node:events';
import { v7 as uuidv7 } from 'uuid';
import { type Catalog, EvidenceRepo } from '../catalog/index.js';
import { type ActivityBus, type DockPause, errorMessage, isCustodyError, type Logger, rfc3339, settledWithin } from '../core/index.js';
import { registerRecorder, STRAGGLER_MS, type IngestedItem, type IngestService, type IngestSession, type SessionProgress, type SessionReport } from '../ingest/index.js';
import type { DockCandidate, UndockReason } from './detection.js';
import { DeviceRepo } from './device-repo.js';
import type { RecorderDriver, RecorderHealth, RecorderIdentity } from './driver.js';
import { beforeMountRecord, clockSyncDecision, driftMethodOf, faultText, readingBeforeMount, sessionSkipReason, thresholdsFor } from './dock-steps.js';
import { DriverRegistry, type PriorReading } from './drivers.js';
import { assessHealth, type HealthAssessment, type HealthThresholds } from './health-check.js';
import type { ProfileSet, RecorderProfile } from './profiles.js';
import type { UsbDeviceInfo } from './sysfs.js';

/** A `usb` candidate without a reading (never made so): nothing was read. */
const NOTHING_READ: PriorReading = { identity: null, identifyError: null, health: null, healthError: null };
import { ledgerOf } from '../ledger/index.js';

export interface DockManagerDeps {
  catalog: Catalog;
  ingest: IngestService;
  activity: ActivityBus;
  profiles: ProfileSet;
  thresholds: HealthThresholds;
  /** Set the recorder's clock after a complete session, where the driver can. */
  syncClock: boolean;
  /** Profile for drop-folder entries that no status file identifies. */
  dropProfile: string;
  log: Logger;
  drivers?: DriverRegistry;
  /** Who the ledger says did it. */
  actor?: string;
  /**
   * What GA/T 947.4 recorders said over USB before their storage was mounted
   * (UsbPreDock), taken by the USB device behind a mount: that mount's dock is checked
   * from it, and its clock sync before the mount is kept on the dock row.
   */
  readings?: { take(usb: UsbDeviceInfo | null): PriorReading | null };
  /**
   * How long a recorder's read may go unanswered after its dock is gone (its session
   * aborted) before a later dock of the same recorder or place goes on without it, and
   * before a stop does. STRAGGLER_MS by default.
   */
  stragglerMs?: number;
}

/** How a dock ended, for the demo, tests and the API. */
export interface DockOutcome {
  dockId: string;
  location: string;
  profile: string;
  identity: RecorderIdentity | null;
  health: RecorderHealth | null;
  assessment: HealthAssessment;
  report: SessionReport | null;
  clockSyncedAt: string | null;
  /** Why no session ran (unidentified, stopping, pulled during the check). */
  skipped: string | null;
  /**
   * Why the dock failed, when it did: no driver could be made, or something could not
   * be recorded (a ledger append refused, the catalog not writable). What was recorded
   * before stands; the recorder is docked afresh when it comes back. Null otherwise.
   */
  failed: string | null;
}

/** What the driver read at the dock; a failure to read is kept as its message. */
interface RecorderReading {
  identity: RecorderIdentity | null;
  identifyError: string | null;
  health: RecorderHealth | null;
  healthError: string | null;
}

/** The pre-duty check: what was read, the thresholds used, the verdict, how the drift was found. */
interface DockCheck extends RecorderReading {
  thresholds: HealthThresholds;
  assessment: HealthAssessment;
  driftMethod: ReturnType<typeof driftMethodOf>;
}

interface ClockSync {
  syncedTo: Date | null;
  syncError: string | null;
}

interface Dock {
  id: string;
  candidate: DockCandidate;
  profile: RecorderProfile;
  log: Logger;
  serial: string | null;
  session: IngestSession | null;
  /** The recorder was removed (or its USB device went) while docked. */
  gone: UndockReason | null;
  /** What the recorder said over USB before its storage was mounted (a `usb` candidate's own reading, or taken by USB port). */
  prior: PriorReading | null;
  /** Set while the dock's check or session runs. */
  flow: Promise<void>;
  /** Resolves when the recorder goes (undock); its session is aborted then. */
  goneSince: Promise<void>;
  markGone: () => void;
  ended: boolean;
  /** The recorder went while its session was running. */
  midSession: boolean;
  /** The recorder went before its check and session were over (the board says "pulled"). */
  pulled: boolean;
  /** Its row has its undock time and its `device.undocked` entry. */
  closed: boolean;
  /** Set while its collection waits for the vault to answer again: ends the wait at once (undock, stop). */
  wake: (() => void) | null;
}

/** Waits between checks of a vault that went away: doubling from the first to the last. */
const VAULT_RETRY_FIRST_MS = 2_000;
const VAULT_RETRY_MAX_MS = 30_000;

/**
 * Turns docked recorders into ingest sessions: picks the model profile and driver,
 * runs the pre-duty health check (drift measured before any clock sync), records
 * the dock with its verdict (`device.docked`), ingests through the shared
 * IngestService, then syncs the clock (`device.clock-synced`) and records the
 * result. A recorder pulled mid-session has its session ended at once (copies in
 * flight are rolled back, never half-recorded) and is reported (`device.undocked`).
 *
 * Events: 'docked' (DockOutcome without report, once the check is recorded),
 * 'ended' (DockOutcome; every dock that got a profile ends with one, a failed one too,
 * its reason in `failed`), 'ignored' ({ location, reason }), 'undocked'.
 */
export class DockManager extends EventEmitter {
  /**
   * The dock at each location now. A dock leaves this map the moment its recorder goes,
   * so the same location can be docked again at once (a recorder plugged back in) while
   * the old dock still winds down in `leaving`.
   */
  private readonly docks = new Map<string, Dock>();
  private readonly leaving = new Set<Dock>();
  private readonly ignored = new Set<string>();
  /** Locations whose profile is being looked up (a status file read), so a repeated event does not dock twice. */
  private readonly resolving = new Set<string>();
  private readonly repo: DeviceRepo;
  private readonly evidence: EvidenceRepo;
  private readonly drivers: DriverRegistry;
  private readonly actor: string;
  private readonly log: Logger;
  private readonly stragglerMs: number;
  private accepting = false;

  constructor(private readonly deps: DockManagerDeps) {
    super();
    this.repo = new DeviceRepo(deps.catalog.db);
    this.evidence = new EvidenceRepo(deps.catalog.db);
    this.drivers = deps.drivers ?? new DriverRegistry();
    this.actor = deps.actor ?? 'custody:daemon';
    this.log = deps.log.child({ module: 'docks' });
    this.stragglerMs = deps.stragglerMs ?? STRAGGLER_MS;
    if (!deps.profiles.get(deps.dropProfile)) {
      throw new Error(`devices.dropProfile names ${deps.dropProfile}, which is not a profile in ${deps.profiles.source}`);
    }
  }

  start(): void {
    // Sessions a previous process left running ended with it; their files are redone
    // (ingest skips what was committed) when the recorder is docked again, as a new dock.
    const { catalog } = this.deps;
    const { interrupted, closed } = catalog.tx(() => {
      const interrupted = this.repo.markInterrupted();
      const open = this.repo.openDocks();
      const at = rfc3339(catalog.clock.now());
      for (const d of open) this.recordUndock(d.id, d.recorderSerial, d.location, 'custody-stopped', { midSession: d.sessionStatus === 'interrupted', pulled: false, sessionId: null }, at);
      return { interrupted, closed: open.length };
    });
    if (interrupted > 0) this.log.warn({ docks: interrupted }, 'dock sessions interrupted by the last stop; recorders still docked are docked again');
    if (closed > 0) this.log.info({ docks: closed }, 'docks left open by the last stop closed; recorders still docked are docked again');
    this.accepting = true;
  }

  /** Locations docked now, with their serial and whether a session runs. */
  active(): Array<{ dockId: string; location: string; serial: string | null; ingesting: boolean }> {
    return [...this.docks.values()].filter((d) => !d.gone).map((d) => ({ dockId: d.id, location: d.candidate.location, serial: d.serial, ingesting: d.session !== null && !d.ended }));
  }

  /** A candidate from detection (or a caller). Returns at once; the check and session run in the background. */
  dock(candidate: DockCandidate): void {
    if (!this.accepting) return;
    const location = candidate.location;
    if (this.docks.has(location) || this.ignored.has(location) || this.resolving.has(location)) return;
    this.resolving.add(location);
    void this.resolveProfile(candidate).then(
      (profile) => {
        // Undocked (or stopping) while the profile was looked up: nothing to do.
        if (!this.resolving.delete(location) || !this.accepting || this.docks.has(location)) return;
        if (!profile) {
          this.ignored.add(location);
          const usb = candidate.usb ? `${candidate.usb.vendorId.toString(16).padStart(4, '0')}:${candidate.usb.productId.toString(16).padStart(4, '0')}` : null;
          this.log.info({ location, usb }, 'not a known recorder model; ignored');
          this.emit('ignored', { location, reason: 'unknown model' });
          return;
        }
        const id = uuidv7();
        // The recorder that was at this location may still be winding down (a copy rolled
        // back, its row written): the new dock starts after it.
        const before = [...this.leaving].filter((d) => d.candidate.location === location);
        let markGone!: () => void;
        const goneSince = new Promise<void>((r) => (markGone = r));
        const dock: Dock = {
          id,
          candidate,
          profile,
          log: this.log.child({ dock: id, location }),
          serial: null,
          session: null,
          gone: null,
          prior: candidate.reading ?? this.deps.readings?.take(candidate.usb) ?? null,
          flow: Promise.resolve(),
          goneSince,
          markGone,
          ended: false,
          midSession: false,
          pulled: false,
          closed: false,
          wake: null,
        };
        this.docks.set(location, dock);
        // run() never rejects: a dock that fails ends with a failed 'ended' event.
        dock.flow = this.afterEarlier(dock, before).then(() => this.run(dock));
      },
      (e: unknown) => {
        this.resolving.delete(location);
        this.log.error({ err: e, location }, 'could not choose a profile for a docked device');
      },
    );
  }

  /**
   * Until each earlier dock (of the same place, or of the same recorder elsewhere) is
   * done: its flow ended, or — once its recorder is gone and its session aborted —
   * `stragglerMs` later, when a read of the pulled recorder never returns (a file
   * system that hangs). Then the later dock goes on beside it, logged, rather than
   * leave the recorder's footage uncollected for as long as the read hangs. What the
   * aborted session may still do when its read returns is harmless: its copies are
   * rolled back and it records no failure (IngestSession.fail); it wipes nothing it had
   * not begun to delete; a group commit already publishing finishes, and the catalog
   * keeps one item per recorder and content (IngestSession.commitGroup).
   */
  private async afterEarlier(dock: Dock, earlier: readonly Dock[]): Promise<void> {
    await Promise.all(
      earlier.map(async (d) => {
        const ended = await Promise.race([d.flow.then(() => true), d.goneSince.then(() => false)]);
        if (ended || (await settledWithin(d.flow, this.stragglerMs))) return;
        dock.log.warn(
          { serial: d.serial, earlierDock: d.id, earlierLocation: d.candidate.location, waitedMs: this.stragglerMs },
          "the recorder's earlier dock still waits on a read after it was pulled: going on without it (its copies in flight are rolled back)",
        );
      }),
    );
  }

  /** The dock's recorder is gone: said on the dock, and to later docks waiting on it (afterEarlier). */
  private setGone(dock: Dock, reason: UndockReason): void {
    dock.gone = reason;
    dock.markGone();
  }

  /** The recorder at `location` went away. A running session is ended at once. */
  undock(location: string, reason: UndockReason): void {
    this.ignored.delete(location);
    this.resolving.delete(location);
    const dock = this.docks.get(location);
    if (!dock || dock.gone) return;
    this.docks.delete(location);
    this.leaving.add(dock);
    this.setGone(dock, reason);
    dock.wake?.();
    if (!dock.ended) dock.pulled = true;
    if (dock.session && !dock.ended) {
      dock.midSession = true;
      dock.log.warn({ serial: dock.serial, reason }, 'recorder pulled mid-session: ending its session; copies in flight are rolled back');
      dock.session.stop({ path: '', code: 'RECORDER_GONE', message: `recorder ${location} was removed` }, 'abort', 'recorder-gone');
    }
    // The dock row is closed when its flow ends (at once when nothing is running).
    void dock.flow.then(() => {
      this.leaving.delete(dock);
      this.closeDock(dock);
    });
  }

  /**
   * Stop: no new docks; sessions stop taking files, copies in flight get `graceMs`
   * to finish, then are rolled back; dock rows are brought up to date. Resolves with how
   * many recorders' reads never returned and were left behind (see IngestService.stop).
   */
  async stop(graceMs: number): Promise<number> {
    this.accepting = false;
    for (const d of [...this.docks.values(), ...this.leaving]) d.wake?.();
    const sessionsLeft = await this.deps.ingest.stop(graceMs, this.stragglerMs);
    let leftBehind = sessionsLeft;
    // A dock still waiting on its recorder (a check whose read never returns) after
    // that is left behind, as after a kill: its row is closed below, and the recorder
    // is docked again at the next start.
    const flows = [...this.docks.values(), ...this.leaving];
    const settled = new Set<Dock>();
    if (!(await settledWithin(Promise.all(flows.map((d) => d.flow.then(() => void settled.add(d)))), this.stragglerMs))) {
      const left = flows.filter((d) => !settled.has(d)).map((d) => d.candidate.location);
      this.log.warn({ docks: left, waitedMs: this.stragglerMs }, "a recorder's read did not return: stopping without waiting for its dock; it is docked again at the next start");
      // A dock waits on its session: the reads left behind are the docks' (at least the sessions').
      leftBehind = Math.max(left.length, sessionsLeft);
    }
    // Recorders still docked are docked again, as new docks, when custody starts.
    for (const d of [...this.docks.values()]) {
      this.docks.delete(d.candidate.location);
      this.setGone(d, 'custody-stopped');
      if (d.session && !d.ended) d.midSession = true; // its session left behind, still waiting on a read
      this.closeDock(d);
    }
    return leftBehind;
  }

  private async resolveProfile(c: DockCandidate): Promise<RecorderProfile | null> {
    const { profiles } = this.deps;
    if (c.usb) {
      const p = profiles.byUsb(c.usb.vendorId, c.usb.productId);
      if (p) return p;
    }
    const byStatus = await profiles.byStatusFile(c.location);
    if (byStatus) return byStatus;
    // Someone put this folder into a drop folder on purpose.
    if (c.source === 'drop') return profiles.get(this.deps.dropProfile);
    return null;
  }

  /**
   * One dock, start to end: check → record → ingest → clock sync → record the outcome,
   * each its own method below. Every dock ends with an 'ended' event; when a step
   * throws (nothing may be recorded, a driver cannot be made) its `failed` says why.
   */
  private async run(dock: Dock): Promise<void> {
    const progress: { read: RecorderReading | null; check: DockCheck | null; outcome: DockOutcome | null } = { read: null, check: null, outcome: null };
    try {
      await this.steps(dock, progress);
    } catch (e) {
      dock.ended = true;
      const why = isCustodyError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
      dock.log.error({ err: e, serial: dock.serial }, `dock failed: ${why}`);
      this.emit('ended', { ...(progress.outcome ?? this.unannounced(dock, progress.read, progress.check)), failed: why } satisfies DockOutcome);
    }
  }

  /** The outcome of a dock that failed before its check was announced: what had been read, as assessed. */
  private unannounced(dock: Dock, read: RecorderReading | null, check: DockCheck | null): DockOutcome {
    const assessment =
      check?.assessment ??
      assessHealth(read?.health ?? null, thresholdsFor(dock.profile, this.deps.thresholds), {
        identified: read?.identity != null,
        recorderStatus: null,
        healthError: read?.healthError ?? null,
      });
    return {
      dockId: dock.id,
      location: dock.candidate.location,
      profile: dock.profile.id,
      identity: read?.identity ?? null,
      health: read?.health ?? null,
      assessment,
      report: null,
      clockSyncedAt: null,
      skipped: null,
      failed: null,
    };
  }

  private async steps(dock: Dock, progress: { read: RecorderReading | null; check: DockCheck | null; outcome: DockOutcome | null }): Promise<void> {
    // A `usb` candidate has no storage mounted: nothing to drive, its reading is all there is.
    const driver = dock.candidate.source === 'usb' ? null : this.driverFor(dock);

    // 1. Who is it, and how is it? Health first, before anything touches the clock.
    const read = driver ? await this.readRecorder(dock, driver) : readingBeforeMount(dock.prior ?? NOTHING_READ);
    progress.read = read;
    dock.serial = read.identity?.serial ?? null;
    // The same recorder may still be winding down at another location (pulled and put
    // into another slot before its old session ended): its session finishes first, so
    // two sessions never copy one recorder's files at once — unless the old one, aborted,
    // still waits on a read that does not return (see afterEarlier).
    const sameRecorder = dock.serial === null ? [] : [...this.docks.values(), ...this.leaving].filter((d) => d !== dock && d.serial === dock.serial && !d.ended);
    const check = this.assess(dock, read, driver);
    progress.check = check;

    // 2. Record the dock, its snapshot and verdict, with its ledger entry.
    const dockedAt = this.recordDock(dock, check);
    const outcome = this.announceDock(dock, check, dockedAt);
    progress.outcome = outcome;

    // 3. Ingest. Footage is collected whatever the verdict: a recorder that is not
    // ready for duty still holds evidence.
    const report = await this.ingest(dock, driver, check, sameRecorder, dockedAt, outcome);
    dock.ended = true;
    outcome.report = report;

    // 4. Clock sync: only after the drift is recorded and every file is in, because the
    // drift corrects the recorded times of files still on the recorder.
    const sync = await this.syncClock(dock, driver, report);

    // 5. Record how it went.
    this.recordOutcome(dock, check, report, sync, outcome);
    this.emit('ended', outcome);
  }

  /** The driver of the dock's profile; when none can be made nothing is recorded, and the dock fails. */
  private driverFor(dock: Dock): RecorderDriver {
    try {
      return this.drivers.create({ location: dock.candidate.location, profile: dock.profile, usb: dock.candidate.usb, prior: dock.prior });
    } catch (e) {
      throw new Error(`no driver for profile ${dock.profile.id}: ${errorMessage(e)}`, { cause: e });
    }
  }

  /** Identity and health as the driver reads them; a failure of either is kept as its message, never thrown. */
  private async readRecorder(dock: Dock, driver: RecorderDriver): Promise<RecorderReading> {
    let identity: RecorderIdentity | null = null;
    let identifyError: string | null = null;
    try {
      identity = await driver.identify();
    } catch (e) {
      identifyError = errorMessage(e);
      dock.log.warn({ err: e }, 'recorder could not be identified');
    }
    let health: RecorderHealth | null = null;
    let healthError: string | null = null;
    try {
      health = await driver.health();
    } catch (e) {
      healthError = isCustodyError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
      dock.log.warn({ err: e }, 'recorder health could not be read');
    }
    return { identity, identifyError, health, healthError };
  }

  /** The verdict on what was read, with the thresholds used and how the drift was found. */
  private assess(dock: Dock, read: RecorderReading, driver: RecorderDriver | null): DockCheck {
    const registered = read.identity ? this.repo.recorder(read.identity.serial) : null;
    const thresholds = thresholdsFor(dock.profile, this.deps.thresholds);
    const assessment = assessHealth(read.health, thresholds, {
      identified: read.identity !== null,
      recorderStatus: registered?.status ?? null,
      healthError: read.healthError,
      notAsked: driver?.notAsked ?? null,
      notMounted: dock.candidate.source === 'usb' ? (dock.prior?.notMounted ?? 'its storage was not mounted') : null,
    });
    return { ...read, thresholds, assessment, driftMethod: driftMethodOf(read.health, dock.profile) };
  }

  /** The recorder (first time: `recorder.registered`), the dock row with its snapshot and verdict, and `device.docked`, in one transaction; returns the dock time. */
  private recordDock(dock: Dock, check: DockCheck): string {
    const { catalog } = this.deps;
    const { identity, identifyError, health, healthError, assessment, thresholds, driftMethod } = check;
    const dockedAt = rfc3339(catalog.clock.now());
    catalog.tx(() => {
      if (identity) registerRecorder(catalog, this.evidence, identity, this.actor, dockedAt);
      this.repo.insertDock({
        id: dock.id,
        recorderSerial: identity?.serial ?? null,
        location: dock.candidate.location,
        dockedAt,
        batteryPercent: health?.batteryPercent ?? null,
        deviceClock: health?.deviceClock ? rfc3339(health.deviceClock) : null,
        clockDriftMs: health?.clockDriftMs ?? null,
        storageTotalBytes: health?.storageTotalBytes ?? null,
        storageFreeBytes: health?.storageFreeBytes ?? null,
        verdict: assessment.verdict,
        healthState: assessment.state,
        clockDriftMethod: driftMethod,
        identityConflicts: identity?.conflicts?.length ? identity.conflicts : null,
        reasons: assessment.reasons,
      });
      // A GA/T 947.4 USB recorder's clock is set before its mount (UsbPreDock, ledgered
      // then): the dock keeps that it was, or why not (a clock not set raises a flag).
      if (dock.prior?.clockSetTo) this.repo.setClockSynced(dock.id, rfc3339(dock.prior.clockSetTo));
      if (dock.prior?.clockError) this.repo.setClockSyncFailed(dock.id, faultText(dock.prior.clockError)!);
      ledgerOf(catalog).append({
        type: 'device.docked',
        actor: this.actor,
        subject: identity?.serial ?? null,
        data: {
          dockId: dock.id,
          location: dock.candidate.location,
          source: dock.candidate.source,
          profile: dock.profile.id,
          usb: dock.candidate.usb
            ? {
                vendorId: dock.candidate.usb.vendorId,
                productId: dock.candidate.usb.productId,
                serial: dock.candidate.usb.serial,
                product: dock.candidate.usb.product,
              }
            : null,
          identity: identity ?? null,
          identifyError,
          health: {
            batteryPercent: health?.batteryPercent ?? null,
            deviceClock: health?.deviceClock ? rfc3339(health.deviceClock) : null,
            clockDriftMs: health?.clockDriftMs ?? null,
            storageTotalBytes: health?.storageTotalBytes ?? null,
            storageFreeBytes: health?.storageFreeBytes ?? null,
            // How the drift was found: read, or estimated (with the estimate's workings).
            clockDriftMethod: driftMethod,
            clockEstimate: health?.clockEstimate ?? null,
            error: healthError,
          },
          verdict: assessment.verdict,
          state: assessment.state,
          reasons: assessment.reasons,
          thresholds: { ...thresholds },
          // Read over USB before the mount: when, the clock set, the switch to mass storage.
          beforeMount: dock.prior ? beforeMountRecord(dock.prior) : null,
        },
      });
    });
    return dockedAt;
  }

  /** Log the verdict, publish the dock and emit 'docked'; returns the outcome to fill in. */
  private announceDock(dock: Dock, check: DockCheck, dockedAt: string): DockOutcome {
    const { identity, health, assessment } = check;
    const logFields = {
      serial: dock.serial,
      profile: dock.profile.id,
      verdict: assessment.verdict,
      state: assessment.state,
      reasons: assessment.reasons.map((r) => r.code),
      batteryPercent: health?.batteryPercent ?? null,
      clockDriftMs: health?.clockDriftMs ?? null,
      storageFreeBytes: health?.storageFreeBytes ?? null,
    };
    if (assessment.state === 'ready') dock.log.info(logFields, 'recorder docked: ready for duty');
    else if (assessment.state === 'unchecked') {
      dock.log.warn(logFields, `recorder docked: UNCHECKED, counted as ${assessment.verdict === 'ready' ? 'ready' : 'not ready'} (${assessment.reasons.map((r) => r.message).join('; ')})`);
    } else dock.log.warn(logFields, `recorder docked: NOT ready (${assessment.reasons.map((r) => r.message).join('; ')})`);

    const outcome: DockOutcome = {
      dockId: dock.id,
      location: dock.candidate.location,
      profile: dock.profile.id,
      identity,
      health,
      assessment,
      report: null,
      clockSyncedAt: dock.prior?.clockSetTo ? rfc3339(dock.prior.clockSetTo) : null,
      skipped: null,
      failed: null,
    };
    this.publishDock(dock, null, dockedAt, check);
    this.emit('docked', { ...outcome });
    return outcome;
  }

  /** The live dock, with what the board shows of it (who it is issued to, what the check read), so no one need ask for it per dock. */
  private publishDock(dock: Dock, sessionId: string | null, dockedAt: string, check: DockCheck, paused: DockPause | null = null): void {
    const { assessment, health } = check;
    const registered = dock.serial ? this.repo.recorder(dock.serial) : null;
    this.deps.activity.publish({
      type: 'dock',
      dock: {
        dockId: dock.id,
        sessionId,
        serial: dock.serial,
        location: dock.candidate.location,
        dockedAt,
        verdict: assessment.verdict,
        state: assessment.state,
        reasons: assessment.reasons.map((r) => r.message),
        reasonDetails: assessment.reasons.map(({ code, message, params }) => ({ code, message, params })),
        officer: registered?.officer ?? null,
        unit: registered?.unit ?? null,
        batteryPercent: health?.batteryPercent ?? null,
        storageFreeBytes: health?.storageFreeBytes ?? null,
        clockDriftMs: health?.clockDriftMs ?? null,
        paused,
      },
    });
  }

  /**
   * The session, after the same recorder's earlier session has ended and once the
   * recorder is seen to be still there; null when none ran (the reason in `outcome.skipped`).
   */
  private async ingest(
    dock: Dock,
    driver: RecorderDriver | null,
    check: DockCheck,
    sameRecorder: readonly Dock[],
    dockedAt: string,
    outcome: DockOutcome,
  ): Promise<SessionReport | null> {
    const { identity, identifyError } = check;
    if (sameRecorder.length > 0) {
      dock.log.info({ serial: dock.serial }, 'waiting for the same recorder\'s earlier session to end');
      await this.afterEarlier(dock, sameRecorder);
    }
    // The recorder may have gone during the check before detection saw its mount go.
    if (driver && identity && !dock.gone && !(await driver.present())) {
      dock.log.warn({ serial: dock.serial }, 'recorder pulled during its pre-duty check');
      this.undock(dock.candidate.location, 'recorder-gone');
    }
    const notMounted = driver ? null : (dock.prior?.notMounted ?? 'its storage was not mounted');
    outcome.skipped = sessionSkipReason({ identified: identity !== null, identifyError, gone: dock.gone !== null, accepting: this.accepting, notMounted });
    if (!identity || !driver || outcome.skipped !== null) return null;
    // A session that paused for the vault (VAULT_UNAVAILABLE: an S3 endpoint down;
    // VAULT_FULL: its disk full) leaves the recorder docked and its files on it: the dock
    // shows the pause, waits for the vault to answer (and, when full, to have room for
    // the file that did not fit, twice over) and runs a new session, which skips what
    // was committed. The counts are the dock's, over its sessions.
    let taken: Pick<SessionReport, 'ingested' | 'bytes' | 'items'> = { ingested: 0, bytes: 0, items: [] };
    for (;;) {
      const report = await this.session(dock, driver, check, dockedAt, outcome);
      if (report) taken = { ingested: taken.ingested + report.ingested, bytes: taken.bytes + report.bytes, items: [...taken.items, ...report.items] };
      const merged = report ? { ...report, ...taken } : null;
      const code = report?.error?.code;
      if (report?.status !== 'paused' || (code !== 'VAULT_UNAVAILABLE' && code !== 'VAULT_FULL') || dock.gone || !this.accepting) return merged;
      if (!(await this.waitForVault(dock, driver, report, dockedAt, check))) return merged;
    }
  }

  private async session(dock: Dock, driver: RecorderDriver, check: DockCheck, dockedAt: string, outcome: DockOutcome): Promise<SessionReport | null> {
    const { identity, health } = check;
    if (!identity) return null;
    try {
      const { session, done } = this.deps.ingest.start(driver, { actor: this.actor, snapshot: { identity, health } });
      dock.session = session;
      this.publishDock(dock, session.id, dockedAt, check);
      session.on('progress', (p: SessionProgress) =>
        this.deps.activity.publish({
          type: 'progress',
          progress: {
            dockId: dock.id,
            serial: p.serial,
            filesDone: p.filesDone,
            filesTotal: p.filesTotal,
            bytesDone: p.bytesDone,
            bytesTotal: p.bytesTotal,
            rate: p.rate,
            etaSeconds: p.etaSeconds,
          },
        }),
      );
      session.on('file', (item: IngestedItem) =>
        this.deps.activity.publish({ type: 'ingested', dockId: dock.id, serial: identity.serial, evidenceId: item.evidenceId, sha256: item.sha256, size: item.size, path: item.path }),
      );
      return await done;
    } catch (e) {
      outcome.skipped = errorMessage(e);
      dock.log.error({ err: e }, 'ingest session could not run');
      return null;
    }
  }

  /**
   * The dock paused for the vault (its live state says so: `paused` with the code and
   * since when), checked again after 2, 4, 8 … at most 30 s. True once the vault answers
   * (VAULT_FULL: and has room for twice the file that did not fit); false when the
   * recorder went or custody stops first.
   */
  private async waitForVault(dock: Dock, driver: RecorderDriver, report: SessionReport, dockedAt: string, check: DockCheck): Promise<boolean> {
    const error = report.error!;
    const since = rfc3339(this.deps.catalog.clock.now());
    this.publishDock(dock, report.sessionId, dockedAt, check, { code: error.code, message: error.message, since });
    const full = error.code === 'VAULT_FULL';
    const need = full ? 2 * ((await driver.stat(error.path).catch(() => null))?.size ?? 0) : 0;
    dock.log.warn(
      { serial: dock.serial, code: error.code, ingested: report.ingested, ...(full ? { needBytes: need } : {}) },
      full
        ? 'vault full: collection paused, resumed when the vault has room again; nothing is wiped meanwhile'
        : 'vault unavailable: collection paused, resumed when the vault answers; nothing is wiped meanwhile',
    );
    for (let wait = VAULT_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, VAULT_RETRY_MAX_MS)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        dock.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      dock.wake = null;
      if (dock.gone || !this.accepting) return false;
      if (full ? await this.deps.ingest.storeHasRoom(need) : await this.deps.ingest.storeAvailable()) {
        dock.log.info({ serial: dock.serial, pausedSince: since }, full ? 'vault has room again: collection resumed' : 'vault answers again: collection resumed');
        return true;
      }
    }
  }

  /** Set the recorder's clock when clockSyncDecision allows; a failure is kept (recorded by recordOutcome), never thrown. */
  private async syncClock(dock: Dock, driver: RecorderDriver | null, report: SessionReport | null): Promise<ClockSync> {
    if (!driver) return { syncedTo: null, syncError: null };
    const decision = clockSyncDecision({
      report,
      syncClock: this.deps.syncClock,
      driverCanSync: driver.syncClock !== undefined,
      gone: dock.gone !== null,
      accepting: this.accepting,
    });
    if (decision === 'incomplete') {
      dock.log.info({ status: report!.status, failed: report!.failed }, 'clock not synced: files are still to be ingested with the measured drift');
    }
    if (decision !== 'sync') return { syncedTo: null, syncError: null };
    try {
      return { syncedTo: await driver.syncClock!(), syncError: null };
    } catch (e) {
      dock.log.warn({ err: e, serial: dock.serial }, 'recorder clock could not be set after a complete session');
      return { syncedTo: null, syncError: isCustodyError(e) ? `${e.code}: ${e.message}` : errorMessage(e) };
    }
  }

  /**
   * The session's status and counts on the dock row, the clock sync (or its failure)
   * with its ledger entry, in one transaction; then the undock event, and an undock
   * when the session saw the recorder go before detection did.
   */
  private recordOutcome(dock: Dock, check: DockCheck, report: SessionReport | null, sync: ClockSync, outcome: DockOutcome): void {
    const { catalog } = this.deps;
    const { identity, health } = check;
    const { syncedTo, syncError } = sync;
    catalog.tx(() => {
      if (report) this.repo.endSession(dock.id, { status: report.status, ingested: report.ingested, failed: report.failed, bytes: report.bytes });
      else this.repo.endSession(dock.id, { status: 'not-run', ingested: 0, failed: 0, bytes: 0 });
      if (syncedTo) {
        const at = rfc3339(catalog.clock.now());
        this.repo.setClockSynced(dock.id, at);
        outcome.clockSyncedAt = at;
        ledgerOf(catalog).append({
          type: 'device.clock-synced',
          actor: this.actor,
          subject: identity!.serial,
          data: {
            dockId: dock.id,
            // The drift measured at the dock, before this sync.
            clockDriftMsBefore: health?.clockDriftMs ?? null,
            deviceClockBefore: health?.deviceClock ? rfc3339(health.deviceClock) : null,
            setTo: rfc3339(syncedTo),
          },
        });
      }
      if (syncError !== null) {
        // Kept on the dock and in the ledger: the clock stays as it was, drift and all.
        this.repo.setClockSyncFailed(dock.id, syncError);
        ledgerOf(catalog).append({
          type: 'device.clock-sync-failed',
          actor: this.actor,
          subject: identity!.serial,
          data: { dockId: dock.id, clockDriftMsBefore: health?.clockDriftMs ?? null, error: syncError },
        });
      }
    });
    if (syncedTo) dock.log.info({ serial: dock.serial, clockDriftMsBefore: health?.clockDriftMs ?? null }, 'recorder clock set to the station clock');
    // A recorder whose storage was never mounted stays on the board (GET /docks, the
    // console) with its reasons until it is unplugged: closeDock says it went.
    if (dock.candidate.source !== 'usb') this.publishUndock(dock, report);
    if (report?.status === 'recorder-gone') {
      dock.log.warn({ serial: dock.serial, ingested: report.ingested }, 'session ended: the recorder was pulled; the rest is ingested at its next dock');
      // The session saw the recorder go before detection did: it is undocked now, so
      // the recorder is docked afresh when it comes back, wherever that is.
      if (!dock.gone) {
        dock.midSession = true;
        dock.pulled = true;
        this.undock(dock.candidate.location, 'recorder-gone');
      }
    }
  }

  /** The recorder is gone (or custody stops): close its dock row and say so in the ledger. */
  private closeDock(dock: Dock): void {
    if (dock.closed) return;
    dock.closed = true;
    const { catalog } = this.deps;
    const row = this.repo.dock(dock.id);
    if (!row) return; // never recorded (no driver)
    // The session may have noticed the recorder was gone before detection did.
    if (row.sessionStatus === 'recorder-gone') {
      dock.midSession = true;
      dock.pulled = true;
    }
    const reason = dock.gone ?? 'removed';
    try {
      catalog.tx(() =>
        this.recordUndock(dock.id, dock.serial, dock.candidate.location, reason, { midSession: dock.midSession, pulled: dock.pulled, sessionId: dock.session?.id ?? null }, rfc3339(catalog.clock.now())),
      );
    } catch (e) {
      dock.log.error({ err: e }, 'could not record the undock');
    }
    if (dock.candidate.source === 'usb') this.publishUndock(dock, null);
    this.emit('undocked', { dockId: dock.id, location: dock.candidate.location, serial: dock.serial, reason, midSession: dock.midSession, pulled: dock.pulled });
  }

  private publishUndock(dock: Dock, report: SessionReport | null): void {
    this.deps.activity.publish({
      type: 'undock',
      dockId: dock.id,
      serial: dock.serial,
      status: report?.status ?? 'not-run',
      ingested: report?.ingested ?? 0,
      failed: report?.failed ?? 0,
      bytes: report?.bytes ?? 0,
    });
  }

  /** The undock time and reason on the row, and `device.undocked`; inside a transaction. */
  private recordUndock(
    dockId: string,
    serial: string | null,
    location: string,
    reason: UndockReason,
    how: { midSession: boolean; pulled: boolean; sessionId: string | null },
    at: string,
  ): void {
    if (!this.repo.setUndocked(dockId, at, reason, how.pulled)) return;
    const row = this.repo.dock(dockId)!;
    ledgerOf(this.deps.catalog).append({
      type: 'device.undocked',
      actor: this.actor,
      subject: serial,
      data: {
        dockId,
        location,
        reason,
        midSession: how.midSession,
        pulled: how.pulled,
        sessionId: how.sessionId,
        sessionStatus: row.sessionStatus,
        ingested: row.filesIngested,
        failed: row.filesFailed,
        bytes: row.bytesIngested,
      },
    });
  }
}
