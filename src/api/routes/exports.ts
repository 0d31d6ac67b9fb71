import Type from 'typebox';
import { actorOf, HiddenError, inScope, type Principal } from '../../access/index.js';
import { authorizeExport, DestinationForbiddenError, type ExportJob, type ExportRecord, resolveDestinations, scrub, tagManifestDigest, verifyExport } from '../../archive/index.js';
import { NotFoundError, UsageError } from '../../core/index.js';
import { API_PREFIX, type ApiContext, type ApiRoutes, principalOf } from '../context.js';
import { COMMON_ERRORS, ErrorBody, IdParams, Nullable } from '../schemas.js';

const Problem = Type.Object({ code: Type.String(), path: Type.Optional(Type.String()), seq: Type.Optional(Type.Integer()), message: Type.String() });
const Fault = Type.Object({ code: Type.String(), message: Type.String() });

const CopySchema = Type.Object({
  copy: Type.Integer(),
  destination: Type.String(),
  dir: Nullable(Type.String()),
  ok: Type.Boolean({ description: 'written, read back from its destination and verified' }),
  verified: Type.Boolean(),
  tagManifestSha256: Nullable(Type.String()),
  problems: Type.Array(Problem),
  error: Nullable(Fault),
  warnings: Type.Array(Type.String()),
  iso: Nullable(Type.Object({ path: Type.String(), size: Type.Integer(), sha256: Type.String() })),
});

const ExportResultSchema = Type.Object({
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

const CopyProgress = Type.Object({
  copy: Type.Integer(),
  phase: Type.Union([Type.Literal('waiting'), Type.Literal('writing'), Type.Literal('verifying'), Type.Literal('verified'), Type.Literal('failed')], {
    description: 'verified only once the copy, read back from its destination, passed every check',
  }),
  files: Type.Integer(),
  filesTotal: Type.Integer(),
  bytes: Type.Integer(),
  bytesTotal: Type.Integer(),
  checkedFiles: Type.Integer({ description: 'payload files checked as read back' }),
  checkedBytes: Type.Integer(),
});

const JobSchema = Type.Object({
  id: Type.String({ description: 'the job id, which is also the export id' }),
  caseId: Type.String(),
  caseNumber: Type.String(),
  caseName: Type.String(),
  caseUnit: Nullable(Type.String()),
  actor: Type.String(),
  maker: Type.String(),
  destinations: Type.Array(Type.String()),
  iso: Type.Boolean(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('interrupted')], {
    description: 'done: every copy written and verified; failed: a copy failed (see result) or the export was refused when it started (error); interrupted: the station stopped while it ran — nothing of it is recorded',
  }),
  progress: Type.Array(CopyProgress),
  result: Nullable(ExportResultSchema),
  error: Nullable(Fault),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
});

const RecordSchema = Type.Object({
  exportId: Type.String(),
  caseId: Type.String(),
  caseNumber: Type.String(),
  caseName: Type.String(),
  organization: Type.String({ description: '制作单位: the making unit' }),
  maker: Type.String({ description: '制作人' }),
  createdAt: Type.String({ description: '制作时间: when the copies were made' }),
  actor: Type.String(),
  items: Type.Integer(),
  bytes: Type.Integer(),
  held: Type.Boolean(),
  ok: Type.Boolean(),
  checkpoint: Nullable(Type.Object({ size: Type.Integer(), root: Nullable(Type.String()), origin: Nullable(Type.String()) })),
  copies: Type.Array(
    Type.Object({
      copy: Type.Integer(),
      copies: Type.Integer(),
      destination: Type.String(),
      dir: Nullable(Type.String()),
      ok: Type.Boolean(),
      verified: Type.Boolean(),
      tagManifestSha256: Nullable(Type.String()),
      error: Nullable(Type.String()),
    }),
  ),
  seq: Type.Integer(),
  recordedAt: Type.String(),
  verifications: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      time: Type.String(),
      actor: Type.String(),
      copy: Nullable(Type.Integer()),
      ok: Type.Boolean(),
      matches: Type.Boolean({ description: "the copy's tag manifest is the one recorded for it at export" }),
      tagManifestSha256: Nullable(Type.String()),
      problems: Type.Integer(),
      codes: Type.Array(Type.String()),
      key: Nullable(Type.Union([Type.Literal('given'), Type.Literal('bag')])),
      via: Type.Union([Type.Literal('cli'), Type.Literal('api')]),
    }),
  ),
});

const ExportView = Type.Object({
  job: Nullable(JobSchema),
  record: Nullable(RecordSchema),
});

const Body = Type.Object(
  {
    destinations: Type.Array(Type.String({ minLength: 1, maxLength: 1024, pattern: '^/' }), { minItems: 1, maxItems: 10 }),
    maker: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
    iso: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

const ExportIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9a-f-]+$' }) }, { additionalProperties: false });

/** The caller may see an export when they may see its case (another unit's answers as missing). */
function visibleExport(ctx: ApiContext, p: Principal, id: string): Promise<{ job: ExportJob | null; record: ExportRecord | null }> {
  const job = ctx.exportJobs.get(id);
  return ctx.exportRecords.get(id).then((record) => {
    const caseId = job?.caseId ?? record?.caseId ?? null;
    if (caseId === null) throw new NotFoundError('export', id);
    const kase = ctx.caseSource.findCase(caseId);
    if (!kase) throw new NotFoundError('export', id);
    if (!inScope(p, kase.unit)) throw new HiddenError('export', id);
    return { job, record };
  });
}

/**
 * Archival exports (Art. 12; issues 8, 19; docs/archive.md), by an archivist or an
 * admin. `POST /cases/{id}/exports` checks the request and starts the export as a job
 * (202); `GET /exports/{id}` is its status (per copy: files, bytes, read back) and,
 * once recorded, the export's record: the data of the disc labels and the handover
 * sheet, and the checks of copies re-mounted later (`POST /exports/{id}/verifications`).
 *
 * An export is an access (Art. 13, issue 14): the case must be protected and the
 * caller must hold an approved access request for it, approved by someone else; only
 * the items of that request in the caller's scope are exported, each registered in
 * the ledger before it is written.
 */
export const exportRoutes: ApiRoutes = (app, ctx, done) => {
  const cases = ctx.caseSource;
  const roots = ctx.config.archive.destinationRoots;

  app.get(
    `${API_PREFIX}/exports/destinations`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: 'Where exports may be written: the folders of archive.destinationRoots, and how many copies an export makes',
        response: { 200: Type.Object({ roots: Type.Array(Type.String()), copies: Type.Integer() }), ...COMMON_ERRORS },
      },
    },
    async () => ({ roots: [...roots], copies: ctx.config.archive.copies }),
  );

  app.post(
    `${API_PREFIX}/cases/:id/exports`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: 'Start the archival copies of a case as a job (BagIt, each verified as read back)',
        description:
          'An export is an access: the case must be protected by an unreleased hold (else 403 EXPORT_CASE_NOT_PROTECTED) and the caller must hold an approved, unexpired access request for the case (POST /access-requests {caseId}; else 403 EXPORT_GRANT_REQUIRED) approved by someone who may approve for the case\'s unit (else 403 EXPORT_APPROVER_INVALID). Only the items of that request in the caller\'s scope are exported, each registered as access.exported before it is written. One copy per destination (archive.copies of them), each a folder resolving inside archive.destinationRoots with no symlink below the root. These are checked before answering; the export then runs as a job: 202 with the job, whose status GET /exports/{id} gives (one export at a time: 409 EXPORT_RUNNING). The export is ledgered as export.created.',
        params: IdParams,
        body: Body,
        response: { 202: JobSchema, 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
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
      const copies = ctx.config.archive.copies;
      if (req.body.destinations.length !== copies) throw new UsageError(`an export makes ${copies} copies: give ${copies} destinations, got ${req.body.destinations.length}`);
      const job = ctx.exportJobs.start({ kase, destinations: req.body.destinations, maker: req.body.maker, actor: actorOf(p), access, iso: req.body.iso ?? false });
      return reply.code(202).send(job);
    },
  );

  app.get(
    `${API_PREFIX}/exports`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: 'Export jobs started through the API, newest first (of one case with caseId), within the caller\'s units',
        querystring: Type.Object({ caseId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(JobSchema) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const jobs = req.query.caseId === undefined ? ctx.exportJobs.recent(200, p.unit) : ctx.exportJobs.forCase(req.query.caseId);
      return { items: jobs.filter((j) => inScope(p, j.caseUnit)) };
    },
  );

  app.get(
    `${API_PREFIX}/exports/:id`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: "An export: its job (status, progress per copy, result) and, once recorded, its record (labels, handover sheet, later checks)",
        description:
          'job is null for an export made with the CLI (custody export); record is null until the export is recorded (export.created), and stays null for an export that was refused at its start or interrupted.',
        params: ExportIdParams,
        response: { 200: ExportView, 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => visibleExport(ctx, principalOf(req), req.params.id),
  );

  app.post(
    `${API_PREFIX}/exports/:id/verifications`,
    {
      config: { access: 'cases.export' },
      schema: {
        tags: ['cases'],
        summary: 'Check a copy of this export where it is mounted now (custody verify-export) and record the result against the export',
        description:
          'dir is the copy\'s folder as mounted on the station (a re-mounted disc), inside archive.destinationRoots. The check is custody verify-export\'s, with the station\'s verifier key; ok only when the copy verifies and its tag manifest is the one recorded for that copy. Recorded as export.verified (201), also when it does not verify. A folder that is not a copy of this export: 409 EXPORT_COPY_MISMATCH.',
        params: ExportIdParams,
        body: Type.Object({ dir: Type.String({ minLength: 1, maxLength: 1024, pattern: '^/' }) }, { additionalProperties: false }),
        response: {
          201: Type.Object({ seq: Type.Integer(), copy: Nullable(Type.Integer()), ok: Type.Boolean(), matches: Type.Boolean(), problems: Type.Array(Problem) }),
          404: ErrorBody,
          409: ErrorBody,
          ...COMMON_ERRORS,
        },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { record } = await visibleExport(ctx, p, req.params.id);
      if (!record) throw new NotFoundError('export', req.params.id);
      if (roots.length === 0) throw new DestinationForbiddenError('the API reads copies only inside archive.destinationRoots, and none is configured');
      const [dir] = await resolveDestinations([req.body.dir], roots);
      const archive = await ctx.archive();
      const report = await verifyExport(dir!, archive.verifierKey ? { verifierKey: archive.verifierKey } : {});
      const entry = await ctx.exportRecords.recordVerification({ exportId: record.exportId, report, tagManifestSha256: await tagManifestDigest(dir!), actor: actorOf(p), via: 'api' });
      const d = entry.data as { copy: number | null; ok: boolean; matches: boolean };
      return reply.code(201).send({ seq: entry.seq, copy: d.copy, ok: d.ok, matches: d.matches, problems: report.problems.slice(0, 50).map((x) => ({ ...x, message: scrub(x.message) })) });
    },
  );
  done();
};
