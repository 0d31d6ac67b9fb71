import Type from 'typebox';
import { actorOf, HiddenError, InvalidInputError, inScope, type Principal } from '../../access/index.js';
import { FLAG_RULES, complianceReport, parseCsv, RosterError, type NewAssignment } from '../../compliance/index.js';
import { CustodyError, NotFoundError } from '../../core/index.js';
import { API_PREFIX, type ApiRoutes, isoParam, principalOf } from '../context.js';
import { COMMON_ERRORS, DateTime, ErrorBody, IdParams, Label, Nullable, Serial } from '../schemas.js';

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

const AssignmentBody = Type.Object({
  id: Type.String(),
  officer: Type.String(),
  officerName: Type.String(),
  recorderSerial: Type.String(),
  unit: Nullable(Type.String()),
  startsAt: Type.String(),
  endsAt: Nullable(Type.String()),
  source: Type.Enum(['manual', 'import']),
  createdAt: Type.String(),
  createdBy: Type.String(),
  endedBy: Nullable(Type.String()),
});

const Officer = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' });

const Figures = {
  assignments: Type.Integer(),
  clips: Type.Integer(),
  hoursRecorded: Type.Number(),
  onTimeRate: Nullable(Type.Number()),
  uploadDelay: Type.Object({ medianHours: Nullable(Type.Number()), worstHours: Nullable(Type.Number()) }),
  delayBuckets: Type.Array(Type.Integer(), { description: 'clips per upload-delay bucket, in the order of delayBucketsHours' }),
  openFlags: Type.Object(Object.fromEntries(FLAG_RULES.map((r) => [r, Type.Integer()]))),
};

/** One column of a roster, per line (an empty or missing cell is ''). */
function columnOf(csv: string, name: string): string[] {
  const rows = parseCsv(csv);
  const header = rows.shift();
  const i = header ? header.fields.map((f) => f.trim().toLowerCase()).indexOf(name) : -1;
  return rows.map((r) => (i < 0 ? '' : (r.fields[i] ?? '').trim()));
}

/** Assignments (who had which recorder) and the compliance report (docs/compliance.md). */
export const complianceRoutes: ApiRoutes = (app, ctx, done) => {
  // Every change names the caller as its actor.
  const { compliance } = ctx;

  /**
   * What a unit-scoped caller may name in an assignment (issue 14): only an officer and
   * a recorder registered in their own unit. An unknown one and one of another unit
   * are refused the same way — the same 404 body, the same refusal on record
   * (`access.denied` OUT_OF_SCOPE), the same work — so a unit cannot find out which
   * numbers and serials other units have. (Officer numbers and serials are bureau-wide
   * keys: a unit cannot have "its own" officer 0520 beside another unit's.) New
   * officers and recorders are registered by a bureau-wide user, or a recorder by
   * docking. Bureau-wide callers are not limited.
   */
  const assignableByScoped = (p: Principal, officer: string | null, recorder: string | null): void => {
    if (p.unit === null) return;
    if (officer !== null) {
      const o = compliance.assignments.officer(officer);
      if (o?.unit !== p.unit) throw new HiddenError('officer', officer);
    }
    if (recorder !== null && ctx.devices.unitOf(recorder) !== p.unit) throw new HiddenError('recorder', recorder);
  };

  app.get(
    `${API_PREFIX}/assignments`,
    {
      config: { access: 'compliance.read' },
      schema: {
        tags: ['compliance'],
        summary: 'Assignments of recorders to officers, oldest first',
        querystring: Type.Object(
          {
            unit: Type.Optional(Label),
            officer: Type.Optional(Officer),
            device: Type.Optional(Serial),
            from: Type.Optional(DateTime),
            to: Type.Optional(DateTime),
            open: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(AssignmentBody) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const q = req.query;
      if (p.unit !== null && q.unit !== undefined && q.unit !== p.unit) return { items: [] };
      const items = compliance.assignments.list(
        {
          unit: p.unit ?? q.unit,
          officer: q.officer,
          recorder: q.device,
          from: q.from === undefined ? undefined : isoParam('from', q.from),
          to: q.to === undefined ? undefined : isoParam('to', q.to),
          open: q.open,
        },
        q.limit ?? 200,
      );
      return { items };
    },
  );

  app.post(
    `${API_PREFIX}/assignments`,
    {
      config: { access: 'assignments.write' },
      schema: {
        tags: ['compliance'],
        summary: 'Assign a recorder to an officer for a shift',
        body: Type.Object(
          {
            officer: Officer,
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            unit: Type.Optional(Label),
            recorder: Serial,
            startsAt: DateTime,
            endsAt: Type.Optional(DateTime),
          },
          { additionalProperties: false },
        ),
        response: { 201: AssignmentBody, 200: AssignmentBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const b = req.body;
      // Every object the write touches must be in the caller's scope (issue 14): the
      // officer as registered (else a unit could move another unit's officer), the unit
      // the assignment would get, and the recorder (else its clips would be credited to
      // someone of another unit). Officer numbers and recorder serials are bureau-wide,
      // so a unit-scoped caller names only officers and recorders registered in their
      // own unit: one unknown and one of another unit are refused alike (see
      // assignableByScoped), else creating the one and refusing the other would tell
      // them apart. Bureau-wide callers register new ones.
      assignableByScoped(p, b.officer, b.recorder);
      const officer = compliance.assignments.officer(b.officer);
      const unit = b.unit ?? officer?.unit ?? null;
      if (!inScope(p, unit)) throw new HiddenError('officer', b.officer);
      const input: NewAssignment = { officer: b.officer, name: b.name, unit: b.unit, recorder: b.recorder, start: b.startsAt, end: b.endsAt ?? null };
      try {
        const r = compliance.assignments.add(input, actorOf(p));
        return reply.code(r.created ? 201 : 200).send(r.assignment);
      } catch (e) {
        // The clash may be another unit's assignment: a scoped caller is not told whose.
        if (p.unit !== null && e instanceof CustodyError && e.code === 'ASSIGNMENT_OVERLAP') {
          throw new CustodyError('ASSIGNMENT_OVERLAP', `recorder ${b.recorder} is already assigned for part of that time`);
        }
        throw e;
      }
    },
  );

  app.post(
    `${API_PREFIX}/assignments/import`,
    {
      config: { access: 'assignments.write' },
      schema: {
        tags: ['compliance'],
        summary: 'Import a duty roster (the CSV of docs/compliance.md, as a JSON string); every bad line is reported and then nothing is imported',
        body: Type.Object({ csv: Type.String({ minLength: 1, maxLength: 60_000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ created: Type.Integer(), unchanged: Type.Integer(), items: Type.Array(AssignmentBody) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      // A unit-scoped user imports only their own unit's lines, for officers and
      // recorders of their unit: checked before anything is written.
      if (p.unit !== null) {
        const units = new Set(columnOf(req.body.csv, 'unit'));
        for (const u of units) if (u !== p.unit) throw new InvalidInputError(`the roster names unit "${u}"; a user of unit ${p.unit} may import only that unit's lines`);
        // Empty cells are the roster's own errors (reported per line below).
        for (const number of new Set(columnOf(req.body.csv, 'officer'))) if (number !== '') assignableByScoped(p, number, null);
        for (const serial of new Set(columnOf(req.body.csv, 'recorder'))) if (serial !== '') assignableByScoped(p, null, serial);
      }
      try {
        const r = compliance.assignments.importCsv(req.body.csv, actorOf(p));
        return { created: r.created, unchanged: r.unchanged, items: r.assignments };
      } catch (e) {
        // A line's clash may be with another unit's assignment: a scoped caller is told
        // only that the recorder is taken, not by whom.
        if (p.unit !== null && e instanceof RosterError) {
          throw new RosterError(e.problems.map((x) => (/ is already assigned to officer /.test(x.message) ? { line: x.line, message: `${x.message.split(' is already assigned')[0]} is already assigned for part of that time` } : x)));
        }
        throw e;
      }
    },
  );

  app.post(
    `${API_PREFIX}/assignments/:id/end`,
    {
      config: { access: 'assignments.write' },
      schema: {
        tags: ['compliance'],
        summary: 'End an open assignment (the recorder was handed back), now or at endsAt',
        params: IdParams,
        body: Type.Optional(Type.Object({ endsAt: Type.Optional(DateTime) }, { additionalProperties: false })),
        response: { 200: AssignmentBody, 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const a = compliance.assignments.get(req.params.id);
      if (!a) throw new NotFoundError('assignment', req.params.id);
      if (!inScope(p, a.unit)) throw new HiddenError('assignment', req.params.id);
      return compliance.assignments.end(a.id, actorOf(p), req.body?.endsAt);
    },
  );

  app.get(
    `${API_PREFIX}/reports/compliance`,
    {
      config: { access: 'compliance.read' },
      schema: {
        tags: ['compliance'],
        summary: 'Per unit and officer: assignments, clips, hours recorded, on-time rate, median and worst upload delay, delays by bucket, open flags by rule; timeliness per day; device health',
        description: `Footage recorded in [from, to); default the last 30 days, at most ${MAX_DAYS} days.`,
        querystring: Type.Object({ from: Type.Optional(DateTime), to: Type.Optional(DateTime), unit: Type.Optional(Label) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            timezone: Type.String(),
            uploadDeadlineHours: Type.Number(),
            maxClockDriftSeconds: Type.Number(),
            repairDeadlineHours: Type.Number(),
            delayBucketsHours: Type.Array(Type.Number(), {
              description: 'lower bounds of the upload-delay buckets in hours: bucket i holds delays above bound i up to and including bound i+1 (the first from 0, the last open)',
            }),
            units: Type.Array(Type.Object({ unit: Nullable(Type.String()), ...Figures })),
            officers: Type.Array(Type.Object({ unit: Nullable(Type.String()), officer: Nullable(Type.String()), name: Nullable(Type.String()), ...Figures })),
            timeliness: Type.Array(
              Type.Object({
                unit: Nullable(Type.String()),
                days: Type.Array(Type.Object({ day: Type.String({ description: 'YYYY-MM-DD in the station\'s time zone, by recorded start' }), clips: Type.Integer(), onTime: Type.Integer(), onTimeRate: Type.Number() })),
              }),
              { description: 'per unit, per local day with footage: clips and how many were handed in on time' },
            ),
            devices: Type.Array(
              Type.Object({
                serial: Type.String(),
                unit: Nullable(Type.String()),
                officer: Nullable(Type.String()),
                model: Nullable(Type.String()),
                status: Type.String(),
                repair: Nullable(Type.Object({ reportedAt: Type.String(), dueBy: Type.String(), overdue: Type.Boolean() }, { description: 'a recorder reported damaged: since when, and the Art. 14 deadline' })),
                docks: Type.Integer({ description: 'docks in the period' }),
                verdicts: Type.Object({ ready: Type.Integer(), notReady: Type.Integer(), unchecked: Type.Integer() }),
                battery: Type.Object({
                  first: Nullable(Type.Number()),
                  last: Nullable(Type.Number()),
                  min: Nullable(Type.Number()),
                  changePerWeek: Nullable(Type.Number({ description: 'least-squares trend of the battery at dock, percentage points per week' })),
                }),
                clockDrift: Type.Object({ lastMs: Nullable(Type.Integer()), worstMs: Nullable(Type.Integer()), overLimit: Type.Integer({ description: 'docks whose drift exceeded maxClockDriftSeconds' }) }),
                lastDockedAt: Nullable(Type.String()),
              }),
              { description: 'device health: each recorder of the units reported on (by its registered unit), from its pre-duty checks at the docks in the period' },
            ),
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
      return complianceReport(ctx.catalog, {
        from,
        to,
        unit: req.query.unit,
        scopeUnit: p.unit,
        timezone: ctx.config.timezone,
        uploadDeadlineHours: ctx.config.compliance.uploadDeadlineHours,
        maxClockDriftSeconds: ctx.config.compliance.maxClockDriftSeconds,
        repairDeadlineHours: ctx.config.compliance.repairDeadlineHours,
      });
    },
  );
  done();
};
