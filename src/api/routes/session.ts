import Type from 'typebox';
import {
  actorOf,
  AuthenticationError,
  generatePassword,
  hashPassword,
  InvalidInputError,
  passwordProblems,
  permissionsOf,
  type Principal,
  verifyPassword,
} from '../../access/index.js';
import { CustodyError, NotFoundError } from '../../core/index.js';
import { SESSION_COOKIE, sessionCookieOf } from '../auth.js';
import { API_PREFIX, type ApiContext, type ApiRoutes, principalOf } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Nullable } from '../schemas.js';

const SessionUser = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  unit: Nullable(Type.String()),
  permissions: Type.Array(Type.String(), { description: 'what the user may do (the console offers only these)' }),
});

const SessionBody = Type.Object({
  user: SessionUser,
  previews: Type.Enum(['none', 'video-frames'], {
    description: "the station's preview policy (api.previews): with video-frames a video's small thumbnail is served without a grant (and registered)",
  }),
  timezone: Type.String({
    description: "the station's time zone (config timezone, an IANA name such as Asia/Shanghai): the zone of its local days (reports, assignments, retention), which the console's reports take their days in",
  }),
  idleExpiresAt: Nullable(Type.String({ description: 'when the session ends without a request (null: signed in with a token)' })),
  expiresAt: Nullable(Type.String({ description: 'when the session ends in any case' })),
  mustChangePassword: Type.Boolean({
    description:
      'the user signed in with a password someone else set (a new user\'s, a reset): until POST /session/password changes it, every other request of the session is 403 PASSWORD_CHANGE_REQUIRED',
  }),
});

const SignInBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

const NewPassword = Type.String({ minLength: 1, maxLength: 256 });
const ChangeBody = Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: NewPassword }, { additionalProperties: false });

const userOf = (p: Principal) => ({ id: p.id, name: p.name, role: p.role, unit: p.unit, permissions: permissionsOf(p) });

/** A refused password check counts as a refused sign-in: recorded, and against the address's limit. */
function refused(ctx: ApiContext, limiter: ApiContext['authLimiter'], req: { ip: string; method: string; url: string }, userId: string | null): void {
  ctx.metrics.authFailures.inc({ reason: 'bad-password' });
  ctx.audit.authFailure({ ip: req.ip, reason: 'bad-password', method: req.method, url: req.url.split('?')[0]!.slice(0, 256), userId });
  ctx.log.warn({ ip: req.ip, userId }, 'sign-in refused: wrong name or password');
  if (limiter.fail(req.ip)) {
    ctx.audit.authFailure({ ip: req.ip, reason: 'rate-limited', method: req.method, url: req.url.split('?')[0]!.slice(0, 256), userId: null });
    ctx.log.warn({ ip: req.ip }, 'too many failed sign-ins: address refused until its window ends');
  }
}

function checkNewPassword(password: string, name: string): void {
  const problems = passwordProblems(password, name);
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '), { problems });
}

/**
 * The console's sign-in (issue 15): a name and password open a server-side session
 * held in an httpOnly, SameSite=Strict cookie. Bearer tokens keep working for scripts.
 */
export const sessionRoutes: ApiRoutes = (app, ctx, done) => {
  const { sessions, users, authLimiter: limiter } = ctx;

  app.post(
    `${API_PREFIX}/session`,
    {
      config: { access: 'public' },
      schema: {
        tags: ['session'],
        security: [],
        summary: 'Sign in to the console with a name and password',
        description:
          'Sets the session cookie `custody_session` (httpOnly, SameSite=Strict, Secure under TLS). A wrong name or password is 401 SIGN_IN_FAILED (which of the two is not said); failed sign-ins count against the address like bad tokens (429 AUTH_RATE_LIMITED with Retry-After). Ledgered as session.signed-in.',
        body: SignInBody,
        response: { 200: SessionBody, 401: ErrorBody, 429: ErrorBody, 400: ErrorBody, 415: ErrorBody },
      },
    },
    async (req, reply) => {
      const wait = limiter.blockedFor(req.ip);
      if (wait > 0) {
        ctx.metrics.authFailures.inc({ reason: 'rate-limited' });
        throw new AuthenticationError('rate-limited', `too many failed sign-ins from this address; try again in ${wait} s`, wait);
      }
      const ua = req.headers['user-agent'];
      const r = await sessions.signIn({ name: req.body.username, password: req.body.password, ip: req.ip, userAgent: typeof ua === 'string' ? ua : null });
      if (!r.ok) {
        refused(ctx, limiter, req, r.userId);
        throw new CustodyError('SIGN_IN_FAILED', 'the user name or password is wrong');
      }
      void reply.setCookie(SESSION_COOKIE, r.token, { path: '/', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' });
      ctx.log.info({ user: r.principal.id, ip: req.ip, session: r.session.ref }, 'signed in');
      return {
        user: userOf(r.principal),
        previews: ctx.config.api.previews,
        timezone: ctx.config.timezone,
        idleExpiresAt: r.session.idleExpiresAt,
        expiresAt: r.session.expiresAt,
        mustChangePassword: r.mustChangePassword,
      };
    },
  );

  app.get(
    `${API_PREFIX}/session`,
    {
      config: { access: 'authenticated' },
      schema: { tags: ['session'], summary: 'Who is signed in, and until when', response: { 200: SessionBody, ...COMMON_ERRORS } },
    },
    async (req) => {
      const p = principalOf(req);
      const cookie = sessionCookieOf(req);
      const s = cookie !== undefined && req.headers.authorization === undefined ? sessions.authenticate(cookie) : null;
      return {
        user: userOf(p),
        previews: ctx.config.api.previews,
        timezone: ctx.config.timezone,
        idleExpiresAt: s?.ok ? s.session.idleExpiresAt : null,
        expiresAt: s?.ok ? s.session.expiresAt : null,
        mustChangePassword: s?.ok ? s.mustChangePassword : false,
      };
    },
  );

  app.delete(
    `${API_PREFIX}/session`,
    {
      config: { access: 'authenticated' },
      schema: { tags: ['session'], summary: 'Sign out: the session ends and its cookie is cleared (ledgered as session.signed-out)', response: { 204: Type.Null(), ...COMMON_ERRORS } },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const cookie = sessionCookieOf(req);
      if (cookie !== undefined && req.headers.authorization === undefined) sessions.signOut(cookie, p);
      void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' });
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${API_PREFIX}/session/password`,
    {
      config: { access: 'authenticated' },
      schema: {
        tags: ['session'],
        summary: "Change one's own password",
        description:
          "Needs the current password (a wrong one counts as a failed sign-in) and a different new one. The user's other sessions end; this one stays, no longer asked to change (mustChangePassword). Ledgered as user.password-set.",
        body: ChangeBody,
        response: { 204: Type.Null(), ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const wait = limiter.blockedFor(req.ip);
      if (wait > 0) throw new AuthenticationError('rate-limited', `too many failed sign-ins from this address; try again in ${wait} s`, wait);
      const current = users.passwordHashOf(p.id);
      if (current === null || !(await verifyPassword(req.body.currentPassword, current))) {
        refused(ctx, limiter, req, p.id);
        throw new InvalidInputError('the current password is wrong');
      }
      checkNewPassword(req.body.newPassword, p.name);
      // A given password "changed" to itself would stay one someone else knows.
      if (req.body.newPassword.normalize('NFC') === req.body.currentPassword.normalize('NFC')) throw new InvalidInputError('the new password must differ from the current one');
      users.setPassword(p.id, await hashPassword(req.body.newPassword), actorOf(p), { reset: false, keepSession: sessionCookieOf(req) ?? null });
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${API_PREFIX}/users/:id/password-reset`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['session'],
        summary: "An administrator's password reset",
        description:
          "Gives the user a new random password, shown only in this answer; the user's sessions end. Ledgered as user.password-set (reset: true), never with the password.",
        params: IdParams,
        response: { 200: Type.Object({ id: Type.String(), name: Type.String(), password: Type.String() }), 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const user = users.get(req.params.id);
      if (!user || user.revokedAt !== null) throw new NotFoundError('user', req.params.id);
      const password = generatePassword();
      users.setPassword(user.id, await hashPassword(password), actorOf(p), { reset: true });
      return { id: user.id, name: user.name, password };
    },
  );

  app.get(
    `${API_PREFIX}/sessions`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['session'],
        summary: 'Open console sessions (administrators)',
        response: {
          200: Type.Object({
            sessions: Type.Array(
              Type.Object({
                ref: Type.String(),
                userId: Type.String(),
                userName: Nullable(Type.String()),
                createdAt: Type.String(),
                lastSeenAt: Type.String(),
                idleExpiresAt: Type.String(),
                expiresAt: Type.String(),
                ip: Type.String(),
                userAgent: Nullable(Type.String()),
              }),
            ),
          }),
          ...COMMON_ERRORS,
        },
      },
    },
    async () => ({ sessions: sessions.open().map((s) => ({ ...s, userName: users.get(s.userId)?.name ?? null })) }),
  );

  done();
};
