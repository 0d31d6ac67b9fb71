import Type from 'typebox';
import { AccessDeniedError, actorOf, HiddenError, inScope, InvalidInputError, type Principal } from '../../access/index.js';
import { NotFoundError } from '../../core/index.js';
import { HOLD_REASONS, type Case, type Hold } from '../../retention/index.js';
import { API_PREFIX, type ApiRoutes, principalOf, visibleEvidence } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Label, Nullable, Uuid } from '../schemas.js';

const HoldSchema = Type.Object({
  id: Type.String(),
  caseId: Type.String(),
  reason: Type.Enum([...HOLD_REASONS]),
  reasonText: Nullable(Type.String()),
  placedAt: Type.String(),
  placedBy: Type.String(),
  releaseRequestedAt: Nullable(Type.String()),
  releaseRequestedBy: Nullable(Type.String()),
  releaseReason: Nullable(Type.String()),
  releasedAt: Nullable(Type.String()),
  releasedBy: Nullable(Type.String()),
  state: Type.Enum(['active', 'release-requested', 'released']),
  names: Type.Record(Type.String(), Type.String(), {
    description: 'the names of the users among placedBy, releaseRequestedBy and releasedBy (actor "user:<id>" → name), so a page need not show ids',
  }),
});

const CaseSummary = Type.Object({
  id: Type.String(),
  number: Type.String(),
  name: Type.String(),
  unit: Nullable(Type.String()),
  createdAt: Type.String(),
  createdBy: Type.String(),
});

const CaseDetail = Type.Object({
  ...CaseSummary.properties,
  createdByName: Nullable(Type.String({ description: 'the name of the user who created it (null: not a user, e.g. the CLI)' })),
  evidenceIds: Type.Array(Type.String()),
  holds: Type.Array(HoldSchema),
  held: Type.Boolean({ description: 'true while an unreleased hold protects every linked item from the purge' }),
});

const CreateBody = Type.Object(
  {
    number: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    unit: Type.Optional(Nullable(Label)),
  },
  { additionalProperties: false },
);
const LinkBody = Type.Object({ evidenceIds: Type.Array(Uuid, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false });
const HoldBody = Type.Object(
  { reason: Type.Enum([...HOLD_REASONS]), text: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })) },
  { additionalProperties: false },
);
const ReleaseRequestBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
const HoldParams = Type.Object({ id: Uuid, holdId: Uuid }, { additionalProperties: false });

const ERRORS = { 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS } as const;

/**
 * Cases, their evidence and their holds (Art. 12; docs/retention.md). A case belongs
 * to a unit (or to none: bureau-wide); a unit-scoped user sees and changes only their
 * unit's cases, and another unit's case answers 404.
 */
export const caseRoutes: ApiRoutes = (app, ctx, done) => {
  const { cases } = ctx;
  // With S3 Object Lock on, held items' objects carry a legal hold in the store too.
  const lock = ctx.objectLock;

  const visibleCase = (p: Principal, id: string): Case => {
    const c = cases.get(id);
    if (!c) throw new NotFoundError('case', id);
    if (!inScope(p, c.unit)) throw new HiddenError('case', id);
    return c;
  };
  const unitOfItem = (id: string): string | null => ctx.evidence.get(id)?.unit ?? null;
  // A case may hold items of other units (linked by a bureau-wide user): a scoped
  // caller sees only the ids of their own unit's items (issue 14).
  /** The name of a user the ledger names as `user:<id>`; null for another actor (the CLI, the daemon). */
  const nameOf = (actor: string | null): string | null => (actor?.startsWith('user:') ? (ctx.users.get(actor.slice(5))?.name ?? null) : null);
  const withNames = (h: Hold) => {
    const names: Record<string, string> = {};
    for (const a of [h.placedBy, h.releaseRequestedBy, h.releasedBy]) {
      const n = a === null ? null : nameOf(a);
      if (a !== null && n !== null) names[a] = n;
    }
    return { ...h, names };
  };
  const detail = (p: Principal, c: Case) => {
    const holds = cases.holdsOf(c.id);
    const ids = cases.evidenceOf(c.id).filter((id) => p.unit === null || inScope(p, unitOfItem(id)));
    return { ...c, createdByName: nameOf(c.createdBy), evidenceIds: ids, holds: holds.map(withNames), held: holds.some((h) => h.state !== 'released') };
  };
  /**
   * A hold covers every item of its case: a scoped caller may not place or release one
   * that would protect or free items of other units. Refused without naming them.
   */
  const holdsWithinScope = (p: Principal, c: Case): void => {
    if (p.unit === null) return;
    if (cases.evidenceOf(c.id).some((id) => !inScope(p, unitOfItem(id)))) {
      throw new AccessDeniedError(
        'FORBIDDEN',
        `case ${c.number} also holds items outside your unit: its holds are placed and released by a bureau-wide supervisor`,
        c.id,
      );
    }
  };
  const holdOf = (p: Principal, caseId: string, holdId: string): Hold => {
    holdsWithinScope(p, visibleCase(p, caseId));
    const h = cases.getHold(holdId);
    if (!h || h.caseId !== caseId) throw new NotFoundError('hold', holdId);
    return h;
  };

  app.post(
    `${API_PREFIX}/cases`,
    {
      config: { access: 'cases.write' },
      schema: {
        tags: ['cases'],
        summary: 'Create a case',
        description:
          "A unit-scoped caller's case is in their unit (a different unit is refused). Case numbers are unique per unit (and among the bureau-wide cases): a number already used in the case's unit answers 409 CASE_NUMBER_TAKEN; another unit's numbers are free.",
        body: CreateBody,
        response: { 201: CaseDetail, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const unit = req.body.unit ?? p.unit;
      if (p.unit !== null && unit !== p.unit) throw new InvalidInputError(`you may create cases only in your unit (${p.unit})`);
      // Numbers are unique per unit (issue 14): only a number of the case's own unit is
      // taken, so the answer says nothing about other units' cases.
      const c = cases.create({ number: req.body.number, name: req.body.name, unit }, actorOf(p));
      return reply.code(201).header('location', `${API_PREFIX}/cases/${c.id}`).send(detail(p, c));
    },
  );

  app.get(
    `${API_PREFIX}/cases`,
    {
      config: { access: 'cases.read' },
      schema: { tags: ['cases'], summary: 'Cases in my scope, newest first', response: { 200: Type.Object({ items: Type.Array(CaseSummary) }), ...COMMON_ERRORS } },
    },
    async (req) => {
      const p = principalOf(req);
      return { items: cases.list(p.unit) };
    },
  );

  app.get(
    `${API_PREFIX}/cases/:id`,
    {
      config: { access: 'cases.read' },
      schema: { tags: ['cases'], summary: 'One case: its evidence and holds', params: IdParams, response: { 200: CaseDetail, 404: ErrorBody, ...COMMON_ERRORS } },
    },
    async (req) => {
      const p = principalOf(req);
      return detail(p, visibleCase(p, req.params.id));
    },
  );

  app.post(
    `${API_PREFIX}/cases/:id/evidence`,
    {
      config: { access: 'cases.write' },
      schema: {
        tags: ['cases'],
        summary: 'Link evidence to a case',
        description: 'Items already linked are left as they are. Linking to a held case holds the item too (and withdraws its purge announcement).',
        params: IdParams,
        body: LinkBody,
        response: { 200: Type.Object({ linked: Type.Array(Type.String()), case: CaseDetail }), 410: ErrorBody, ...ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const c = visibleCase(p, req.params.id);
      for (const id of req.body.evidenceIds) visibleEvidence(ctx, p, id);
      const linked = cases.link(c.id, req.body.evidenceIds, actorOf(p));
      const d = detail(p, c);
      if (d.held) await lock?.holdsChanged(linked);
      return { linked, case: d };
    },
  );

  app.post(
    `${API_PREFIX}/cases/:id/holds`,
    {
      config: { access: 'holds.manage' },
      schema: {
        tags: ['cases'],
        summary: 'Protect a case (Art. 12): hold every linked item',
        description: 'reason: dispute (the subject disputes or may complain), obstruction (the subject obstructed, insulted or assaulted officers), sensitive (another major or sensitive situation), or other with a text.',
        params: IdParams,
        body: HoldBody,
        response: { 201: HoldSchema, ...ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const c = visibleCase(p, req.params.id);
      holdsWithinScope(p, c);
      const h = cases.placeHold(c.id, { reason: req.body.reason, text: req.body.text ?? null }, actorOf(p));
      await lock?.holdsChanged(cases.evidenceOf(c.id));
      return reply.code(201).send(withNames(h));
    },
  );

  app.post(
    `${API_PREFIX}/cases/:id/holds/:holdId/release-request`,
    {
      config: { access: 'holds.manage' },
      schema: {
        tags: ['cases'],
        summary: 'Ask for a hold to be released (it holds until someone else approves)',
        params: HoldParams,
        body: ReleaseRequestBody,
        response: { 200: HoldSchema, ...ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const h = holdOf(p, req.params.id, req.params.holdId);
      return withNames(cases.requestRelease(h.id, req.body.reason, actorOf(p)));
    },
  );

  app.post(
    `${API_PREFIX}/cases/:id/holds/:holdId/release`,
    {
      config: { access: 'holds.release' },
      schema: {
        tags: ['cases'],
        summary: "Approve a requested release: by someone other than who asked",
        params: HoldParams,
        response: { 200: HoldSchema, ...ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const h = holdOf(p, req.params.id, req.params.holdId);
      const released = cases.approveRelease(h.id, actorOf(p));
      await lock?.holdsChanged(cases.evidenceOf(h.caseId));
      return withNames(released);
    },
  );
  done();
};
