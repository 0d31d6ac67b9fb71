import Type from 'typebox';
import { actorOf, ConflictError, generatePassword, hashPassword, ROLES, type User } from '../../access/index.js';
import { NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Nullable } from '../schemas.js';

const DAY_MS = 86_400_000;

const UserBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Enum([...ROLES]),
  unit: Nullable(Type.String({ description: 'the unit (科室) the user is limited to; null: the whole bureau' })),
  createdAt: Type.String(),
  createdBy: Type.String(),
  revokedAt: Nullable(Type.String()),
  revokedBy: Nullable(Type.String()),
  hasPassword: Type.Boolean({ description: 'whether the user can sign in to the console' }),
  passwordSetAt: Nullable(Type.String()),
  tokenExpiresAt: Nullable(Type.String()),
});

// As the CLI checks them (validateNewUser): the service gives the precise problem.
const AddBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    role: Type.Enum([...ROLES]),
    unit: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  },
  { additionalProperties: false },
);

const SignInBody = Type.Object({
  at: Type.String(),
  session: Type.String({ description: "the session's reference, as the ledger names it" }),
  ip: Type.String(),
  userAgent: Nullable(Type.String()),
  expiresAt: Nullable(Type.String()),
  state: Type.Enum(['open', 'ended', 'unknown'], { description: 'unknown: the ended session was pruned from the sessions table' }),
  endedAt: Nullable(Type.String()),
  endReason: Nullable(Type.String({ description: 'signed-out, expired, password-changed or user-revoked' })),
});

const publicUser = (u: User) => ({
  id: u.id,
  name: u.name,
  role: u.role,
  unit: u.unit,
  createdAt: u.createdAt,
  createdBy: u.createdBy,
  revokedAt: u.revokedAt,
  revokedBy: u.revokedBy,
  hasPassword: u.hasPassword,
  passwordSetAt: u.passwordSetAt,
  tokenExpiresAt: u.tokenExpiresAt,
});

/**
 * Users for administrators (issue 19): list, add with a one-time password, revoke, and
 * a user's sign-ins. `users.manage` spans every unit, so only a bureau-wide admin has
 * it. Each change is ledgered by the users service in the same transaction
 * (`user.created`, `user.password-set`, `user.revoked`); the password reset is
 * POST /users/{id}/password-reset (routes/session.ts).
 */
export const userRoutes: ApiRoutes = (app, ctx, done) => {
  const { users, sessions } = ctx;

  app.get(
    `${API_PREFIX}/users`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Users (administrators), oldest first; never their tokens or passwords',
        querystring: Type.Object({ all: Type.Optional(Type.Boolean({ default: false, description: 'include revoked users' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(UserBody) }), ...COMMON_ERRORS },
      },
    },
    async (req) => ({ items: users.list({ includeRevoked: req.query.all ?? false }).map(publicUser) }),
  );

  app.post(
    `${API_PREFIX}/users`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Add a user with a role and unit, and a one-time console password',
        description:
          'The password is random and shown only in this answer: hand it to the user, who changes it after signing in (POST /session/password). An active user of the same name is 400 INVALID_INPUT. Ledgered as user.created, then user.password-set (reset: true). The user\'s API token is not shown: issue one with `custody users token` when the user needs it.',
        body: AddBody,
        response: { 201: Type.Object({ user: UserBody, password: Type.String() }), ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const ttl = ctx.config.api.tokenTtlDays;
      const now = ctx.catalog.clock.now();
      const { user } = users.create(
        { name: req.body.name, role: req.body.role, unit: req.body.unit ?? null, tokenExpiresAt: ttl === 0 ? null : new Date(now.getTime() + ttl * DAY_MS) },
        actorOf(p),
      );
      const password = generatePassword();
      const withPassword = users.setPassword(user.id, await hashPassword(password), actorOf(p), { reset: true });
      ctx.log.info({ user: user.id, role: user.role, unit: user.unit, by: p.id }, 'user added');
      return reply.code(201).header('location', `${API_PREFIX}/users/${user.id}`).send({ user: publicUser(withPassword), password });
    },
  );

  app.get(
    `${API_PREFIX}/users/:id`,
    {
      config: { access: 'users.manage' },
      schema: { tags: ['users'], summary: 'One user', params: IdParams, response: { 200: UserBody, 404: ErrorBody, ...COMMON_ERRORS } },
    },
    async (req) => {
      const u = users.get(req.params.id);
      if (!u) throw new NotFoundError('user', req.params.id);
      return publicUser(u);
    },
  );

  app.post(
    `${API_PREFIX}/users/:id/revoke`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: "Revoke a user for good: their token stops working and their sessions end",
        description:
          'Revoking a revoked user changes nothing (changed: false). An administrator cannot revoke themselves (409 USER_SELF_REVOKE): another administrator does it. Ledgered as user.revoked.',
        params: IdParams,
        response: { 200: Type.Object({ user: UserBody, changed: Type.Boolean() }), 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (!users.get(req.params.id)) throw new NotFoundError('user', req.params.id);
      // Nobody locks the station's administration out by a slip: a second admin revokes.
      if (req.params.id === p.id) throw new ConflictError('USER_SELF_REVOKE', 'you cannot revoke yourself; another administrator can');
      const { user, changed } = users.revoke(req.params.id, actorOf(p));
      if (changed) ctx.log.info({ user: user.id, by: p.id }, 'user revoked');
      return { user: publicUser(user), changed };
    },
  );

  app.get(
    `${API_PREFIX}/users/:id/sign-ins`,
    {
      config: { access: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: "A user's console sign-ins, newest first (from the ledger's session.signed-in), each with its session's state",
        params: IdParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(SignInBody) }), 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      if (!users.get(req.params.id)) throw new NotFoundError('user', req.params.id);
      return { items: sessions.signInsOf(req.params.id, req.query.limit ?? 50) };
    },
  );

  done();
};
