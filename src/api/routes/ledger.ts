import Type from 'typebox';
import { actorOf } from '../../access/index.js';
import { NotFoundError } from '../../core/index.js';
import { latestCheckpoint } from '../../proof/index.js';
import { entryFromRaw, rawCanonicalLine, type RawLedgerRow } from '../../ledger/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { COMMON_ERRORS, Cursor, ErrorBody, LedgerEntry, Nullable } from '../schemas.js';

const Problem = Type.Object({ code: Type.String(), seq: Type.Optional(Type.Integer()), key: Type.Optional(Type.String()), message: Type.String() });

const Summary = Type.Object({
  ok: Type.Boolean(),
  deep: Type.Boolean(),
  startedAt: Type.String(),
  finishedAt: Type.String(),
  startedBy: Type.String(),
  entries: Type.Integer(),
  objects: Type.Integer(),
  segments: Type.Integer(),
  unsealed: Type.Integer(),
  purged: Type.Integer(),
  bytesHashed: Type.Integer(),
  durationMs: Type.Integer(),
  problems: Type.Array(Problem),
  problemCount: Type.Integer(),
  error: Nullable(Type.String()),
});

const Running = Type.Object({
  deep: Type.Boolean(),
  startedAt: Type.String(),
  startedBy: Type.String(),
  progress: Nullable(Type.Object({ phase: Type.String(), done: Type.Integer(), total: Type.Integer() })),
});

const VerifyStatus = Type.Object({ running: Nullable(Running), last: Nullable(Summary) });

const TYPE_FILTER = '^[a-z][a-z0-9]*(\\.[a-z][a-z0-9-]*)*$';

export const ledgerRoutes: ApiRoutes = (app, ctx, done) => {
  const db = ctx.catalog.db;
  const page = db.prepare<{ after: number; limit: number; subject: string | null; type: string | null }, RawLedgerRow>(
    `SELECT * FROM ledger WHERE seq > @after AND (@subject IS NULL OR subject = @subject) AND (@type IS NULL OR type = @type)
     ORDER BY seq LIMIT @limit`,
  );

  app.get(
    `${API_PREFIX}/ledger`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'Ledger entries exactly as hashed, in order',
        description:
          'format=json: { entries, next } where next is the seq to pass as after. format=jsonl: one RFC 8785 canonical line per entry, byte for byte the lines of custody ledger export and the sealed segments; the next after-value is in the X-Next-After header.',
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })),
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            type: Type.Optional(Type.String({ pattern: TYPE_FILTER, maxLength: 100 })),
            format: Type.Optional(Type.Enum(['json', 'jsonl'], { default: 'json' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'entries',
            content: {
              'application/json': { schema: Type.Object({ entries: Type.Array(LedgerEntry), next: Nullable(Type.Integer()) }) },
              'application/jsonl': { schema: { type: 'string' } },
            },
          },
          ...COMMON_ERRORS,
        },
      },
    },
    async (req, reply) => {
      const limit = req.query.limit ?? 500;
      const rows = page.all({ after: req.query.after ?? 0, limit: limit + 1, subject: req.query.subject ?? null, type: req.query.type ?? null });
      const shown = rows.slice(0, limit);
      const next = rows.length > limit ? shown[shown.length - 1]!.seq : null;
      if (req.query.format === 'jsonl') {
        const text = shown.map((r) => (rawCanonicalLine(r) ?? JSON.stringify({ seq: r.seq, unreadable: true })) + '\n').join('');
        if (next !== null) void reply.header('x-next-after', String(next));
        return reply.type('application/jsonl; charset=utf-8').send(text);
      }
      // Sent with JSON.stringify, not the schema serializer: data must go out untouched.
      const body = JSON.stringify({ entries: shown.map(entryFromRaw), next });
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.get(
    `${API_PREFIX}/ledger/checkpoint`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'The latest signed checkpoint of the ledger',
        description:
          'A C2SP tlog-checkpoint (origin, tree size, base64 Merkle root) signed as a C2SP signed note with the station key. Save it: a later consistency proof shows the ledger still extends it (custody ledger consistency --from FILE, docs/proofs.md).',
        response: {
          200: { description: 'signed note', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...COMMON_ERRORS,
        },
      },
    },
    async (_req, reply) => {
      const note = ctx.checkpoints ? await ctx.checkpoints.latest() : await latestCheckpoint(ctx.store);
      if (note === null) throw new NotFoundError('checkpoint', 'latest (none issued yet)');
      return reply.type('text/plain; charset=utf-8').send(note);
    },
  );

  app.get(
    `${API_PREFIX}/ledger/verify`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'The last vault verification and the one running now',
        response: { 200: VerifyStatus, ...COMMON_ERRORS },
      },
    },
    async () => ctx.verify.status(),
  );

  app.post(
    `${API_PREFIX}/ledger/verify`,
    {
      config: { access: 'ledger.verify' },
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      },
      schema: {
        tags: ['ledger'],
        summary: 'Start a vault verification (deep re-hashes every object)',
        description: 'Runs in the background; poll GET /ledger/verify. The result is ledgered as vault.verified.',
        body: Type.Object({ deep: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false }),
        response: { 202: Type.Object({ running: Running }), 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const running = ctx.verify.start({ deep: req.body.deep ?? false, actor: actorOf(principalOf(req)) });
      return reply.code(202).send({ running });
    },
  );

  app.get(
    `${API_PREFIX}/auth-failures`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'Refused sign-ins (no, unknown, revoked or expired token), newest first',
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.Integer(),
                at: Type.String(),
                ip: Type.String(),
                reason: Type.String(),
                method: Type.String(),
                url: Type.String(),
                userId: Nullable(Type.String()),
              }),
            ),
            next: Nullable(Type.String()),
          }),
          404: ErrorBody,
          ...COMMON_ERRORS,
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const before = req.query.cursor === undefined ? null : (decodeCursor('auth-failures', req.query.cursor, ['number'])[0] as number);
      const rows = ctx.audit.authFailures(before, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, next: rows.length > limit && last ? encodeCursor('auth-failures', [last.id]) : null };
    },
  );
  done();
};
