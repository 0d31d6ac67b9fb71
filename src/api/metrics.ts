import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityBus } from '../core/index.js';
import type { JobStats } from '../jobs/index.js';

export interface MetricsDeps {
  activity: ActivityBus;
  jobStats?: (() => Promise<JobStats>) | undefined;
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
