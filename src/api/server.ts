import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import formatsModule from 'ajv-formats';
import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { AccessDeniedError, can, DenialLedger, HiddenError, PreviewLedger } from '../access/index.js';
import { EvidenceRepo, type Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { type ActivityBus, CustodyError, errorMessage, type Logger } from '../core/index.js';
import type { JobStats } from '../jobs/index.js';
import type { ObjectStore } from '../vault/index.js';
import { FailedAuthLimiter, createAuthenticator, redactUrl, tokenInUrl } from './auth.js';
import { API_PREFIX, type ApiContext } from './context.js';
import { toHttpError } from './errors.js';
import { IntegrityReporter } from './integrity.js';
import { ApiMetrics } from './metrics.js';
import { stationFigures } from '../monitoring/index.js';
import { DeviceRegistry, UsbSeenRepo } from '../devices/index.js';
import { DeviceQueries } from './queries/devices.js';
import { EvidenceQueries } from './queries/evidence.js';
import { SearchPool } from './queries/search-pool.js';
import { StatsQueries } from './queries/stats.js';
import { accessRequestRoutes } from './routes/access-requests.js';
import { caseRoutes } from './routes/cases.js';
import { complianceRoutes } from './routes/compliance.js';
import { deviceRoutes } from './routes/devices.js';
import { evidenceRoutes } from './routes/evidence.js';
import { exportRoutes } from './routes/exports.js';
import { flagRoutes } from './routes/flags.js';
import { healthRoutes } from './routes/health.js';
import { ledgerRoutes } from './routes/ledger.js';
import { retentionRoutes } from './routes/retention.js';
import { sessionRoutes } from './routes/session.js';
import { statsRoutes } from './routes/stats.js';
import { userRoutes } from './routes/users.js';
import { ExportJobs, ExportRecords } from '../archive/index.js';
import { VerifyRunner } from './verify-runner.js';
import { DEFAULT_CONSOLE_DIR, isPageRequest, serveConsole } from './console.js';


/**
 * The station's services the routes use, built once by the composition root
 * (src/station.ts) and handed in: the server builds none of them.
 */
export type ApiServices = Pick<ApiContext, 'users' | 'audit' | 'sessions' | 'access' | 'cases' | 'caseSource' | 'retention' | 'purge' | 'compliance' | 'objectLock' | 'archive' | 'checkpoints'>;

export interface ApiServerDeps {
  config: Config;
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  activity: ActivityBus;
  /** Queue depth for /metrics (the daemon passes its job runner's stats). */
  jobStats?: (() => Promise<JobStats>) | undefined;
  /** Milliseconds clock for the failed sign-in windows (tests move it). */
  now?: () => number;
  /** The station's services (src/station.ts). */
  services: ApiServices;
  /** The built console's folder (default: the package's dist/console); none there, no console. */
  consoleDir?: string | undefined;
}

export interface ApiServer {
  app: ApiApp;
  /** Listen on api.host:api.port (port 0: any free port); resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /** Stop taking requests, end event streams, let requests in flight finish (bounded), close. */
  stop(): Promise<void>;
  /** The services behind the routes (for the daemon and tests). */
  readonly context: ApiContext;
  /** Whether the web console is built and served at `/`. */
  readonly hasConsole: boolean;
}

/** Request bodies are small JSON documents. */
const BODY_LIMIT = 64 * 1024;
const SWEEP_INTERVAL_MS = 60_000;
const CLOSE_GRACE_MS = 10_000;
const DAY_MS = 86_400_000;

// ajv-formats is CommonJS with an ES default export in its typings.
const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as (ajv: Ajv) => Ajv;

/** What a refusal was about (an item, case or request id), when its error names one. */
function subjectOf(err: unknown): string | null {
  const s = err instanceof CustodyError ? (err as { subject?: unknown }).subject : undefined;
  return typeof s === 'string' ? s : null;
}

function frameworkError(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
  const bad = tooLong || err.code === 'FST_ERR_BAD_URL';
  void reply
    .code(tooLong ? 414 : bad ? 400 : 500)
    .header('cache-control', 'no-store')
    .send({
      error: bad
        ? { code: tooLong ? 'URI_TOO_LONG' : 'BAD_REQUEST', message: tooLong ? 'a path parameter is too long' : 'the URL is not validly encoded' }
        : { code: 'INTERNAL', message: 'internal error' },
    });
}

function buildFastify(deps: ApiServerDeps) {
  return Fastify({
    loggerInstance: deps.log.child({ module: 'api' }),
    // Requests are logged once each by the onResponse hook, without headers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // X-Forwarded-For only from the configured proxies (issue 14); from anyone else the peer counts.
    trustProxy: deps.config.api.trustedProxies.length > 0 ? [...deps.config.api.trustedProxies] : false,
    // Request ids are ours, never taken from the client.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    // Errors the router raises before any route or hook runs (a URL that does not
    // decode, an over-long parameter): same error shape as everything else.
    frameworkErrors: frameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();
}

export type ApiApp = ReturnType<typeof buildFastify>;

/**
 * Validators: query strings and path parameters are text, so they are coerced to the
 * schema's types ("?limit=10"); bodies are JSON and are not (a number where a string
 * is expected is a 400, not a silent conversion). Unknown properties are refused
 * everywhere rather than dropped, so a misspelt filter is an error, not a wider search.
 */
function validators(): { text: Ajv; json: Ajv } {
  const base = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
  const text = new Ajv({ ...base, coerceTypes: 'array' });
  const json = new Ajv({ ...base, coerceTypes: false });
  addFormats(text);
  addFormats(json);
  return { text, json };
}

/**
 * The HTTP API: fastify on api.host:api.port. See docs/api.md.
 *
 * Invariants:
 * - Every /api/v1 route declares what it needs (`config.access`); the server refuses
 *   to build a route that does not.
 * - Authentication runs before the body is read; a refused caller never gets a 400.
 * - Errors become HTTP only in the error handler (errors.ts); 5xx never show internals.
 * - Every refusal of an identified user is ledgered (access.denied); every refusal of
 *   an unidentified one is recorded in auth_failures.
 */
export function createApiServer(deps: ApiServerDeps): ApiServer {
  const { config, catalog, store, log, activity } = deps;
  const apiLog = log.child({ module: 'api' });
  const evidenceQueries = new EvidenceQueries(catalog.db);
  const metrics = new ApiMetrics({ activity, jobStats: deps.jobStats, figures: stationFigures({ config, catalog }) });
  const { users, audit } = deps.services;
  const limiter = new FailedAuthLimiter({
    limit: config.api.authFailureLimit,
    windowMs: config.api.authFailureWindowSeconds * 1000,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const denials = new DenialLedger(audit, {
    windowMs: 60_000,
    now: deps.now ?? (() => Date.now()),
    onError: (e) => apiLog.error({ err: e }, 'could not ledger repeated denied requests'),
  });
  const ctx: ApiContext = {
    config,
    catalog,
    store,
    log: apiLog,
    activity,
    users,
    sessions: deps.services.sessions,
    authLimiter: limiter,
    audit,
    access: deps.services.access,
    evidence: new EvidenceRepo(catalog.db),
    evidenceQueries,
    evidenceSearch: new SearchPool(catalog.db, evidenceQueries, apiLog),
    devices: new DeviceQueries(catalog.db),
    deviceRegistry: new DeviceRegistry(catalog),
    usbSeen: new UsbSeenRepo(catalog.db),
    stats: new StatsQueries(catalog.db, config.compliance.uploadDeadlineHours),
    verify: new VerifyRunner({ catalog, store, log: apiLog, onChange: (status) => activity.publish({ type: 'verify', status: { ...status } }) }),
    metrics,
    streams: new Set(),
    checkpoints: deps.services.checkpoints,
    denials,
    previews: new PreviewLedger(catalog, { windowMs: 60_000, now: deps.now ?? (() => Date.now()) }),
    integrity: new IntegrityReporter(catalog, apiLog),
    cases: deps.services.cases,
    caseSource: deps.services.caseSource,
    retention: deps.services.retention,
    purge: deps.services.purge,
    compliance: deps.services.compliance,
    objectLock: deps.services.objectLock,
    archive: deps.services.archive,
    exportJobs: new ExportJobs({
      catalog,
      archive: deps.services.archive,
      log: apiLog.child({ module: 'export-jobs' }),
      copies: config.archive.copies,
      onChange: (job) => activity.publish({ type: 'export', unit: job.caseUnit, job: { ...job } }),
    }),
    exportRecords: new ExportRecords(catalog, store),
  };
  const authenticator = createAuthenticator({ users, sessions: ctx.sessions, audit, limiter, metrics, log: apiLog });

  const app = buildFastify(deps);
  const { text, json } = validators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema));
  // Bodies are JSON only; anything else is 415.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path;
    if (url.startsWith(API_PREFIX) && route.config?.access === undefined) {
      throw new Error(`route ${route.method} ${url} does not declare config.access`);
    }
  });

  // Before authentication: a token in the URL is refused, and never looked up, stored
  // or logged as it is (issue 14).
  app.addHook('onRequest', async (req) => {
    if (tokenInUrl(req.url)) {
      throw new CustodyError(
        'TOKEN_IN_URL',
        'tokens are accepted only in the Authorization header (Bearer); a token sent in a URL may be exposed in logs: have it re-issued',
      );
    }
  });

  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    const principal = authenticator.authenticate(req);
    req.principal = principal;
    if (access !== 'authenticated' && !can(principal, access)) {
      throw new AccessDeniedError(
        'FORBIDDEN',
        principal.unit !== null && (access === 'ledger.read' || access === 'ledger.verify')
          ? 'the ledger spans every unit: a unit-scoped user may not read it'
          : `role ${principal.role} may not do this (needs ${access})`,
      );
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    void reply.header('x-request-id', req.id).header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    apiLog.info(
      { reqId: req.id, method: req.method, route, url: redactUrl(req.url).slice(0, 512), status: reply.statusCode, ms: Math.round(reply.elapsedTime), user: req.principal?.id },
      'request',
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const h = toHttpError(err);
    if (h.status >= 500) req.log.error({ err, reqId: req.id }, 'request failed');
    const p = req.principal;
    // Every refusal of an identified user (any 403, and out-of-scope answered as 404)
    // is ledgered; identical ones are coalesced per minute (DenialLedger).
    if (p && (h.status === 403 || err instanceof HiddenError)) {
      const subject = subjectOf(err);
      try {
        denials.record({
          principal: p,
          code: err instanceof HiddenError ? 'OUT_OF_SCOPE' : h.code,
          message: h.message,
          subject,
          method: req.method,
          route: req.routeOptions.url ?? redactUrl(req.url).slice(0, 256),
          ip: req.ip,
        });
      } catch (e) {
        req.log.error({ err: e, reqId: req.id }, 'could not ledger a denied request');
      }
      req.log.warn({ reqId: req.id, user: p.id, code: h.code, subject }, 'request denied');
    }
    void reply.code(h.status).headers(h.headers);
    if (h.status >= 500) void reply.removeHeader('content-range');
    return reply.send({ error: { code: h.code, message: h.message, ...(h.status >= 500 ? { requestId: String(req.id) } : {}) } });
  });

  // The console at `/` (docs/console.md); its page addresses answer with the app.
  const consolePage = serveConsole(app, deps.consoleDir ?? DEFAULT_CONSOLE_DIR);
  app.setNotFoundHandler((req, reply) => {
    if (consolePage && isPageRequest(req)) return consolePage(req, reply);
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; see /docs` } });
  });

  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'custody API',
        version: '1',
        description:
          'Supervisors, archivists and auditors query the evidence vault; footage is viewed only under an approved, time-limited access request, and every view is ledgered. See docs/api.md.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'a token from `custody users add`' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'evidence' },
        { name: 'access', description: 'access requests and grants (Art. 13)' },
        { name: 'devices' },
        { name: 'ledger' },
        { name: 'stats' },
        { name: 'cases', description: 'cases, their evidence and holds (Art. 12)' },
        { name: 'retention', description: 'the 6-month purge: pending items and runs (Art. 11)' },
        { name: 'compliance', description: 'assignments, flags and the compliance report (Art. 9, 14, 16)' },
        { name: 'users' },
        { name: 'health' },
      ],
    },
  });
  // The reference UI's assets are served from node_modules: it works offline.
  void app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });

  // Sets and clears the session cookie; reading it is the authenticator's (auth.ts).
  void app.register(fastifyCookie);

  // Each route module is a plugin that receives the services built above.
  for (const routes of [sessionRoutes, healthRoutes, evidenceRoutes, accessRequestRoutes, deviceRoutes, ledgerRoutes, statsRoutes, caseRoutes, retentionRoutes, exportRoutes, flagRoutes, complianceRoutes, userRoutes]) {
    void app.register(routes, ctx);
  }

  let sweepTimer: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    try {
      denials.flush();
      ctx.previews.flush();
      const expired = ctx.access.expireDue();
      if (expired > 0) apiLog.info({ expired }, 'access grants expired');
      const now = catalog.clock.now().getTime();
      const pruned = audit.pruneAuthFailures(new Date(now - config.api.authFailureRetentionDays * DAY_MS));
      if (pruned > 0) apiLog.info({ pruned }, 'old refused sign-ins pruned');
      const s = ctx.sessions.sweep(new Date(now - config.api.authFailureRetentionDays * DAY_MS));
      if (s.expired + s.pruned > 0) apiLog.info(s, 'console sessions expired or pruned');
    } catch (e) {
      apiLog.error({ err: e }, 'access sweep failed');
    }
  };

  let stopping: Promise<void> | undefined;
  return {
    app,
    context: ctx,
    hasConsole: consolePage !== null,
    async start() {
      // Exports left queued or running by a station that stopped are interrupted, never resumed or reported good.
      ctx.exportJobs.recover('custody:api');
      metrics.start();
      sweep();
      sweepTimer = setInterval(sweep, SWEEP_INTERVAL_MS);
      sweepTimer.unref();
      try {
        await app.listen({ host: config.api.host, port: config.api.port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : code === 'EACCES' ? 'permission denied' : errorMessage(e);
        throw new CustodyError('API_LISTEN_FAILED', `cannot listen on ${config.api.host}:${config.api.port}: ${why}`, { cause: e });
      }
      const addr = app.server.address() as AddressInfo;
      apiLog.info({ host: addr.address, port: addr.port }, 'API listening');
      return { host: addr.address, port: addr.port };
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(sweepTimer);
        ctx.verify.stop();
        const exportsStopped = ctx.exportJobs.stop();
        for (const close of [...ctx.streams]) close();
        let timer: NodeJS.Timeout | undefined;
        const closed = app.close();
        // Downloads in flight may take long: after a grace period they are cut.
        await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_GRACE_MS)))]);
        clearTimeout(timer);
        if (app.server.listening) app.server.closeAllConnections();
        await closed;
        await ctx.evidenceSearch.close();
        await exportsStopped;
        try {
          denials.flush(true);
          ctx.previews.flush(true);
        } catch (e) {
          apiLog.error({ err: e }, 'could not ledger repeated denied requests or previews');
        }
        metrics.stop();
        apiLog.info('API stopped');
      })();
      return stopping;
    },
  };
}
