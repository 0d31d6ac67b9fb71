import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AccessRequests, Audit, SessionsService, UsersService } from './access/index.js';
import type { ApiCheckpoints, ApiServer, ApiServerDeps } from './api/index.js';
import type { ArchiveService, CaseSource } from './archive/index.js';
import type { SnapshotScheduler } from './backup/index.js';
import { Catalog, catalogPath } from './catalog/index.js';
import type { ComplianceReport, ComplianceRules, ComplianceScanner, AssignmentsService, FlagsService } from './compliance/index.js';
import type { Config } from './config/index.js';
import { ActivityBus, ConfigError, type Logger } from './core/index.js';
import type { DeviceDetection, DeviceRegistry, DockManager, DriverRegistry, ProfileSet, UsbBackend, UsbPreDock, UsbSeenRepo } from './devices/index.js';
import type { FollowUps, IngestService } from './ingest/index.js';
import type { JobRunner, JobStats } from './jobs/index.js';
import { LedgerSealer } from './ledger/index.js';
import type { MediaTools } from './media/index.js';
import { complianceOptions, healthThresholds, ingestOptions, jobRunnerSettings, purgeSettings } from './options.js';
import type { CheckpointService } from './proof/index.js';
import type { CasesService, ObjectLockSync, PurgeScheduler, PurgeService, RetentionView } from './retention/index.js';
import { type ObjectStore, openObjectStore } from './vault/index.js';

export interface StationOptions {
  /** Parsed once, frozen; nothing below reads process.env. */
  config: Config;
  log: Logger;
  /**
   * Who the ledger names for what the station's own services do unasked (flags the
   * rules raise, scheduled purges, docks): `custody:daemon`, `custody:api` for
   * `custody serve`, `cli:<os-user>` for a command.
   */
  actor: string;
  /** Open the catalog read-only (commands that only read). */
  readonlyCatalog?: boolean;
  /** Create the catalog when there is none (`custody init`, `custody ledger rebuild`); otherwise a missing one is a ConfigError. */
  createCatalog?: boolean;
  /** Share a bus with an embedding process (the demo); default: a new one. */
  activity?: ActivityBus;
  /** Recorder drivers by name; default: the built-in ones (docs/devices.md). */
  drivers?: DriverRegistry;
  /**
   * A catalog and store opened by the caller (tests with their own clock, embedding):
   * the station uses them instead of opening its own, and leaves closing them to the caller.
   */
  catalog?: Catalog;
  store?: ObjectStore;
  /** The host's USB bus, mount table and sysfs; default: the machine's own (see StationHost). */
  host?: StationHost;
  /**
   * Seal the ledger before each checkpoint (the daemon): a checkpoint then never covers
   * an entry the vault does not hold, so a station restored from the vault extends it.
   */
  sealBeforeCheckpoint?: boolean;
}

/**
 * What the station reads of the machine it runs on, for a process that embeds it and
 * brings its own (the end-to-end tests: a simulated USB bus and recorder, a mount
 * table and sysfs in a folder). Not reachable from the configuration or the
 * environment: the daemon and every command use the machine's own.
 */
export interface StationHost {
  /** The USB bus (node-usb's `usb` shape); default: libusb through `usb`. */
  usb?: UsbBackend;
  /** default /proc/self/mountinfo */
  mountInfoFile?: string;
  /** default /sys */
  sysRoot?: string;
  /** default /dev/bus/usb (its absence turns USB detection off, unless `usb` is given) */
  usbBusDir?: string;
}

/** Users, the audit trail and access requests (docs/api.md). */
export interface AccessServices {
  users: UsersService;
  audit: Audit;
  requests: AccessRequests;
  /** The console's sign-in sessions (issue 15). */
  sessions: SessionsService;
}

/** Assignments, flags and the rules that raise them, the scanner that runs them, and the report (docs/compliance.md). */
export interface ComplianceServices {
  assignments: AssignmentsService;
  flags: FlagsService;
  rules: ComplianceRules;
  /** Checks each ingested item, scans after every undock and every compliance.scanIntervalMinutes (once started). */
  scanner: ComplianceScanner;
  /** The compliance report for a period, with the configured zone and upload deadline. */
  report(range: { from: string; to: string; unit?: string | undefined; scopeUnit?: string | null | undefined }): ComplianceReport;
}

/** Cases and holds, the retention view, the purge and its daily schedule, S3 Object Lock (docs/retention.md). */
export interface RetentionServices {
  cases: CasesService;
  view: RetentionView;
  purge: PurgeService;
  /** The daily purge at retention.dailyAt; a run that changed the ledger is covered by a checkpoint (once started). */
  scheduler: PurgeScheduler;
  /** With S3 Object Lock on: keeps each object's lock and legal hold in step; else null. */
  objectLock: ObjectLockSync | null;
}

/** Recorder profiles and drivers, the dock manager, the USB pre-dock and detection (docs/devices.md). */
export interface DeviceServices {
  profiles: ProfileSet;
  drivers: DriverRegistry;
  docks: DockManager;
  preDock: UsbPreDock;
  /** Mounts, drop folders and USB: docks and undocks go to `docks`. */
  detection: DeviceDetection;
}

/** How the station's API is built: the server's own options (a clock for tests, the console's folder …), and what it serves. */
/** The recorders as the catalog knows them: the device registry (status, docks) and the USB devices seen. */
export interface RecorderServices {
  registry: DeviceRegistry;
  usbSeen: UsbSeenRepo;
}

export interface StationApiOptions extends Partial<Omit<ApiServerDeps, 'config' | 'catalog' | 'store' | 'log' | 'activity' | 'services'>> {
  /** Serve this checkpoint service's latest checkpoint (the daemon's); default: the vault's latest. */
  checkpoints?: ApiCheckpoints;
  /** Queue depth for /metrics; default: the station's job runner. */
  jobStats?: () => Promise<JobStats>;
}

/**
 * The station's services, each built once, on first use: a command builds only what
 * it needs (`custody verify` on a filesystem vault never loads fastify, the AWS SDK,
 * the compliance rules or the job runner). Each capability's module is imported when
 * its service is first asked for. The root maps the configuration to each service's
 * own options (src/options.ts).
 */
export interface Station {
  readonly config: Config;
  readonly log: Logger;
  readonly actor: string;
  readonly activity: ActivityBus;
  /** The catalog; a home that `custody init` did not set up is a ConfigError, never a new empty catalog. */
  catalog(): Catalog;
  /** The configured object store, opened (its `init()` is the caller's, with its start-up). */
  store(): Promise<ObjectStore>;
  /** Seals the ledger into the vault (ledger.segmentEntries per segment, every ledger.sealIntervalSeconds once started). */
  sealer(): Promise<LedgerSealer>;
  /** Signed checkpoints of the ledger with the station key (on a timer and after significant events, once started). */
  checkpoints(): Promise<CheckpointService>;
  /** Catalog snapshots into the vault: now (`custody backup`), or every backup.intervalHours and after a migration once started (docs/operations.md). */
  backups(): Promise<SnapshotScheduler>;
  access(): Promise<AccessServices>;
  compliance(): Promise<ComplianceServices>;
  retention(): Promise<RetentionServices>;
  /** Cases as the archival export reads them. */
  caseSource(): Promise<CaseSource>;
  /**
   * The archival export service. Its copies carry a checkpoint from `checkpoints()`;
   * while the station key cannot be read they carry none (warned), and the service is
   * built again at the next call, when the key may be readable.
   */
  archive(): Promise<ArchiveService>;
  /** The job runner jobs.redisUrl asks for (BullMQ or in-process); not started. */
  jobs(): Promise<JobRunner>;
  /** ffmpeg/ffprobe as media.* says. */
  media(): Promise<MediaTools>;
  /** Media follow-ups on the station's job runner. */
  followUps(): Promise<FollowUps>;
  /** The ingest service, its follow-ups queued after each session. */
  ingest(): Promise<IngestService>;
  /** Profiles, drivers, the dock manager and detection, wired together; nothing started. */
  devices(): Promise<DeviceServices>;
  /** The device registry and the USB devices seen (`custody devices`), without the dock manager. */
  recorders(): Promise<RecorderServices>;
  /** The HTTP API on the station's services; not started. Its options count at the first call. */
  api(opts?: StationApiOptions): Promise<ApiServer>;
  /** Close what the station opened: the store, then the catalog. Services with start/stop are their starter's to stop. */
  close(): Promise<void>;
}

/** A promise kept once it resolves; a rejection is forgotten, so the next call tries again. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let kept: Promise<T> | undefined;
  return () => {
    kept ??= make().catch((e: unknown) => {
      kept = undefined;
      throw e;
    });
    return kept;
  };
}

/** The composition root: see docs/architecture.md. Opens nothing until a service is asked for. */
export function buildStation(opts: StationOptions): Station {
  const { config, log, actor } = opts;
  const activity = opts.activity ?? new ActivityBus();
  let catalog: Catalog | undefined = opts.catalog;
  let store: Promise<ObjectStore> | undefined;

  const catalogOf = (): Catalog => {
    if (!catalog) {
      const file = catalogPath(config.home);
      if (!opts.createCatalog && !existsSync(file)) throw new ConfigError(`no custody home at ${config.home} (run: custody init --home ${config.home})`);
      catalog = Catalog.open(file, { readonly: opts.readonlyCatalog ?? false });
    }
    return catalog;
  };
  const storeOf = (): Promise<ObjectStore> => {
    store ??= (opts.store ? Promise.resolve(opts.store) : openObjectStore(config.vault, log)).catch((e: unknown) => {
      store = undefined;
      throw e;
    });
    return store;
  };

  const sealer = once(async () => {
    return new LedgerSealer({
      catalog: catalogOf(),
      store: await storeOf(),
      log: log.child({ module: 'sealer' }),
      segmentEntries: config.ledger.segmentEntries,
      sealIntervalSeconds: config.ledger.sealIntervalSeconds,
    });
  });

  const checkpoints = once(async () => {
    const { CheckpointService, keyHistory, loadStationSigner, witnessesFor } = await import('./proof/index.js');
    // A station restored without its key signs with a new one under the origin it kept (issue 20).
    const history = keyHistory(catalogOf());
    const signer = await loadStationSigner(config.home, config.checkpoints.origin, history);
    return new CheckpointService({
      catalog: catalogOf(),
      store: await storeOf(),
      signer,
      previousKeys: history.previous,
      ...(opts.sealBeforeCheckpoint ? { beforeIssue: async () => void (await (await sealer()).seal({ partial: true })) } : {}),
      log: log.child({ module: 'checkpoints' }),
      witnesses: witnessesFor(config.checkpoints.witnesses, config.home, signer.name),
      intervalSeconds: config.checkpoints.intervalSeconds,
    });
  });

  const backups = once(async () => {
    const { SnapshotScheduler } = await import('./backup/index.js');
    return new SnapshotScheduler({
      catalog: catalogOf(),
      store: await storeOf(),
      home: config.home,
      actor,
      log: log.child({ module: 'backup' }),
      intervalHours: config.backup.intervalHours,
      keepDaily: config.backup.keepDaily,
      keepWeekly: config.backup.keepWeekly,
      timezone: config.timezone,
    });
  });

  const access = once(async () => {
    const { AccessRequests, Audit, SessionsService, UsersService } = await import('./access/index.js');
    const c = catalogOf();
    return {
      users: new UsersService(c),
      audit: new Audit(c),
      requests: new AccessRequests({ catalog: c, grantDefaultHours: config.api.grantDefaultHours, grantMaxHours: config.api.grantMaxHours }),
      sessions: new SessionsService(c, { idleMinutes: config.api.sessionIdleMinutes, maxHours: config.api.sessionMaxHours }),
    };
  });

  const compliance = once(async (): Promise<ComplianceServices> => {
    const { ComplianceScanner, complianceReport, createCompliance } = await import('./compliance/index.js');
    const c = catalogOf();
    const settings = complianceOptions(config);
    const services = createCompliance({ catalog: c, settings, actor, activity });
    return {
      ...services,
      scanner: new ComplianceScanner({ rules: services.rules, activity, log: log.child({ module: 'compliance' }), intervalMinutes: config.compliance.scanIntervalMinutes }),
      report: (range) =>
        complianceReport(c, {
          ...range,
          timezone: settings.timezone,
          uploadDeadlineHours: settings.uploadDeadlineHours,
          maxClockDriftSeconds: settings.maxClockDriftSeconds,
          repairDeadlineHours: settings.repairDeadlineHours,
        }),
    };
  });

  const retention = once(async (): Promise<RetentionServices> => {
    const { CasesService, objectLockSyncFor, PurgeScheduler, PurgeService, RetentionView } = await import('./retention/index.js');
    const c = catalogOf();
    const s = await storeOf();
    const policy = purgeSettings(config);
    const purgeLog = log.child({ module: 'retention' });
    const purge = new PurgeService({ catalog: c, store: s, settings: policy, log: purgeLog });
    return {
      cases: new CasesService(c),
      view: new RetentionView(c, policy),
      purge,
      scheduler: new PurgeScheduler({
        purge,
        dailyAt: config.retention.dailyAt,
        timezone: config.timezone,
        clock: c.clock,
        log: purgeLog,
        actor,
        afterRun: async () => (await checkpoints()).issueIfGrown(),
      }),
      objectLock: objectLockSyncFor(s, { catalog: c, policy, log: purgeLog }),
    };
  });

  const caseSource = once(async () => {
    const { CaseSource } = await import('./archive/index.js');
    return new CaseSource(catalogOf().db);
  });

  let archiveKept: ArchiveService | undefined;
  const archive = async (): Promise<ArchiveService> => {
    if (archiveKept) return archiveKept;
    const { ArchiveService } = await import('./archive/index.js');
    const cp = await checkpoints().catch((err: unknown) => {
      log.warn({ err }, 'station key not readable: this export carries no checkpoint or inclusion proofs');
      return null;
    });
    const built = new ArchiveService({
      catalog: catalogOf(),
      store: await storeOf(),
      log: log.child({ module: 'archive' }),
      timezone: config.timezone,
      copies: config.archive.copies,
      sourceOrganization: config.archive.sourceOrganization,
      verifierKey: cp?.verifierKey ?? null,
      // A checkpoint signed now covers every entry the copies carry; another after
      // export.created covers the record of the export itself.
      checkpoint: async () => (cp ? ((await cp.issueIfGrown())?.checkpoint ?? null) : null),
      afterExport: async () => void (await cp?.issueIfGrown()),
      destinationRoots: config.archive.destinationRoots,
    });
    if (cp) archiveKept = built;
    return built;
  };

  const jobs = once(async () => {
    const { createJobRunner } = await import('./jobs/index.js');
    return createJobRunner({ settings: jobRunnerSettings(config), catalog: catalogOf(), log });
  });

  const media = once(async () => {
    const { MediaTools } = await import('./media/index.js');
    return MediaTools.fromConfig(config.media, log);
  });

  const followUps = once(async () => {
    const { createFollowUps } = await import('./ingest/index.js');
    return createFollowUps({
      catalog: catalogOf(),
      store: await storeOf(),
      log: log.child({ module: 'follow-ups' }),
      runner: await jobs(),
      media: await media(),
      thumbnailWidth: config.media.thumbnailWidth,
      maxAttempts: config.jobs.maxAttempts,
    });
  });

  const ingest = once(async () => {
    const { createIngestService } = await import('./ingest/index.js');
    return createIngestService({ ...ingestOptions(config), catalog: catalogOf(), store: await storeOf(), log: log.child({ module: 'ingest' }), followUps: await followUps() });
  });

  const devices = once(async (): Promise<DeviceServices> => {
    const { DeviceDetection, DockManager, DriverRegistry, findUsbDevice, loadProfiles, UsbPreDock, usbAttachHandler } = await import('./devices/index.js');
    const d = config.devices;
    const host = opts.host ?? {};
    const usbBus = host.usb;
    // GA/T 947.4 recorders are found on the station's USB bus (libusb, or the host's own).
    const gat947Usb = usbBus ? { findUsbDevice: (bus: number, address: number) => findUsbDevice(bus, address, usbBus) } : {};
    const files = { ...(host.mountInfoFile ? { mountInfoFile: host.mountInfoFile } : {}), ...(host.sysRoot ? { sysRoot: host.sysRoot } : {}) };
    // The profiles and drivers are checked before anything is opened.
    const profiles = loadProfiles(d.profilesFile ? resolve(config.home, d.profilesFile) : undefined);
    if (!profiles.get(d.dropProfile)) throw new ConfigError(`devices.dropProfile: no profile "${d.dropProfile}" in ${profiles.source}`);
    // GA/T 947.4 recorders over USB are read before their storage is mounted (UsbPreDock,
    // made once the catalog is open); the dock of the mount takes that reading.
    let preDock: UsbPreDock | null = null;
    let headerProbe: FollowUps['headerProbe'] | null = null;
    const drivers =
      opts.drivers ??
      new DriverRegistry({
        gat947: { zone: config.timezone, log, ...gat947Usb },
        // The embedded creation time of a recorder's newest video, for the drift estimate (read at dock time).
        creationTimeOf: async (file) => (await headerProbe!(file, AbortSignal.timeout(5000))).creationTime,
      });
    const noDriver = profiles.profiles.filter((p) => !drivers.has(p.driver)).map((p) => `profile ${p.id}: no driver "${p.driver}"`);
    if (noDriver.length > 0) throw new ConfigError(`recorder profiles ${profiles.source}: ${noDriver.join('; ')}`, noDriver);

    const c = catalogOf();
    headerProbe = (await followUps()).headerProbe;
    const docks = new DockManager({
      catalog: c,
      ingest: await ingest(),
      activity,
      profiles,
      thresholds: healthThresholds(config),
      syncClock: d.syncClock,
      dropProfile: d.dropProfile,
      log,
      drivers,
      actor,
      readings: { take: (usb) => preDock?.take(usb) ?? null },
    });
    preDock = new UsbPreDock({ profiles, catalog: c, log, gat947: { zone: config.timezone, ...gat947Usb }, syncClock: d.syncClock, actor, docks, ...files });
    const pre = preDock;
    const usbAttached = usbAttachHandler({ catalog: c, preDock, log: log.child({ module: 'devices' }), ...(host.sysRoot ? { sysRoot: host.sysRoot } : {}) });
    const detection = new DeviceDetection({
      mountRoots: d.mountRoots.map((p) => resolve(config.home, p)),
      dropFolders: d.dropFolders.map((p) => resolve(config.home, p)),
      dropSettleMs: d.dropSettleSeconds * 1000,
      mountWaitMs: d.mountWaitSeconds * 1000,
      rescanMs: d.rescanSeconds * 1000,
      usb: d.usb,
      statusFiles: profiles.statusFiles,
      isKnownUsb: (v, p) => profiles.byUsb(v, p) !== null,
      log,
      onDock: (cand) => docks.dock(cand),
      onUndock: (location, reason) => docks.undock(location, reason),
      onUsbAttach: (dev, atStart) => void usbAttached(dev, atStart),
      onUsbDetach: (dev) => pre.detached(dev),
      ...files,
      ...(host.usbBusDir ? { usbBusDir: host.usbBusDir } : {}),
      ...(usbBus ? { usbBackend: usbBus } : {}),
    });
    // A session that found its recorder gone before detection saw the mount go: whatever
    // is mounted there next is a new dock (issue 21).
    docks.on('undocked', (u: { location: string; reason: string }) => {
      if (u.reason === 'recorder-gone') detection.forget(u.location);
    });
    return { profiles, drivers, docks, preDock, detection };
  });

  const recorders = once(async (): Promise<RecorderServices> => {
    const { DeviceRegistry, UsbSeenRepo } = await import('./devices/index.js');
    const c = catalogOf();
    return { registry: new DeviceRegistry(c), usbSeen: new UsbSeenRepo(c.db) };
  });

  let apiOptions: StationApiOptions = {};
  let apiAsked = false;
  const api = once(async () => {
    const { createApiServer } = await import('./api/index.js');
    const [s, a, comp, ret, cases] = await Promise.all([storeOf(), access(), compliance(), retention(), caseSource()]);
    const { checkpoints: served, jobStats, ...server } = apiOptions;
    const runner = jobStats ? null : await jobs();
    return createApiServer({
      ...server,
      config,
      catalog: catalogOf(),
      store: s,
      log,
      activity,
      jobStats: jobStats ?? (() => runner!.stats()),
      services: {
        users: a.users,
        audit: a.audit,
        sessions: a.sessions,
        access: a.requests,
        cases: ret.cases,
        caseSource: cases,
        retention: ret.view,
        purge: ret.purge,
        compliance: { assignments: comp.assignments, flags: comp.flags, rules: comp.rules },
        objectLock: ret.objectLock,
        archive,
        checkpoints: served,
      },
    });
  });

  return {
    config,
    log,
    actor,
    activity,
    catalog: catalogOf,
    store: storeOf,
    sealer,
    checkpoints,
    backups,
    access,
    compliance,
    retention,
    caseSource,
    archive,
    jobs,
    media,
    followUps,
    ingest,
    devices,
    recorders,
    api(o = {}) {
      if (!apiAsked) apiOptions = o;
      apiAsked = true;
      return api();
    },
    async close() {
      const s = store;
      store = undefined;
      try {
        if (s && !opts.store) await (await s.catch(() => null))?.close();
      } finally {
        if (!opts.catalog) catalog?.close();
        catalog = undefined;
      }
    },
  };
}
