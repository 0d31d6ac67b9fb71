import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type AccessRequests, type Audit, type DenialLedger, HiddenError, inScope, type Permission, type PreviewLedger, type Principal, type SessionsService, type UsersService } from '../access/index.js';
import type { Catalog, Evidence, EvidenceRepo } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { type ActivityBus, CustodyError, type Logger, NotFoundError } from '../core/index.js';
import type { ArchiveService, CaseSource, ExportJobs, ExportRecords } from '../archive/index.js';
import type { Compliance } from '../compliance/index.js';
import type { DeviceRegistry, UsbSeenRepo } from '../devices/index.js';
import type { SignedCheckpoint } from '../proof/index.js';
import type { CasesService, ObjectLockSync, PurgeService, RetentionView } from '../retention/index.js';
import type { ObjectStore } from '../vault/index.js';
import type { FailedAuthLimiter } from './auth.js';
import type { IntegrityReporter } from './integrity.js';
import type { ApiMetrics } from './metrics.js';
import type { DeviceQueries } from './queries/devices.js';
import type { EvidenceQueries } from './queries/evidence.js';
import type { SearchPool } from './queries/search-pool.js';
import type { StatsQueries } from './queries/stats.js';
import type { VerifyRunner } from './verify-runner.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every /api/v1 route; null elsewhere. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /**
     * What the route needs: a permission, "authenticated" (any valid user), or
     * "public" (no token). Every /api/v1 route must say; the server refuses to start
     * otherwise.
     */
    access?: Permission | 'authenticated' | 'public';
  }
}

/**
 * Everything the routes use, built once by createApiServer (or handed to it by the
 * daemon): no route builds a service, at registration or per request.
 */
export interface ApiContext {
  config: Config;
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  activity: ActivityBus;
  users: UsersService;
  /** Console sign-in sessions (issue 15). */
  sessions: SessionsService;
  /** Failed sign-ins per address (tokens, session cookies and passwords alike). */
  authLimiter: FailedAuthLimiter;
  access: AccessRequests;
  audit: Audit;
  evidence: EvidenceRepo;
  evidenceQueries: EvidenceQueries;
  /** Evidence searches, run in a thread of their own (search-pool.ts). */
  evidenceSearch: SearchPool;
  devices: DeviceQueries;
  /** Recorder status changes (ledgered) and the USB devices seen without a profile (issue 19). */
  deviceRegistry: DeviceRegistry;
  usbSeen: UsbSeenRepo;
  stats: StatsQueries;
  verify: VerifyRunner;
  metrics: ApiMetrics;
  /** Closers of open event streams, ended when the server stops. */
  streams: Set<() => void>;
  /** The daemon's checkpoint service, when there is one. */
  checkpoints: ApiCheckpoints | undefined;
  /** Refusals of identified users, coalesced per user, route and code per minute. */
  denials: DenialLedger;
  /** Previews served without a grant (api.previews), registered in batches. */
  previews: PreviewLedger;
  /** Objects whose size or hash is wrong: never served, reported in the ledger. */
  integrity: IntegrityReporter;
  cases: CasesService;
  /** Cases as the archival export reads them. */
  caseSource: CaseSource;
  retention: RetentionView;
  /** The daemon's purge service, when there is one (the same that runs the daily purge). */
  purge: PurgeService;
  /** The daemon's compliance services, when there is one; changes name the caller as actor. */
  compliance: Compliance;
  /** With S3 Object Lock on: extends an item's lock when a hold is placed; else null. */
  objectLock: ObjectLockSync | null;
  /**
   * The archival export service, built at the first export and kept (it needs the
   * station key, which is read then; an unreadable key is tried again next time).
   */
  archive(): Promise<ArchiveService>;
  /** Archival exports started through the API, run as jobs in this process (issue 19). */
  exportJobs: ExportJobs;
  /** What the ledger recorded of each export (labels, handover sheet, later checks). */
  exportRecords: ExportRecords;
}

/** A route module: a typed fastify plugin that receives the services it uses. */
export type ApiRoutes = FastifyPluginCallbackTypebox<ApiContext>;

/** What the API uses of the daemon's CheckpointService (issueIfGrown: after an export). */
export interface ApiCheckpoints {
  latest(): Promise<string | null>;
  issueIfGrown?(): Promise<{ checkpoint: SignedCheckpoint } | null>;
}

export const API_PREFIX = '/api/v1';

/** The caller of an authenticated route (the hook guarantees one). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new CustodyError('API_NO_PRINCIPAL', 'route reached without authentication');
  return req.principal;
}

/**
 * An evidence item the caller may see. Another unit's item answers exactly like a
 * missing one (404), and is recorded as a denial.
 */
export function visibleEvidence(ctx: ApiContext, p: Principal, id: string): Evidence {
  const ev = ctx.evidence.get(id);
  if (!ev) throw new NotFoundError('evidence', id);
  if (!inScope(p, ev.unit)) throw new HiddenError('evidence', id);
  return ev;
}

/** A request timestamp (already checked as RFC 3339 by the schema), normalised to UTC. */
export function isoParam(name: string, value: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new CustodyError('INVALID_INPUT', `${name} is not a valid date-time`);
  return d.toISOString();
}
