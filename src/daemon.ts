import { resolve } from 'node:path';
import { createApiServer, type ApiServer } from './api/index.js';
import type { Catalog } from './catalog/index.js';
import type { Config } from './config/index.js';
import { ActivityBus, ConfigError, errorMessage, type Logger } from './core/index.js';
import {
  DeviceDetection,
  DockManager,
  DriverRegistry,
  loadProfiles,
  UsbPreDock,
  usbAttachHandler,
  type ProfileSet,
} from './devices/index.js';
import { createFollowUps, ingestServiceFromConfig, type FollowUps, type IngestService } from './ingest/index.js';
import type { ObjectStore } from './vault/index.js';
import { buildStation } from './station.js';
import { CheckpointService, loadStationSigner, witnessesFor } from './proof/index.js';
import { ComplianceScanner, createCompliance } from './compliance/index.js';
import { objectLockSyncFor, PurgeScheduler, PurgeService, purgeSettings } from './retention/index.js';

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
}

export interface Daemon {
  readonly config: Config;
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
}

/**
 * The daemon: takes the catalog, the store and the ledger sealer from the station
 * (src/station.ts), builds the daemon's other services once from the configuration
 * and wires them together. Nothing is opened until `createDaemon` is called; nothing
 * runs until `start()`.
 */
export async function createDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { config } = opts;
  const log = opts.log;
  const station = buildStation({ config, log });
  const profiles = loadProfiles(config.devices.profilesFile ? resolve(config.home, config.devices.profilesFile) : undefined);
  if (!profiles.get(config.devices.dropProfile)) {
    throw new ConfigError(`devices.dropProfile: no profile "${config.devices.dropProfile}" in ${profiles.source}`);
  }
  // GA/T 947.4 recorders over USB are read before their storage is mounted (UsbPreDock,
  // made once the catalog is open); the dock of the mount is served from that reading.
  let preDock: UsbPreDock | null = null;
  const drivers =
    opts.drivers ??
    new DriverRegistry({
      gat947: { zone: config.timezone, log },
      readings: { take: (usb) => preDock?.take(usb) ?? null },
      // The embedded creation time of a recorder's newest video, for the drift estimate (read at dock time).
      creationTimeOf: async (file) => (await followUps.headerProbe(file, AbortSignal.timeout(5000))).creationTime,
    });
  const noDriver = profiles.profiles.filter((p) => !drivers.has(p.driver)).map((p) => `profile ${p.id}: no driver "${p.driver}"`);
  if (noDriver.length > 0) throw new ConfigError(`recorder profiles ${profiles.source}: ${noDriver.join('; ')}`, noDriver);

  const catalog = station.catalog();
  let store: ObjectStore;
  try {
    store = await station.store();
  } catch (e) {
    await station.close();
    throw e;
  }
  const activity = opts.activity ?? new ActivityBus();
  const followUps = await createFollowUps({ config, catalog, store, log: log.child({ module: 'follow-ups' }) });
  const sealer = await station.sealer();
  // Signed checkpoints of the ledger's Merkle tree (docs/proofs.md): on a timer, after
  // significant events, and a final one at a clean stop.
  const signer = await loadStationSigner(config.home, config.checkpoints.origin);
  const checkpoints = new CheckpointService({
    catalog,
    store,
    signer,
    log: log.child({ module: 'checkpoints' }),
    witnesses: witnessesFor(config.checkpoints.witnesses, config.home, signer.name),
    intervalSeconds: config.checkpoints.intervalSeconds,
  });
  const ingest = ingestServiceFromConfig(config, { catalog, store, log: log.child({ module: 'ingest' }), followUps });
  const docks = new DockManager({
    catalog,
    ingest,
    activity,
    profiles,
    thresholds: config.health,
    syncClock: config.devices.syncClock,
    dropProfile: config.devices.dropProfile,
    log,
    drivers,
    actor: DAEMON_ACTOR,
  });
  preDock = new UsbPreDock({ profiles, catalog, log, gat947: { zone: config.timezone }, syncClock: config.devices.syncClock, actor: DAEMON_ACTOR });
  const devicesLog = log.child({ module: 'devices' });
  const usbAttached = usbAttachHandler({ catalog, preDock, log: devicesLog });
  const detection = new DeviceDetection({
    mountRoots: config.devices.mountRoots.map((p) => resolve(config.home, p)),
    dropFolders: config.devices.dropFolders.map((p) => resolve(config.home, p)),
    dropSettleMs: config.devices.dropSettleSeconds * 1000,
    mountWaitMs: config.devices.mountWaitSeconds * 1000,
    rescanMs: config.devices.rescanSeconds * 1000,
    usb: config.devices.usb,
    statusFiles: profiles.statusFiles,
    isKnownUsb: (v, p) => profiles.byUsb(v, p) !== null,
    log,
    onDock: (c) => docks.dock(c),
    onUndock: (location, reason) => docks.undock(location, reason),
    onUsbAttach: (d, atStart) => void usbAttached(d, atStart),
  });
  // A session that found its recorder gone before detection saw the mount go: whatever
  // is mounted there next is a new dock (issue 21).
  docks.on('undocked', (u: { location: string; reason: string }) => {
    if (u.reason === 'recorder-gone') detection.forget(u.location);
  });

  // Compliance flags (docs/compliance.md): each item checked as it is ingested, a scan
  // after every undock and every compliance.scanIntervalMinutes.
  const compliance = createCompliance({ catalog, config, actor: DAEMON_ACTOR, activity });
  const complianceScanner = new ComplianceScanner({
    rules: compliance.rules,
    activity,
    log: log.child({ module: 'compliance' }),
    intervalMinutes: config.compliance.scanIntervalMinutes,
  });

  // The daily retention purge (docs/retention.md); a run that changed the ledger is
  // covered by a signed checkpoint at once.
  const purgeLog = log.child({ module: 'retention' });
  const purge = new PurgeService({ catalog, store, settings: purgeSettings(config), log: purgeLog });
  // The API uses the same compliance and purge services (one of each per process).
  const api = createApiServer({ config, catalog, store, log, activity, jobStats: () => followUps.runner.stats(), checkpoints, compliance, purge });
  const purgeScheduler = new PurgeScheduler({
    purge,
    dailyAt: config.retention.dailyAt,
    timezone: config.timezone,
    clock: catalog.clock,
    log: purgeLog,
    actor: DAEMON_ACTOR,
    afterRun: () => checkpoints.issueIfGrown(),
  });
  // With S3 Object Lock on, each ingested object is retained in the store until its retention date.
  const lockSync = objectLockSyncFor(store, { catalog, policy: purgeSettings(config), log: purgeLog });
  let lockFollower: { stop(): Promise<void> } | undefined;
  let apiAddress: { host: string; port: number; url: string } | null = null;

  const graceMs = config.devices.stopGraceSeconds * 1000;
  const components: Component[] = [
    {
      name: 'store',
      start: () => store.init(),
      stop: () => store.close(),
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
        log.info({ url: apiAddress.url, host: a.host, port: a.port }, 'HTTP API listening');
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
      stop: () => docks.stop(graceMs),
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
    catalog.close();
    if (failed) throw failed;
  };

  return {
    config,
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
