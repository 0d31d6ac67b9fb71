import Type from 'typebox';
import { NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Nullable } from '../schemas.js';

const Pending = Type.Object({
  evidenceId: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  unit: Nullable(Type.String()),
  officer: Nullable(Type.String()),
  recordedAt: Type.String(),
  ingestedAt: Type.String(),
  retentionDate: Type.String(),
  announcedAt: Type.String(),
  dueAt: Type.String({ description: 'the first purge run at or after this time purges the item unless a hold protects it' }),
});

const Refusal = Nullable(Type.Object({ code: Type.String(), message: Type.String() }));
const Run = Type.Object({
  id: Type.String(),
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  status: Type.Enum(['running', 'completed', 'refused', 'failed']),
  dryRun: Type.Boolean(),
  forced: Type.Boolean(),
  actor: Type.String(),
  counted: Type.Integer(),
  announced: Type.Integer(),
  purged: Type.Integer(),
  bytesFreed: Type.Integer(),
  skipped: Type.Integer(),
  refusal: Refusal,
});
const RunDetail = Type.Object({
  ...Run.properties,
  items: Type.Array(
    Type.Object({
      evidenceId: Type.String(),
      outcome: Type.Enum(['announced', 'purged', 'skipped']),
      reason: Nullable(Type.String()),
      bytesFreed: Type.Integer(),
      at: Type.String(),
    }),
  ),
});

/** Items announced for purge and the record of purge runs (docs/retention.md). */
export const retentionRoutes: ApiRoutes = (app, ctx, done) => {
  const { purge } = ctx;

  app.get(
    `${API_PREFIX}/retention/pending`,
    {
      config: { access: 'retention.read' },
      schema: {
        tags: ['retention'],
        summary: 'Items announced for purge (pending-purge), soonest first',
        description: 'Protect a case (POST /cases/{id}/holds) to keep its items. A unit-scoped caller sees their unit only.',
        response: { 200: Type.Object({ items: Type.Array(Pending) }), ...COMMON_ERRORS },
      },
    },
    async (req) => ({ items: purge.pending(principalOf(req).unit) }),
  );

  app.get(
    `${API_PREFIX}/retention/runs`,
    {
      config: { access: 'retention.runs' },
      schema: {
        tags: ['retention'],
        summary: 'Purge runs, newest first: counted, announced, purged, bytes freed, skipped, refusals',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Run) }), ...COMMON_ERRORS },
      },
    },
    async (req) => ({ items: purge.runs(req.query.limit ?? 50) }),
  );

  app.get(
    `${API_PREFIX}/retention/runs/:id`,
    {
      config: { access: 'retention.runs' },
      schema: { tags: ['retention'], summary: 'One purge run with what it did to each item', params: IdParams, response: { 200: RunDetail, 404: ErrorBody, ...COMMON_ERRORS } },
    },
    async (req) => {
      const r = purge.run(req.params.id);
      if (!r) throw new NotFoundError('purge run', req.params.id);
      return r;
    },
  );
  done();
};
