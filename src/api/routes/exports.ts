import Type from 'typebox';
import { actorOf, HiddenError, inScope } from '../../access/index.js';
import { authorizeExport, DestinationForbiddenError, resolveDestinations } from '../../archive/index.js';
import { CustodyError, NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Nullable } from '../schemas.js';

const Problem = Type.Object({ code: Type.String(), path: Type.Optional(Type.String()), seq: Type.Optional(Type.Integer()), message: Type.String() });

const CopySchema = Type.Object({
  copy: Type.Integer(),
  destination: Type.String(),
  dir: Nullable(Type.String()),
  ok: Type.Boolean({ description: 'written, read back from its destination and verified' }),
  verified: Type.Boolean(),
  tagManifestSha256: Nullable(Type.String()),
  problems: Type.Array(Problem),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  warnings: Type.Array(Type.String()),
  iso: Nullable(Type.Object({ path: Type.String(), size: Type.Integer(), sha256: Type.String() })),
});

const ExportSchema = Type.Object({
  ok: Type.Boolean({ description: 'every copy written and verified; false: see each copy' }),
  exportId: Type.String(),
  caseId: Type.String(),
  items: Type.Integer(),
  bytes: Type.Integer(),
  checkpointSize: Nullable(Type.Integer()),
  held: Type.Boolean({ description: 'the case was protected by an unreleased hold' }),
  seq: Type.Integer({ description: 'seq of the export.created ledger entry' }),
  copies: Type.Array(CopySchema),
});

const Body = Type.Object(
  {
    destinations: Type.Array(Type.String({ minLength: 1, maxLength: 1024, pattern: '^/' }), { minItems: 1, maxItems: 10 }),
    maker: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
    iso: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

class ExportRouteError extends CustodyError {}

/**
 * POST /api/v1/cases/{id}/exports: the archival copies of a case (Art. 12; issue 8;
 * docs/archive.md), by an archivist or an admin. Destinations are folders on the
 * station, each resolving (symlinks too) inside one of `archive.destinationRoots`
 * (none configured: refused). Runs to the end before answering (each copy is written
 * and verified as read back); one export at a time.
 *
 * An export is an access (Art. 13, issue 14): the case must be protected and the
 * caller must hold an approved access request for it, approved by someone else; only
 * the items of that request in the caller's scope are exported, each registered in
 * the ledger before it is written.
 */
export const exportRoutes: ApiRoutes = (app, ctx, done) => {
  const cases = ctx.caseSource;
  const roots = ctx.config.archive.destinationRoots;
  let running = false;

  app.post(
    `${API_PREFIX}/cases/:id/exports`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: 'Write the archival copies of a case (BagIt, each verified as read back)',
        description:
          'An export is an access: the case must be protected by an unreleased hold (else 403 EXPORT_CASE_NOT_PROTECTED) and the caller must hold an approved, unexpired access request for the case (POST /access-requests {caseId}; else 403 EXPORT_GRANT_REQUIRED) approved by someone who may approve for the case\'s unit (else 403 EXPORT_APPROVER_INVALID). Only the items of that request in the caller\'s scope are exported, each registered as access.exported before it is written. One copy per destination (archive.copies of them), each a folder resolving inside archive.destinationRoots with no symlink below the root. Answers 201 when the export ran: ok tells whether every copy was written and verified; a failed copy is named with its error, the others reported as they are. The export is ledgered as export.created.',
        params: IdParams,
        body: Body,
        response: { 201: ExportSchema, 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const kase = cases.findCase(req.params.id, p.unit);
      if (!kase || kase.id !== req.params.id) throw new NotFoundError('case', req.params.id);
      if (!inScope(p, kase.unit)) throw new HiddenError('case', req.params.id);
      if (roots.length === 0) throw new DestinationForbiddenError('the API writes exports only inside archive.destinationRoots, and none is configured');
      const access = authorizeExport({ cases, access: ctx.access, users: ctx.users }, p, kase);
      // Checked here to refuse early, and again by the export itself just before writing.
      await resolveDestinations(req.body.destinations, roots);
      if (running) throw new ExportRouteError('EXPORT_RUNNING', 'an export is running; try again when it has finished');
      running = true;
      try {
        const archive = await ctx.archive();
        const r = await archive.exportCase({
          caseRef: kase.id,
          destinations: req.body.destinations,
          maker: req.body.maker,
          actor: actorOf(p),
          access,
          iso: req.body.iso ?? false,
        });
        const { case: c, ...rest } = r;
        return reply.code(201).send({ ...rest, caseId: c.id });
      } finally {
        running = false;
      }
    },
  );
  done();
};
