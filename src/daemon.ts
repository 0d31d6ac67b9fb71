import { type ApiServer } from './api/index.js';
import type { Catalog } from './catalog/index.js';
import type { Config } from './config/index.js';
import { type ActivityBus, errorMessage, type Logger } from './core/index.js';
import type { DeviceDetection, DockManager, DriverRegistry, ProfileSet } from './devices/index.js';
import type { FollowUps, IngestService } from './ingest/index.js';
import type { ObjectStore } from './vault/index.js';
import { RollingVerifier } from './monitoring/index.js';
import { buildStation, type Station, type StationHost } from './station.js';

/** Who the ledger says acted, for everything the daemon does on its own. */
export const DAEMON_ACTOR = 'custody:daemon';

/** A long-lived part of the daemon. Started in order; stopped in reverse. */
interface Component {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Parsed once, frozen; nothing below reads process.env. */
  config: Config;
  log: Logger;
  /** Share a bus with an embedding process (the demo); default: a new one. */
  activity?: ActivityBus;
  /**
   * Recorder drivers by name ("folder" is built in). Vendor drivers (GA/T 947.4)
   * register here and are chosen by the profiles that name them (docs/devices.md).
   */
  drivers?: DriverRegistry;
  /**
   * The machine's USB bus, mount table and sysfs as an embedding process gives them
   * (the end-to-end tests' simulated recorder); default: the machine's own. Not
   * reachable from the configuration or the environment.
   */
  host?: StationHost;
}

export interface Daemon {
  readonly config: Config;
  /** The composition root the daemon's services came from (src/station.ts). */
  readonly station: Station;
  readonly catalog: Catalog;
  readonly store: ObjectStore;
  readonly activity: ActivityBus;
  readonly docks: DockManager;
  readonly detection: DeviceDetection;
  readonly ingest: IngestService;
  readonly followUps: FollowUps;
  readonly profiles: ProfileSet;
  readonly api: ApiServer;
  /** Where the HTTP API listens, once started (api.port 0 picks a free port). */
  apiAddress(): { host: string; port: number; url: string } | null;
  /** Start everything; intake (detection) last. On a failure, what started is stopped again. */
  start(): Promise<void>;
  /**
   * Stop intake first, let copies in flight finish (or roll back after
   * devices.stopGraceSeconds), then jobs, HTTP, the ledger sealer (sealing the tail),
   * the store and the catalog. Safe to call more than once.
   */
  stop(): Promise<void>;
  /**
   * How many recorder reads the stop left behind, never returned (a hung card, a held
   * FUSE read): each holds one of Node's I/O threads, and the process cannot exit
   * normally until it returns (Node waits for its I/O threads at exit).
   */
  readsLeftBehind(): number;
}

/**
 * The daemon: takes every service from the station (src/station.ts), the composition
 * root, and runs them as components in order. Nothing is opened until `createDaemon`
 * is called; nothing runs until `start()`.
 */
export async function createDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { config } = opts;
  const log = opts.log;
  const station = buildStation({
    config,
    log,
    actor: DAEMON_ACTOR,
    // Its checkpoints cover only sealed entries, so a restore from the vault extends them (issue 20).
    sealBeforeCheckpoint: true,
    ...(opts.activity ? { activity: opts.activity } : {}),
    ...(opts.drivers ? { drivers: opts.drivers } : {}),
    ...(opts.host ? { host: opts.host } : {}),
  });
  const { activity } = station;
  let built;
  try {
    // Profiles and drivers first: a station whose recorder profiles do not hold
    // together fails before anything is opened.
    const devices = await station.devices();
    const catalog = station.catalog();
    const store = await station.store();
    // Signed checkpoints of the ledger's Merkle tree (docs/proofs.md): on a timer, after
    // significant events, and a final one at a clean stop.
    const checkpoints = await station.checkpoints();
    // Catalog snapshots into the vault: daily and after a migration (issue 20).
    const backups = await station.backups();
    const followUps = await station.followUps();
    const [sealer, ingest, compliance, retention] = await Promise.all([station.sealer(), station.ingest(), station.compliance(), station.retention()]);
    // The API uses the station's compliance and purge services (one of each per process)
    // and serves the daemon's own checkpoints.
    const api = await station.api({ checkpoints });
    built = { devices, catalog, store, checkpoints, backups, followUps, sealer, ingest, compliance, retention, api };
  } catch (e) {
    await station.close().catch(() => undefined);
    throw e;
  }
  const { devices, catalog, store, checkpoints, backups, followUps, sealer, ingest, compliance, retention, api } = built;
  const { docks, detection, profiles } = devices;
  const complianceScanner = compliance.scanner;
  const { scheduler: purgeScheduler, objectLock: lockSync } = retention;
  let lockFollower: { stop(): Promise<void> } | undefined;
  let apiAddress: { host: string; port: number; url: string } | null = null;

  const graceMs = config.devices.stopGraceSeconds * 1000;
  // The rolling deep verification (docs/operations.md): every object re-hashed over
  // verification.rollingPeriodDays at a bounded rate, resuming where it stopped.
  const rolling = new RollingVerifier({
    catalog,
    store,
    log: log.child({ module: 'verification' }),
    actor: DAEMON_ACTOR,
    periodDays: config.verification.rollingPeriodDays,
    maxBytesPerSecond: config.verification.rollingMaxMbPerSecond * 2 ** 20,
  });
  const components: Component[] = [
    {
      // Closed with the catalog by the station, after everything else has stopped.
      name: 'store',
      start: () => store.init(),
      stop: async () => undefined,
    },
    {
      name: 'sealer',
      start: async () => sealer.start(),
      stop: () => sealer.stop(),
    },
    {
      // Stopped after the docks, the API and the jobs, so its final checkpoint covers
      // their last entries.
      name: 'checkpoints',
      start: async () => checkpoints.start(),
      stop: () => checkpoints.stop(),
    },
    {
      // Stopped before the checkpoints and the sealer, so a snapshot's entry is sealed and signed.
      name: 'backups',
      start: async () => backups.start(),
      stop: () => backups.stop(),
    },
    {
      name: 'jobs',
      async start() {
        await followUps.runner.start();
        // Evidence committed just before a crash may never have had its follow-ups queued.
        const n = await followUps.sweep();
        if (n > 0) log.info({ items: n }, 'queued follow-up work left from before');
      },
      async stop() {
        await followUps.runner.stop({ deadlineMs: 10_000 });
        await followUps.close();
      },
    },
    {
      // Started before intake so docks are visible from the first one; stopped after
      // the docks and jobs (reverse order), before the sealer, store and catalog close.
      name: 'api',
      async start() {
        const a = await api.start();
        const host = a.host.includes(':') ? `[${a.host}]` : a.host;
        apiAddress = { ...a, url: `http://${host}:${a.port}` };
        log.info({ url: apiAddress.url, host: a.host, port: a.port, console: api.hasConsole ? `${apiAddress.url}/` : null }, 'HTTP API listening');
      },
      stop: () => api.stop(),
    },
    {
      name: 'retention',
      start: async () => {
        lockFollower = lockSync?.follow(activity);
        purgeScheduler.start();
      },
      // Waits for a purge run in progress (each item is one transaction; a run cut short resumes next time).
      stop: async () => {
        await lockFollower?.stop();
        await purgeScheduler.stop();
      },
    },
    {
      // Background reading at a bounded rate; stopped before the store closes, its place saved.
      name: 'verification',
      start: async () => rolling.start(),
      stop: () => rolling.stop(),
    },
    {
      // Before the docks, so it hears every ingest and undock; stopped after them, so
      // the last undock is still scanned.
      name: 'compliance',
      start: async () => complianceScanner.start(),
      stop: () => complianceScanner.stop(),
    },
    {
      name: 'docks',
      start: async () => docks.start(),
      // Stops intake of files; copies in flight finish or are rolled back within the grace.
      stop: async () => {
        leftBehind = await docks.stop(graceMs);
      },
    },
    {
      name: 'detection',
      start: () => detection.start(),
      stop: () => detection.stop(),
    },
  ];

  // Stopped in reverse: intake (detection, then docks: copies in flight finish or roll
  // back), HTTP, jobs, then the sealer, which seals every entry the others appended,
  // then the store; the catalog closes last.
  const started: Component[] = [];
  let stopping: Promise<void> | null = null;
  let leftBehind = 0;

  const stopAll = async (): Promise<void> => {
    let failed: unknown = null;
    for (const c of [...started].reverse()) {
      try {
        await c.stop();
        log.debug({ component: c.name }, 'stopped');
      } catch (e) {
        failed ??= e;
        log.error({ err: e, component: c.name }, `could not stop ${c.name} cleanly`);
      }
    }
    started.length = 0;
    try {
      await station.close();
    } catch (e) {
      failed ??= e;
      log.error({ err: e }, 'could not close the store cleanly');
    }
    if (failed) throw failed;
  };

  return {
    config,
    station,
    catalog,
    store,
    activity,
    docks,
    detection,
    ingest,
    followUps,
    profiles,
    api,
    apiAddress: () => apiAddress,
    readsLeftBehind: () => leftBehind,
    async start() {
      for (const c of components) {
        try {
          await c.start();
          started.push(c);
        } catch (e) {
          log.error({ err: e, component: c.name }, `could not start ${c.name}: ${errorMessage(e)}`);
          await stopAll().catch(() => undefined);
          throw e;
        }
      }
      log.info(
        { home: config.home, vault: store.location, jobs: followUps.runner.kind, profiles: profiles.profiles.map((p) => p.id), api: apiAddress?.url ?? null },
        'custody daemon started',
      );
    },
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

/**
 * Run the daemon as a process: start it, stop on SIGTERM or SIGINT, exit 0 when it
 * stopped cleanly. An uncaught error is logged and the process exits 1, for systemd
 * to restart it (interrupted sessions resume at the next dock).
 */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { log } = opts;
  const fatal = (kind: string) => (err: unknown) => {
    log.fatal({ err }, `${kind}: exiting`);
    log.flush();
    process.exit(1);
  };
  const onUncaught = fatal('uncaught exception');
  const onUnhandled = fatal('unhandled promise rejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);

  const daemon = await createDaemon(opts);
  let stopRequested: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((r) => (stopRequested = r));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now; copies in flight leave nothing behind and are redone at the next start');
      log.flush();
      process.exit(1);
    }
    log.info({ signal }, 'stopping: no new docks; copies in flight finish or roll back');
    stopRequested(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await daemon.start();
    await stopped;
    await daemon.stop();
    log.info('custody daemon stopped');
    const stuck = daemon.readsLeftBehind();
    if (stuck > 0) {
      // Everything is closed and sealed; only the threads of those reads are left, and
      // Node's exit waits for them for ever. Nothing is in flight: end the process.
      log.warn({ reads: stuck }, "a recorder's read never returned and holds the process: custody has closed everything and ends itself with SIGKILL");
      log.flush();
      process.kill(process.pid, 'SIGKILL');
    }
    return 0;
  } catch (e) {
    log.error({ err: e }, 'custody daemon failed');
    await daemon.stop().catch(() => undefined);
    throw e;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    log.flush();
  }
}
