import Type from 'typebox';
import { actorOf, HiddenError, inScope, type Principal } from '../../access/index.js';
import { FLAG_RULES, FLAG_STATES, type Flag } from '../../compliance/index.js';
import { NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { COMMON_ERRORS, Cursor, ErrorBody, IdParams, Label, Nullable, Serial } from '../schemas.js';

export const FlagBody = Type.Object({
  id: Type.String(),
  rule: Type.Enum([...FLAG_RULES]),
  officer: Nullable(Type.String()),
  recorderSerial: Nullable(Type.String()),
  evidenceId: Nullable(Type.String()),
  assignmentId: Nullable(Type.String()),
  dockId: Nullable(Type.String()),
  unit: Nullable(Type.String()),
  seen: Type.Record(Type.String(), Type.Unknown()),
  summary: Type.String(),
  raisedAt: Type.String(),
  dueBy: Type.String(),
  state: Type.Enum([...FLAG_STATES]),
  escalatedAt: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String()),
  resolvedBy: Nullable(Type.String()),
  approvedBy: Nullable(Type.String()),
  resolution: Nullable(Type.String()),
  aboutCaller: Type.Boolean({
    description: "the flag is about one of the caller's own officer numbers (an officer linked to the caller's user): the caller may not resolve it (403 FLAG_SELF_APPROVAL)",
  }),
});

/** GET /flags and POST /flags/{id}/resolve (docs/compliance.md). */
export const flagRoutes: ApiRoutes = (app, ctx, done) => {
  // Every change names the caller as its actor.
  const { compliance } = ctx;
  /** The caller's own officer numbers, so a page need not offer what the API refuses. */
  const own = (p: Principal): Set<string> => new Set(compliance.assignments.officers().filter((o) => o.userId === p.id).map((o) => o.number));
  const forCaller = (f: Flag, mine: Set<string>) => ({ ...f, aboutCaller: f.officer !== null && mine.has(f.officer) });

  app.get(
    `${API_PREFIX}/flags`,
    {
      config: { access: 'compliance.read' },
      schema: {
        tags: ['compliance'],
        summary: 'Compliance flags, newest first',
        querystring: Type.Object(
          {
            rule: Type.Optional(Type.Enum([...FLAG_RULES])),
            unit: Type.Optional(Label),
            officer: Type.Optional(Label),
            device: Type.Optional(Serial),
            state: Type.Optional(Type.Enum([...FLAG_STATES, 'unresolved'])),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(FlagBody), next: Nullable(Type.String()) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const q = req.query;
      const limit = q.limit ?? 100;
      const before = q.cursor === undefined ? null : decodeCursor('flags', q.cursor, ['string', 'string']);
      const rows = compliance.flags.list(
        { rule: q.rule, unit: q.unit, officer: q.officer, recorder: q.device, state: q.state, scopeUnit: p.unit },
        { limit: limit + 1, before: before ? { raisedAt: before[0] as string, id: before[1] as string } : null },
      );
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      const mine = own(p);
      return { items: items.map((f) => forCaller(f, mine)), next: rows.length > limit && last ? encodeCursor('flags', [last.raisedAt, last.id]) : null };
    },
  );

  app.get(
    `${API_PREFIX}/flags/:id`,
    {
      config: { access: 'compliance.read' },
      schema: { tags: ['compliance'], summary: 'One flag', params: IdParams, response: { 200: FlagBody, 404: ErrorBody, ...COMMON_ERRORS } },
    },
    async (req) => {
      const p = principalOf(req);
      const f = compliance.flags.get(req.params.id);
      if (!f) throw new NotFoundError('flag', req.params.id);
      if (!inScope(p, f.unit)) throw new HiddenError('flag', req.params.id);
      return forCaller(f, own(p));
    },
  );

  app.post(
    `${API_PREFIX}/flags/:id/resolve`,
    {
      config: { access: 'flags.resolve' },
      schema: {
        tags: ['compliance'],
        summary: 'Resolve a flag with a written reason; the caller is the approver and may not be the officer it is about',
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false }),
        response: { 200: FlagBody, 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const f = compliance.flags.get(req.params.id);
      if (!f) throw new NotFoundError('flag', req.params.id);
      if (!inScope(p, f.unit)) throw new HiddenError('flag', req.params.id);
      const done: Flag = compliance.flags.resolve(req.params.id, { reason: req.body.reason, approver: { id: p.id, role: p.role, unit: p.unit, revoked: false }, actor: actorOf(p) });
      ctx.activity.publish({
        type: 'flag',
        flag: { id: done.id, rule: done.rule, state: done.state, unit: done.unit, serial: done.recorderSerial, officer: done.officer, summary: done.summary },
      });
      return forCaller(done, own(p));
    },
  );
  done();
};
