import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityBus } from '../core/index.js';
import type { JobStats } from '../jobs/index.js';
import type { StationFigures } from '../monitoring/index.js';

export interface MetricsDeps {
  activity: ActivityBus;
  jobStats?: (() => Promise<JobStats>) | undefined;
  /** The station's figures read from the catalog and the disks (src/monitoring), for config/alerts.yml. */
  figures?: (() => Promise<StationFigures>) | undefined;
}

/**
 * Prometheus metrics of this process, in a registry of its own (several servers may
 * live in one process, as in tests). Ingest and dock figures count the events this
 * process's ActivityBus carries, i.e. what the daemon did since it started.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly authFailures: Counter<'reason'>;
  readonly accessViews: Counter;
  readonly accessViewBytes: Counter;
  private readonly ingestFiles: Counter;
  private readonly ingestBytes: Counter;
  private readonly docksStarted: Counter;
  private readonly docksFinished: Counter<'status'>;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'custody_process_' });
    this.httpDuration = new Histogram({
      name: 'custody_api_request_duration_seconds',
      help: 'HTTP API latency by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.authFailures = new Counter({ name: 'custody_api_auth_failures_total', help: 'refused sign-ins by reason', labelNames: ['reason'], registers });
    this.accessViews = new Counter({ name: 'custody_access_views_total', help: 'footage responses registered as access.viewed', registers });
    this.accessViewBytes = new Counter({ name: 'custody_access_view_bytes_total', help: 'bytes of footage granted in access.viewed responses', registers });
    this.ingestFiles = new Counter({ name: 'custody_ingest_files_total', help: 'files ingested by this process', registers });
    this.ingestBytes = new Counter({ name: 'custody_ingest_bytes_total', help: 'bytes ingested by this process', registers });
    this.docksStarted = new Counter({ name: 'custody_dock_sessions_started_total', help: 'dock sessions started', registers });
    this.docksFinished = new Counter({
      name: 'custody_dock_sessions_finished_total',
      help: 'dock sessions finished, by final status',
      labelNames: ['status'],
      registers,
    });
    const activity = deps.activity;
    new Gauge({
      name: 'custody_docks_active',
      help: 'recorders docked with a session in progress',
      registers,
      collect() {
        this.set(activity.docks().length);
      },
    });
    const jobStats = deps.jobStats;
    if (jobStats) {
      new Gauge({
        name: 'custody_jobs',
        help: 'follow-up jobs by state (queue depth)',
        labelNames: ['state'],
        registers,
        async collect() {
          const s = await jobStats();
          for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) this.set({ state }, s[state]);
        },
      });
    }
    // A session that failed stands at 0 from the start, so increase() sees its first one.
    for (const status of ['failed', 'not-run', 'paused']) this.docksFinished.inc({ status }, 0);
    if (deps.figures) this.stationGauges(deps.figures, registers);
  }

  /**
   * Gauges of the station as the catalog and the disks show it (whichever process did
   * the work), each named by a rule of config/alerts.yml. One read of the figures per
   * scrape serves them all.
   */
  private stationGauges(figures: () => Promise<StationFigures>, registers: Registry[]): void {
    const gauge = <L extends string = never>(name: string, help: string, labelNames: L[], set: (g: Gauge<L>, f: StationFigures) => void): void => {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          set(this, await figures());
        },
      });
    };
    const ts = (g: Gauge, v: number | null | undefined): void => void g.set(v ?? 0);
    gauge('custody_home_filesystem_size_bytes', 'size of the filesystem holding the custody home (catalog)', [], (g, f) => ts(g, f.homeDisk?.size));
    gauge('custody_home_filesystem_free_bytes', 'bytes the custody user may still write on the filesystem holding the home', [], (g, f) => ts(g, f.homeDisk?.free));
    gauge('custody_vault_capacity_bytes', "the vault's capacity: its filesystem, or an S3 bucket's monitoring.vaultQuotaGb (0: not known)", [], (g, f) => ts(g, f.vaultDisk?.size));
    gauge('custody_vault_free_bytes', 'bytes the vault may still take (0 with capacity 0: not known)', [], (g, f) => ts(g, f.vaultDisk?.free));
    gauge('custody_vault_stored_bytes', 'bytes of the objects live items need (each once) and of the sealed ledger segments', [], (g, f) => ts(g, f.vaultStoredBytes));
    gauge('custody_flags_unresolved', 'compliance flags not resolved, by state (open, escalated)', ['state'], (g, f) => {
      g.set({ state: 'open' }, f.flags.open);
      g.set({ state: 'escalated' }, f.flags.escalated);
    });
    gauge('custody_ingest_last_timestamp_seconds', 'when the newest item was ingested (0: never)', [], (g, f) => ts(g, f.lastIngestAt));
    gauge('custody_catalog_snapshot_last_timestamp_seconds', 'when the newest catalog snapshot was taken (0: never)', [], (g, f) => ts(g, f.lastSnapshotAt));
    gauge('custody_purge_last_run_timestamp_seconds', 'when the newest purge run (not a dry run) finished (0: never)', [], (g, f) => ts(g, f.lastPurge?.finishedAt));
    gauge('custody_purge_last_run_refused', '1 when the newest purge run was refused (the vault did not verify, the clock jumped, too much would go)', [], (g, f) =>
      ts(g, f.lastPurge?.status === 'refused' ? 1 : 0),
    );
    const r = (f: StationFigures) => f.rolling;
    gauge('custody_verify_rolling_pass_started_timestamp_seconds', 'when the rolling deep verification began its current pass (0: never ran)', [], (g, f) =>
      ts(g, r(f) ? Date.parse(r(f)!.passStartedAt) / 1000 : 0),
    );
    gauge('custody_verify_rolling_progress_ratio', "the current pass's share of bytes re-hashed (1: the pass is over)", [], (g, f) => {
      const st = r(f);
      ts(g, !st ? 0 : st.phase === 'segments' && st.cursor === 'done' ? 1 : st.bytesTotal > 0 ? Math.min(1, st.bytesDone / st.bytesTotal) : 0);
    });
    gauge('custody_verify_rolling_objects_verified', 'objects re-hashed in the current pass', [], (g, f) => ts(g, r(f)?.objectsDone));
    gauge('custody_verify_rolling_bytes_verified', 'bytes re-hashed in the current pass', [], (g, f) => ts(g, r(f)?.bytesDone));
    gauge('custody_verify_rolling_failures', 'objects found missing, changed or unreadable in the current pass (ledgered as vault.object-failed)', [], (g, f) =>
      ts(g, r(f)?.failures),
    );
    gauge('custody_verify_rolling_last_pass_failures', 'objects that failed in the last pass that ended', [], (g, f) => ts(g, r(f)?.lastPass?.failures));
    gauge('custody_verify_rolling_last_pass_end_timestamp_seconds', 'when the last pass of the rolling deep verification ended (0: none yet)', [], (g, f) =>
      ts(g, r(f)?.lastPass ? Date.parse(r(f)!.lastPass!.endedAt) / 1000 : 0),
    );
  }

  start(): void {
    this.unsubscribe ??= this.deps.activity.subscribe((e) => {
      switch (e.type) {
        case 'ingested':
          this.ingestFiles.inc();
          this.ingestBytes.inc(e.size);
          break;
        case 'dock':
          this.docksStarted.inc();
          break;
        case 'undock':
          this.docksFinished.inc({ status: e.status });
          break;
        default:
          break;
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.registry.clear();
  }
}
