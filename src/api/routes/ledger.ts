import { PassThrough } from 'node:stream';
import Type from 'typebox';
import { actorOf } from '../../access/index.js';
import { NotFoundError } from '../../core/index.js';
import { latestCheckpoint, parseCheckpoint, splitNote, witnessesFor } from '../../proof/index.js';
import { entryFromRaw, exportLedger, ledgerOf, rawCanonicalLine, type RawLedgerRow } from '../../ledger/index.js';
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
  unclaimed: Nullable(
    Type.Object({
      count: Type.Integer(),
      bytes: Type.Integer(),
      objects: Type.Array(
        Type.Object({
          sha256: Type.String(),
          size: Type.Integer(),
          kind: Type.Enum(['video', 'audio', 'photo', 'thumbnail', 'catalog-snapshot', 'unknown']),
        }),
      ),
    }, { description: "the vault's objects no ledger entry names (kept, not a problem): footage whose entries were lost, or a crash's leftovers; the first 50 listed. Null: not counted by this run" }),
  ),
  error: Nullable(Type.String()),
});

const Running = Type.Object({
  deep: Type.Boolean(),
  startedAt: Type.String(),
  startedBy: Type.String(),
  progress: Nullable(
    Type.Object({
      phase: Type.String({ description: 'ledger, segments, objects, proxies; then unclaimed while the vault is listed against the ledger (done: objects listed; total 0: not known)' }),
      done: Type.Integer(),
      total: Type.Integer(),
    }),
  ),
});

const VerifyStatus = Type.Object({
  running: Nullable(Running),
  last: Nullable(Summary),
  interrupted: Nullable(Type.Object({ deep: Type.Boolean(), startedAt: Type.String(), startedBy: Type.String() }, { description: 'a verification a stop of the station ended before its result was recorded (until the next one is recorded)' })),
});

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
    `${API_PREFIX}/ledger/checkpoint/summary`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'The latest signed checkpoint, read: size, root, the entry it ends at, who signed it, and what each witness holds',
        description:
          'The note itself is GET /ledger/checkpoint. lastEntry is the entry the checkpoint covers last (its time is when the ledger reached that size); head is the ledger\'s newest entry now. Each configured witness (checkpoints.witnesses) is named by its folder\'s last part, with the size of the latest checkpoint it holds (null: none yet or not reachable).',
        response: {
          200: Type.Object({
            checkpoint: Nullable(
              Type.Object({
                origin: Type.String(),
                size: Type.Integer(),
                root: Type.String({ description: 'base64 Merkle root' }),
                signers: Type.Array(Type.String()),
                lastEntry: Nullable(Type.Object({ seq: Type.Integer(), time: Type.String(), hash: Type.String() })),
              }),
            ),
            head: Nullable(Type.Object({ seq: Type.Integer(), time: Type.String(), hash: Type.String() })),
            witnesses: Type.Array(Type.Object({ name: Type.String(), reachable: Type.Boolean(), size: Nullable(Type.Integer()) })),
          }),
          ...COMMON_ERRORS,
        },
      },
    },
    async () => {
      const note = ctx.checkpoints ? await ctx.checkpoints.latest() : await latestCheckpoint(ctx.store);
      const ledger = ledgerOf(ctx.catalog);
      const at = (seq: number): { seq: number; time: string; hash: string } | null => {
        const e = seq > 0 ? ledger.get(seq) : null;
        return e ? { seq: e.seq, time: e.time, hash: e.hash } : null;
      };
      const headSeq = (db.prepare('SELECT max(seq) AS seq FROM ledger').get() as { seq: number | null }).seq ?? 0;
      let checkpoint = null;
      if (note !== null) {
        const split = splitNote(note);
        const cp = parseCheckpoint(split.text);
        checkpoint = { origin: cp.origin, size: cp.size, root: cp.root.toString('base64'), signers: split.signatures.map((x) => x.name), lastEntry: at(cp.size) };
      }
      const witnesses = [];
      for (const w of witnessesFor(ctx.config.checkpoints.witnesses, ctx.config.home, checkpoint?.origin ?? ctx.config.checkpoints.origin)) {
        const name = w.dir.split('/').filter(Boolean).pop() ?? w.dir;
        try {
          const latest = await w.latest();
          witnesses.push({ name, reachable: true, size: latest?.size ?? null });
        } catch {
          witnesses.push({ name, reachable: false, size: null });
        }
      }
      return { checkpoint, head: at(headSeq), witnesses };
    },
  );

  app.get(
    `${API_PREFIX}/ledger/export`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: 'The whole ledger as one download, exactly as custody ledger export writes it',
        description:
          'One RFC 8785 canonical line per entry, in seq order, byte for byte as hashed (application/jsonl, as an attachment). Check it without custody: node scripts/verify-ledger-export.mjs <file> [--head <hash of the last entry, obtained elsewhere>] (docs/ledger.md).',
        response: { 200: { description: 'JSON lines', content: { 'application/jsonl': { schema: { type: 'string' } } } }, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const out = new PassThrough();
      const abort = new AbortController();
      req.raw.once('close', () => abort.abort());
      exportLedger({ ledger: ledgerOf(ctx.catalog), out, signal: abort.signal }).then(
        (r) => {
          ctx.log.info({ entries: r.entries, last: r.last, sha256: r.sha256, user: req.principal?.id }, 'ledger export downloaded');
          out.end();
        },
        (err: unknown) => {
          if (!abort.signal.aborted) ctx.log.error({ err }, 'ledger export download failed');
          out.destroy(err as Error);
        },
      );
      const day = new Date().toISOString().slice(0, 10);
      return reply
        .type('application/jsonl; charset=utf-8')
        .header('content-disposition', `attachment; filename="custody-ledger-${day}.jsonl"`)
        .send(out as unknown as string);
    },
  );

  app.get(
    `${API_PREFIX}/ledger/verifier-key`,
    {
      config: { access: 'ledger.read' },
      schema: {
        tags: ['ledger'],
        summary: "The station's public key, as the checkpoint verifier key (C2SP note verifier key: name+key id+Ed25519 public key)",
        description:
          'What checks the station\'s checkpoint signatures (custody verify-export --key, custody ledger consistency). Download it once and keep it apart from the station: a key read from the station itself proves only consistency. 404 when the station key cannot be read.',
        response: { 200: { description: 'verifier key', content: { 'text/plain': { schema: { type: 'string' } } } }, 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (_req, reply) => {
      const key = (await ctx.archive()).verifierKey;
      if (key === null) throw new NotFoundError('station key', 'verifier key');
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-disposition', 'attachment; filename="custody-verifier-key.txt"')
        .send(key + '\n');
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
