import Type from 'typebox';
import { InvalidInputError, permissionsOf } from '../../access/index.js';
import { API_PREFIX, type ApiRoutes, isoParam, principalOf } from '../context.js';
import { COMMON_ERRORS, DateTime, Label, Nullable } from '../schemas.js';

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

const Figures = {
  files: Type.Integer(),
  bytes: Type.Integer(),
  hoursRecorded: Type.Number(),
  uploadDelay: Type.Object({ averageHours: Nullable(Type.Number()), maxHours: Nullable(Type.Number()) }),
  late: Type.Integer({ description: 'items handed in more than uploadDeadlineHours (compliance.uploadDeadlineHours) after recording ended (Art. 9), as the compliance report counts them' }),
};

export const statsRoutes: ApiRoutes = (app, ctx, done) => {
  app.get(
    `${API_PREFIX}/stats`,
    {
      config: { access: 'stats.read' },
      schema: {
        tags: ['stats'],
        summary: 'Per unit and per officer: files, hours recorded, bytes, upload delay',
        description: `Items recorded in [from, to); default the last 30 days, at most ${MAX_DAYS} days.`,
        querystring: Type.Object(
          { from: Type.Optional(DateTime), to: Type.Optional(DateTime), unit: Type.Optional(Label) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            uploadDeadlineHours: Type.Number({ description: 'the configured upload deadline `late` is judged by' }),
            units: Type.Array(Type.Object({ unit: Nullable(Type.String()), ...Figures })),
            officers: Type.Array(Type.Object({ unit: Nullable(Type.String()), officer: Nullable(Type.String()), ...Figures })),
          }),
          ...COMMON_ERRORS,
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const to = req.query.to === undefined ? ctx.catalog.clock.now().toISOString() : isoParam('to', req.query.to);
      const from = req.query.from === undefined ? new Date(Date.parse(to) - 30 * DAY_MS).toISOString() : isoParam('from', req.query.from);
      if (from >= to) throw new InvalidInputError('from must be before to');
      if (Date.parse(to) - Date.parse(from) > MAX_DAYS * DAY_MS) throw new InvalidInputError(`the period may be at most ${MAX_DAYS} days`);
      return ctx.stats.report(p.unit, from, to, req.query.unit);
    },
  );

  app.get(
    `${API_PREFIX}/me`,
    {
      config: { access: 'authenticated' },
      schema: {
        tags: ['users'],
        summary: 'Who the token belongs to and what they may do',
        response: {
          200: Type.Object({ id: Type.String(), name: Type.String(), role: Type.String(), unit: Nullable(Type.String()), permissions: Type.Array(Type.String()) }),
          ...COMMON_ERRORS,
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return { ...p, permissions: permissionsOf(p) };
    },
  );
  done();
};
