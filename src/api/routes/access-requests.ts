import Type from 'typebox';
import { type AccessRequest, HiddenError, inScope, InvalidInputError, MAX_ITEMS_PER_REQUEST } from '../../access/index.js';
import { NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, isoParam, principalOf } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { COMMON_ERRORS, Cursor, DateTime, ErrorBody, IdParams, Nullable, Uuid } from '../schemas.js';

const Person = Type.Object({ id: Type.String(), name: Type.String() });

const AccessRequestSchema = Type.Object({
  id: Type.String(),
  requester: Person,
  reason: Type.String(),
  requestedHours: Nullable(Type.Integer({ description: 'how long the requester asked to view for; the approval lasts that long unless the approver says otherwise' })),
  status: Type.Enum(['pending', 'approved', 'denied', 'expired', 'revoked'], {
    description: 'approved until expiresAt; expired when that passed; revoked when its approver or an admin ended it early (revokedBy, revokedAt)',
  }),
  createdAt: Type.String(),
  decidedBy: Nullable(Person),
  decidedAt: Nullable(Type.String()),
  decisionNote: Nullable(Type.String()),
  expiresAt: Nullable(Type.String({ description: 'when the grant ends (approved and expired requests)' })),
  expiredAt: Nullable(Type.String()),
  revokedBy: Nullable(Person),
  revokedAt: Nullable(Type.String()),
  revocationNote: Nullable(Type.String()),
  evidenceIds: Type.Array(Type.String()),
});

const CreateBody = Type.Object(
  {
    evidenceIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: MAX_ITEMS_PER_REQUEST })),
    caseId: Type.Optional({ ...Uuid, description: "a case: every item of it in the caller's scope" }),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    hours: Type.Optional(Type.Integer({ minimum: 1, description: 'how long to view for, in hours (at most api.grantMaxHours)' })),
  },
  { additionalProperties: false },
);

const Note = Type.String({ maxLength: 2000 });
const ApproveBody = Type.Object({ expiresAt: Type.Optional(DateTime), note: Type.Optional(Note) }, { additionalProperties: false });
const DenyBody = Type.Object({ note: Type.Optional(Note) }, { additionalProperties: false });

const ListQuery = Type.Object(
  {
    view: Type.Optional(Type.Enum(['mine', 'to-decide'], { default: 'mine', description: 'mine: my requests; to-decide: pending requests I may decide' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

const DECISION_ERRORS = { 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS } as const;

export const accessRequestRoutes: ApiRoutes = (app, ctx, done) => {
  const { cases } = ctx;
  app.post(
    `${API_PREFIX}/access-requests`,
    {
      config: { access: 'access.request' },
      schema: {
        tags: ['access'],
        summary: 'Ask to view footage (Art. 13)',
        description: `Names 1 to ${MAX_ITEMS_PER_REQUEST} evidence items in the caller's scope, or a case (its items in the caller's scope), and a reason.`,
        body: CreateBody,
        response: { 201: AccessRequestSchema, 404: ErrorBody, 413: ErrorBody, 415: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { evidenceIds, caseId, reason, hours } = req.body;
      if ((evidenceIds === undefined) === (caseId === undefined)) throw new InvalidInputError('give either evidenceIds or caseId');
      let ids: string[];
      if (caseId !== undefined) {
        // Another unit's case answers like a missing one; of a visible case, only the
        // items in the caller's scope are asked for.
        const c = cases.get(caseId);
        if (!c) throw new NotFoundError('case', caseId);
        if (!inScope(p, c.unit)) throw new HiddenError('case', caseId);
        ids = cases.evidenceOf(caseId).filter((id) => {
          const ev = ctx.evidence.get(id);
          return ev !== null && inScope(p, ev.unit);
        });
        if (ids.length === 0) throw new InvalidInputError(`case ${c.number} has no evidence in your scope`);
      } else {
        ids = evidenceIds!;
      }
      const created = ctx.access.create(p, { evidenceIds: ids, reason, caseId, hours });
      return reply.code(201).header('location', `${API_PREFIX}/access-requests/${created.id}`).send(created);
    },
  );

  app.get(
    `${API_PREFIX}/access-requests`,
    {
      config: { access: 'access.request' },
      schema: {
        tags: ['access'],
        summary: 'My requests, or the pending requests I may decide',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(AccessRequestSchema), next: Nullable(Type.String()) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const view = req.query.view ?? 'mine';
      const limit = req.query.limit ?? 50;
      const tag = `access-requests:${view}`;
      const c = req.query.cursor === undefined ? null : decodeCursor(tag, req.query.cursor, ['string', 'string']);
      const after = c ? { createdAt: c[0] as string, id: c[1] as string } : null;
      const rows: AccessRequest[] = view === 'mine' ? ctx.access.listMine(p, after, limit + 1) : ctx.access.listToDecide(p, after, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, next: rows.length > limit && last ? encodeCursor(tag, [last.createdAt, last.id]) : null };
    },
  );

  app.get(
    `${API_PREFIX}/access-requests/:id`,
    {
      config: { access: 'access.request' },
      schema: { tags: ['access'], summary: 'One access request', params: IdParams, response: { 200: AccessRequestSchema, 404: ErrorBody, ...COMMON_ERRORS } },
    },
    async (req) => ctx.access.get(principalOf(req), req.params.id),
  );

  // A decision may be posted with no body at all.
  const emptyBodyIsObject = async (req: { body: unknown }): Promise<void> => {
    if (req.body === undefined || req.body === null) req.body = {};
  };

  app.post(
    `${API_PREFIX}/access-requests/:id/approve`,
    {
      config: { access: 'access.decide' },
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['access'],
        summary: "Approve someone else's request",
        description:
          'By a supervisor or admin who is not the requester, within their unit. expiresAt defaults to the hours the requester asked for (else api.grantDefaultHours) from now and may be at most api.grantMaxHours away.',
        params: IdParams,
        body: ApproveBody,
        response: { 200: AccessRequestSchema, ...DECISION_ERRORS },
      },
    },
    async (req) => {
      const expiresAt = req.body.expiresAt === undefined ? undefined : new Date(isoParam('expiresAt', req.body.expiresAt));
      return ctx.access.approve(principalOf(req), req.params.id, {
        ...(expiresAt ? { expiresAt } : {}),
        ...(req.body.note !== undefined ? { note: req.body.note } : {}),
      });
    },
  );

  app.post(
    `${API_PREFIX}/access-requests/:id/deny`,
    {
      config: { access: 'access.decide' },
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['access'],
        summary: "Deny someone else's request",
        params: IdParams,
        body: DenyBody,
        response: { 200: AccessRequestSchema, ...DECISION_ERRORS },
      },
    },
    async (req) => ctx.access.deny(principalOf(req), req.params.id, req.body.note !== undefined ? { note: req.body.note } : {}),
  );

  app.post(
    `${API_PREFIX}/access-requests/:id/revoke`,
    {
      config: { access: 'access.decide' },
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['access'],
        summary: 'End a grant before its expiry',
        description:
          'By the one who approved it, or by an admin whose scope covers its items. The grant ends at once, access.request.revoked is ledgered, and the request shows status revoked with revokedBy, revokedAt and revocationNote; a request that is not a current grant: 409 ACCESS_REQUEST_NOT_GRANTED.',
        params: IdParams,
        body: DenyBody,
        response: { 200: AccessRequestSchema, ...DECISION_ERRORS },
      },
    },
    async (req) => ctx.access.revoke(principalOf(req), req.params.id, req.body.note !== undefined ? { note: req.body.note } : {}),
  );
  done();
};
