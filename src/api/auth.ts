import { fastifyCookie } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { type Audit, AuthenticationError, type AuthFailureReason, type Principal, type SessionsService, type UsersService } from '../access/index.js';
import { CustodyError } from '../core/index.js';
import type { Logger } from '../core/index.js';
import { API_PREFIX } from './context.js';
import type { ApiMetrics } from './metrics.js';

interface Window {
  start: number;
  failures: number;
  /** Set once the limit is passed: the address is refused until the window ends. */
  blockedUntil: number;
}

/**
 * Counts refused sign-ins per client address in fixed windows. Past `limit` failures,
 * the address is refused outright (429, token not even checked) until its window
 * ends. Memory is bounded: at most `maxAddresses` windows are kept, oldest dropped.
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly opts: { limit: number; windowMs: number; maxAddresses?: number; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Seconds until this address may try again, or 0 when it may now. */
  blockedFor(ip: string): number {
    const w = this.windows.get(ip);
    if (!w) return 0;
    const now = this.now();
    if (w.blockedUntil > now) return Math.ceil((w.blockedUntil - now) / 1000);
    if (now - w.start >= this.opts.windowMs) this.windows.delete(ip);
    return 0;
  }

  /** Count a failure; true when this one crossed the limit (the address is now blocked). */
  fail(ip: string): boolean {
    const now = this.now();
    let w = this.windows.get(ip);
    if (!w || now - w.start >= this.opts.windowMs) {
      if (w) this.windows.delete(ip);
      w = { start: now, failures: 0, blockedUntil: 0 };
      this.windows.set(ip, w);
      const max = this.opts.maxAddresses ?? 10_000;
      if (this.windows.size > max) this.windows.delete(this.windows.keys().next().value!);
    }
    w.failures++;
    if (w.failures > this.opts.limit && w.blockedUntil === 0) {
      w.blockedUntil = w.start + this.opts.windowMs;
      return true;
    }
    return false;
  }
}

/** Query parameters that carry credentials in other APIs. */
const TOKEN_KEYS = /^(access_token|token|bearer|auth|authorization|api_key|apikey|key)$/i;
const TOKEN_TEXT = /cst_[A-Za-z0-9_%-]*/g;

function decoded(s: string): string {
  // Only %-escapes and '+' change in decoding; most parts have neither (every request's URL passes here twice).
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * Does the URL's query string carry a credential (issue 14)? Tokens are accepted only
 * in the Authorization header: a URL ends up in logs, histories and proxies.
 */
export function tokenInUrl(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  return url
    .slice(q + 1)
    .split('&')
    .some((kv) => {
      const eq = kv.indexOf('=');
      const key = decoded(eq < 0 ? kv : kv.slice(0, eq));
      return TOKEN_KEYS.test(key) || /cst_/.test(decoded(kv));
    });
}

/** The URL as it may be stored or logged: credentials in it are replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).replace(TOKEN_TEXT, 'cst_[redacted]');
  if (q < 0) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (TOKEN_KEYS.test(decoded(key)) || /cst_/.test(decoded(kv))) return `${key.replace(TOKEN_TEXT, 'cst_[redacted]')}=[redacted]`;
      return kv;
    })
    .join('&');
  return `${path}?${query}`;
}

const MESSAGES: Record<AuthFailureReason, string> = {
  missing: 'authentication required: send Authorization: Bearer <token>',
  malformed: 'the token is not valid',
  unknown: 'the token is not valid',
  revoked: 'the token is not valid',
  expired: 'the token has expired; ask an administrator for a new one',
  'rate-limited': 'too many failed sign-ins from this address',
  'bad-password': 'the user name or password is wrong',
};

/** The console's session cookie (issue 15): httpOnly, SameSite=Strict, Secure under TLS. */
export const SESSION_COOKIE = 'custody_session';
/** The header every state-changing request from a session must carry (a cross-site form or image cannot set it). */
export const CSRF_HEADER = 'x-custody-csrf';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The CSRF defence for requests authenticated by the session cookie: a state-changing
 * request must carry the custom header (which a page of another site cannot send
 * without the server's consent to a CORS preflight, never given) and come from this
 * station's own origin (Origin, and Sec-Fetch-Site where the browser sends it).
 * Returns why a request fails it, or null.
 */
export function csrfProblem(req: FastifyRequest): string | null {
  if (SAFE_METHODS.has(req.method)) return null;
  if (req.headers[CSRF_HEADER] !== '1') return `a request from the console must send the header X-Custody-CSRF: 1`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'the request comes from another site';
  const origin = req.headers.origin;
  if (origin === undefined) return 'the request has no Origin header';
  if (origin !== `${req.protocol}://${req.host}`) return 'the request comes from another origin';
  return null;
}

/** What a session may do while its user must change a password someone else set. */
const PASSWORD_CHANGE_ROUTES = new Set([`GET ${API_PREFIX}/session`, `DELETE ${API_PREFIX}/session`, `POST ${API_PREFIX}/session/password`]);

/** The session cookie's value, when the request carries one. */
export function sessionCookieOf(req: FastifyRequest): string | undefined {
  // Parsed here, not by the cookie plugin's hook: authentication runs before it.
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  const v = fastifyCookie.parse(header)[SESSION_COOKIE];
  return v === undefined || v === '' ? undefined : v;
}

export interface Authenticator {
  /** Who is calling, or throws AuthenticationError (recorded, logged, counted). */
  authenticate(req: FastifyRequest): Principal;
}

/**
 * Bearer-token authentication with failure accounting. Unknown, malformed and revoked
 * tokens get the same answer, so a caller learns nothing about which tokens exist;
 * the log and the auth_failures table keep the real reason.
 */
export function createAuthenticator(deps: {
  users: UsersService;
  sessions: SessionsService;
  audit: Audit;
  limiter: FailedAuthLimiter;
  metrics: ApiMetrics;
  log: Logger;
}): Authenticator {
  const { users, sessions, audit, limiter, metrics, log } = deps;

  const record = (req: FastifyRequest, reason: AuthFailureReason, userId: string | null): void => {
    metrics.authFailures.inc({ reason });
    try {
      audit.authFailure({ ip: req.ip, reason, method: req.method, url: redactUrl(req.url), userId });
    } catch (e) {
      log.error({ err: e, reqId: req.id }, 'could not record a refused sign-in');
    }
  };

  return {
    authenticate(req) {
      const wait = limiter.blockedFor(req.ip);
      if (wait > 0) {
        metrics.authFailures.inc({ reason: 'rate-limited' });
        log.debug({ ip: req.ip, reqId: req.id }, 'sign-in refused: address is rate-limited');
        throw new AuthenticationError('rate-limited', `too many failed sign-ins from this address; try again in ${wait} s`, wait);
      }
      const header = req.headers.authorization;
      // A bearer token, when sent, is what counts; otherwise the console's session cookie.
      const cookie = header === undefined ? sessionCookieOf(req) : undefined;
      const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
      const result =
        cookie !== undefined
          ? sessions.authenticate(cookie)
          : m
            ? users.authenticate(m[1]!)
            : ({ ok: false, reason: header === undefined ? 'missing' : 'malformed', userId: null } as const);
      if (result.ok) {
        if (cookie !== undefined) {
          req.principal = result.principal;
          const problem = csrfProblem(req);
          if (problem !== null) throw new CustodyError('CSRF_REFUSED', `refused: ${problem}`);
          if ('mustChangePassword' in result && result.mustChangePassword && !PASSWORD_CHANGE_ROUTES.has(`${req.method} ${req.routeOptions.url ?? ''}`)) {
            throw new CustodyError('PASSWORD_CHANGE_REQUIRED', 'change the password you were given before anything else (POST /api/v1/session/password)');
          }
        }
        return result.principal;
      }

      record(req, result.reason, result.userId);
      log.warn({ ip: req.ip, reason: result.reason, userId: result.userId, method: req.method, url: redactUrl(req.url).slice(0, 256), reqId: req.id }, 'sign-in refused');
      if (limiter.fail(req.ip)) {
        record(req, 'rate-limited', null);
        log.warn({ ip: req.ip }, 'too many failed sign-ins: address refused until its window ends');
      }
      throw new AuthenticationError(result.reason, MESSAGES[result.reason]);
    },
  };
}
