import Type from 'typebox';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../access/index.js';
import type { Evidence } from '../../catalog/index.js';
import { CustodyError, rfc3339 } from '../../core/index.js';
import { AccessDeniedError, actorOf, InvalidInputError } from '../../access/index.js';
import { contentKey } from '../../vault/index.js';
import { type ServedObject, webpSize } from '../integrity.js';
import { API_PREFIX, type ApiContext, type ApiRoutes, isoParam, principalOf, visibleEvidence } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { FLAG_RULES } from '../../compliance/index.js';
import { parseRange } from '../range.js';
import { EvidenceQueries, type EvidenceSummary as Summary, type TimeField } from '../queries/evidence.js';
import { COMMON_ERRORS, Cursor, DateTime, ErrorBody, EvidenceSummary, IdParams, Label, LedgerEntry, MediaType, Nullable, Serial, Uuid } from '../schemas.js';
import { ledgerOf } from '../../ledger/index.js';

const SearchQuery = Type.Object(
  {
    officer: Type.Optional(Label),
    device: Type.Optional(Serial),
    unit: Type.Optional(Label),
    type: Type.Optional(MediaType),
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
    time: Type.Optional(Type.Enum(['recorded', 'ingested'], { default: 'recorded', description: 'which time from/to and the order use' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Cursor),
    case: Type.Optional({ ...Uuid, description: 'only items linked to this case (its id)' }),
    flag: Type.Optional(
      Type.Enum([...FLAG_RULES, 'any'], { description: 'only items named by an unresolved compliance flag of this rule (any: of any rule)' }),
    ),
  },
  { additionalProperties: false },
);

/** How the console plays an item (issue 15; docs/api.md, "Playback"). */
const Playback = Type.Object(
  {
    kind: Type.Enum(['original', 'proxy'], { description: 'original: a browser plays the item as recorded; proxy: it needs the browser-playable copy' }),
    status: Type.Enum(['ready', 'pending', 'failed', 'none'], {
      description:
        'ready: url plays; pending: the proxy is queued or being made (or the item is not analysed yet); failed: no proxy could be made; none: no proxy was asked for (an item analysed before proxies existed, or a purged item)',
    }),
    url: Nullable(Type.String({ description: 'GET it with a grant: /evidence/{id}/content for the original, /evidence/{id}/proxy for the proxy; null unless ready' })),
  },
  { description: 'how the item plays in a browser (the original, or its H.264/AAC proxy)' },
);

const EvidenceItem = Type.Object({ ...EvidenceSummary.properties, playback: Playback });

const EvidenceDetail = Type.Object({
  ...EvidenceItem.properties,
  recorded: Type.Object({
    start: Type.String({ description: 'as the recorder reported it' }),
    end: Nullable(Type.String()),
    source: Type.Enum(['metadata', 'filename', 'mtime']),
    clockDriftMs: Nullable(Type.Integer()),
    startCorrected: Nullable(Type.String()),
    endCorrected: Nullable(Type.String()),
  }),
  source: Type.Object({ path: Type.String(), name: Type.String(), mtime: Type.String() }),
  sessionId: Type.String(),
  wipedAt: Nullable(Type.String()),
  media: Nullable(Type.Record(Type.String(), Type.Unknown())),
  ledger: Type.Array(LedgerEntry, { description: "the item's custody history: its ledger entries other than access.*" }),
  accessEntries: Type.Integer({ description: 'how many access.* ledger entries name this item (auditors read them at GET /ledger?subject=)' }),
  grant: Nullable(Type.Object({ requestId: Type.String(), expiresAt: Type.String() }, { description: "the caller's grant to view the content, if any" })),
  retentionDate: Type.String({ description: 'when the retention policy lets the item go (docs/retention.md); holds keep it longer' }),
  retention: Type.Object({
    state: Type.Enum(['retained', 'pending-purge', 'held', 'purged']),
    announcedAt: Nullable(Type.String()),
    dueAt: Nullable(Type.String({ description: 'pending-purge: the first purge run from then on purges it' })),
    purgedAt: Nullable(Type.String()),
  }),
  holds: Type.Array(
    Type.Object({
      holdId: Type.String(),
      caseId: Type.String(),
      caseNumber: Type.String(),
      reason: Type.Enum(['dispute', 'obstruction', 'sensitive', 'other']),
      reasonText: Nullable(Type.String()),
      placedAt: Type.String(),
    }),
    { description: 'the unreleased holds that protect the item from the purge' },
  ),
  cases: Type.Array(Type.Object({ id: Type.String(), number: Type.String(), name: Type.String() })),
  flags: Type.Array(
    Type.Object({
      id: Type.String(),
      rule: Type.String(),
      state: Type.Enum(['open', 'escalated', 'resolved']),
      summary: Type.String(),
      raisedAt: Type.String(),
      dueBy: Type.String(),
      resolvedAt: Nullable(Type.String()),
    }),
    { description: 'the compliance flags that name this item (docs/compliance.md), resolved ones included' },
  ),
});

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
  ts: 'video/mp2t',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  aac: 'audio/aac',
  amr: 'audio/amr',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

function extensionOf(name: string): string {
  const m = /\.([A-Za-z0-9]{1,5})$/.exec(name);
  return m ? m[1]!.toLowerCase() : '';
}

function summaryOf(ev: Evidence, playback: Summary['playback']): Summary {
  return {
    id: ev.id,
    sha256: ev.sha256,
    size: ev.size,
    type: ev.mediaType,
    officer: ev.officer,
    device: ev.recorderSerial,
    unit: ev.unit,
    recordedAt: ev.recordedStartCorrected ?? ev.recordedStart,
    recordedEnd: ev.recordedEndCorrected ?? ev.recordedEnd,
    ingestedAt: ev.ingestedAt,
    durationMs: ev.durationMs,
    status: ev.status,
    thumbnail: ev.thumbnailSha256 !== null,
    playback,
  };
}

/** The content type fastify gives the JSON it serialises. */
const JSON_UTF8 = 'application/json; charset=utf-8';

/** A stream as a reply body (the schema-typed send() only knows the documented string form). */
const asBody = (s: Readable): string => s as unknown as string;

/** The longest side of a frame served as a preview without a grant (api.previews: video-frames). */
const PREVIEW_MAX_PX = 320;

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function requireLive(ev: Evidence): void {
  if (ev.status === 'purged') throw new CustodyError('EVIDENCE_PURGED', `evidence ${ev.id} was purged under the retention policy; its record remains`);
}

/** The request headers and answers of a footage route (/content, /proxy): Range, 206, 416. */
const FOOTAGE_HEADERS = Type.Object({ range: Type.Optional(Type.String({ maxLength: 1024 })), 'if-range': Type.Optional(Type.String({ maxLength: 200 })) });
const footageResponses = (...types: string[]) => {
  const content = Object.fromEntries(types.map((t) => [t, { schema: { type: 'string', format: 'binary' } }]));
  return {
    200: { description: 'the whole object', content },
    206: { description: 'one byte range', content },
    404: ErrorBody,
    410: ErrorBody,
    416: ErrorBody,
    ...COMMON_ERRORS,
  };
};

/** The caller's grant to view the item's footage (its original or its proxy), else 403 ACCESS_GRANT_REQUIRED. */
function requireGrant(ctx: ApiContext, p: Principal, ev: Evidence): { requestId: string } {
  const grant = ctx.access.grantFor(p.id, ev.id);
  if (!grant) {
    throw new AccessDeniedError(
      'ACCESS_GRANT_REQUIRED',
      `viewing evidence ${ev.id} needs an approved access request: POST ${API_PREFIX}/access-requests, then approval by a supervisor`,
      ev.id,
    );
  }
  return grant;
}

/** The object a footage route sends: the original, or the item's proxy. */
interface Footage extends ServedObject {
  contentType: string;
  extension: string;
}

/**
 * Send an item's footage (the original or its proxy) with Range support, under the
 * caller's grant. One code path for both, so both keep the same rules: the item in
 * scope (else 404, like missing), live (410), an approved unexpired grant (403); the
 * stored size checked before anything is sent and a whole read hashed on the way;
 * the object opened, then `access.viewed` ledgered (naming the proxy when it is one),
 * then the bytes sent.
 */
async function sendFootage(
  ctx: ApiContext,
  req: { headers: { range?: string | undefined; 'if-range'?: string | undefined }; ip: string },
  reply: FastifyReply,
  p: Principal,
  ev: Evidence,
  grant: { requestId: string },
  obj: Footage,
): Promise<FastifyReply> {
  const etag = `"${obj.sha256}"`;
  const ifRange = req.headers['if-range'];
  const rangeHeader = ifRange === undefined || ifRange === etag ? req.headers.range : undefined;
  const range = parseRange(rangeHeader, obj.size);
  if (range.kind === 'unsatisfiable') {
    void reply.header('content-range', `bytes */${obj.size}`);
    throw new CustodyError('RANGE_NOT_SATISFIABLE', `the range is outside the object's ${obj.size} bytes`);
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end : obj.size - 1;
  const bytes = obj.size === 0 ? 0 : end - start + 1;

  // The stored size first: a truncated or grown object is never served (issue 14).
  const stored = await ctx.store.stat(contentKey(obj.sha256));
  if (stored && stored.size !== obj.size) throw ctx.integrity.sizeMismatch(obj, stored.size);
  // Open first (a missing object must not be registered as viewed), then register,
  // then send: nothing is sent that the ledger does not record.
  const opened = await ctx.store.get(contentKey(obj.sha256), bytes > 0 ? { start, end } : undefined);
  // A whole read is hashed on the way: a wrong hash ends the response short.
  const body = range.kind === 'range' ? opened : opened.pipe(ctx.integrity.verifying(obj));
  if (body !== opened) opened.on('error', (e) => body.destroy(e));
  try {
    ctx.catalog.tx(() =>
      ledgerOf(ctx.catalog).append({
        type: 'access.viewed',
        actor: actorOf(p),
        subject: ev.id,
        data: {
          sha256: ev.sha256,
          size: obj.size,
          range: range.kind === 'range' ? { start, end } : null,
          bytes,
          grant: grant.requestId,
          ip: req.ip,
          ...(obj.proxy ? { proxy: obj.sha256 } : {}),
        },
      }),
    );
  } catch (e) {
    opened.destroy();
    body.destroy();
    throw e;
  }
  ctx.metrics.accessViews.inc();
  ctx.metrics.accessViewBytes.inc(bytes);
  void reply
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('cache-control', 'private, no-store')
    .header('content-disposition', `inline; filename="${ev.id}${obj.proxy ? '-proxy' : ''}.${obj.extension}"`)
    .header('content-length', String(bytes))
    .type(obj.contentType);
  if (range.kind === 'range') void reply.code(206).header('content-range', `bytes ${start}-${end}/${obj.size}`);
  return reply.send(asBody(body));
}

/** A proxy's type and extension by its container (migration 014). */
const PROXY_TYPES: Readonly<Record<string, { contentType: string; extension: string }>> = {
  mp4: { contentType: 'video/mp4', extension: 'mp4' },
  m4a: { contentType: 'audio/mp4', extension: 'm4a' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
};

export const evidenceRoutes: ApiRoutes = (app, ctx, done) => {
  const { retention, cases } = ctx;
  /** A ledger entry naming a case (case.linked …) is shown only when that case is in the caller's scope. */
  const caseVisible = (unit: string | null, data: unknown): boolean => {
    const caseId = (data as { caseId?: unknown } | null)?.caseId;
    if (unit === null || typeof caseId !== 'string') return true;
    const c = cases.get(caseId);
    return c !== null && c.unit === unit;
  };
  app.get(
    `${API_PREFIX}/evidence`,
    {
      config: { access: 'evidence.read' },
      schema: {
        tags: ['evidence'],
        summary: 'Search evidence, newest first',
        description:
          'Filters combine with AND and with the caller\'s unit scope. `from` is inclusive, `to` exclusive. Pages follow `next` (a cursor) until it is null.',
        querystring: SearchQuery,
        response: { 200: Type.Object({ items: Type.Array(EvidenceItem), next: Nullable(Type.String()) }), ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const q = req.query;
      const time = (q.time ?? 'recorded') as TimeField;
      const limit = q.limit ?? 50;
      const from = q.from === undefined ? undefined : isoParam('from', q.from);
      const to = q.to === undefined ? undefined : isoParam('to', q.to);
      if (from !== undefined && to !== undefined && from >= to) throw new InvalidInputError('from must be before to');
      const tag = `evidence:${time}`;
      const after = q.cursor === undefined ? null : decodeCursor(tag, q.cursor, ['string', 'string']);
      // The items come as JSON text built by the catalog in the schema's shape (see
      // EvidenceQueries.searchJson): the answer is put together here, not serialised.
      const items = await ctx.evidenceSearch.search(
        p.unit,
        { officer: q.officer, device: q.device, unit: q.unit, type: q.type, from, to, time, caseId: q.case, flag: q.flag },
        after ? { t: after[0] as string, id: after[1] as string } : null,
        limit + 1,
      );
      let next: string | null = null;
      if (items.length > limit) {
        items.length = limit;
        const last = EvidenceQueries.position(JSON.parse(items[limit - 1]!) as Summary, time);
        next = encodeCursor(tag, [last.t, last.id]);
      }
      const body = `{"items":[${items.join(',')}],"next":${next === null ? 'null' : JSON.stringify(next)}}`;
      // JSON text with a JSON content type is sent as it is (the typed send() knows only the object form).
      return reply.type(JSON_UTF8).send(body as unknown as { items: []; next: string | null });
    },
  );

  app.get(
    `${API_PREFIX}/evidence/:id`,
    {
      config: { access: 'evidence.read' },
      schema: {
        tags: ['evidence'],
        summary: 'One item: metadata, media information, custody history',
        description: 'With its retention date and state, the holds that protect it, its cases and the compliance flags that name it.',
        params: IdParams,
        response: { 200: EvidenceDetail, 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const ev = visibleEvidence(ctx, p, req.params.id);
      const history = ctx.evidenceQueries.history(ev.id);
      // Another unit's case (its id and number) is not shown to a scoped caller (issue 14).
      const entries = history.entries.filter((e) => caseVisible(p.unit, e.data));
      return {
        ...summaryOf(ev, ctx.evidenceQueries.playback(ev)),
        recorded: {
          start: ev.recordedStart,
          end: ev.recordedEnd,
          source: ev.recordedSource,
          clockDriftMs: ev.clockDriftMs,
          startCorrected: ev.recordedStartCorrected,
          endCorrected: ev.recordedEndCorrected,
        },
        source: { path: ev.sourcePath, name: ev.sourceName, mtime: rfc3339(new Date(ev.sourceMtimeMs)) },
        sessionId: ev.sessionId,
        wipedAt: ev.wipedAt,
        media: ev.media,
        ledger: entries,
        accessEntries: history.accessEntries,
        grant: ctx.access.grantFor(p.id, ev.id),
        ...retention.of(ev.id, p.unit)!,
        flags: ctx.evidenceQueries.flags(ev.id),
      };
    },
  );

  app.get(
    `${API_PREFIX}/evidence/:id/thumbnail`,
    {
      config: { access: 'evidence.read' },
      schema: {
        tags: ['evidence'],
        summary: 'The WebP thumbnail: content, under the same grant as the footage, and registered',
        description:
          'A thumbnail shows the footage, so it needs an approved access request like /content (403 ACCESS_GRANT_REQUIRED) and is registered as access.viewed. With api.previews: video-frames, a video\'s frame of at most 320 px is served without a grant and registered in batches (access.previewed); a photo\'s thumbnail always needs a grant.',
        params: IdParams,
        response: {
          200: { description: 'image/webp', content: { 'image/webp': { schema: { type: 'string', format: 'binary' } } } },
          404: ErrorBody, 410: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const ev = visibleEvidence(ctx, p, req.params.id);
      requireLive(ev);
      const thumb = ev.thumbnailSha256;
      const grant = ctx.access.grantFor(p.id, ev.id);
      // Without a grant, only a small frame of a video, and only when the bureau allows previews.
      const mayPreview = grant === null && ctx.config.api.previews === 'video-frames' && ev.mediaType === 'video';
      if (grant === null && !mayPreview) {
        throw new AccessDeniedError(
          'ACCESS_GRANT_REQUIRED',
          `the thumbnail of evidence ${ev.id} shows the footage: it needs an approved access request, like the content`,
          ev.id,
        );
      }
      if (thumb === null) throw new CustodyError('NOT_FOUND', `evidence ${ev.id} has no thumbnail (yet)`);
      // Thumbnails are small: read whole, so the size can be checked before anything is sent.
      const image = await readAll(await ctx.store.get(contentKey(thumb)));
      if (grant === null) {
        const size = webpSize(image);
        if (size === null || Math.max(size.width, size.height) > PREVIEW_MAX_PX) {
          throw new AccessDeniedError('ACCESS_GRANT_REQUIRED', `the thumbnail of evidence ${ev.id} is larger than a preview: it needs an approved access request`, ev.id);
        }
        ctx.previews.record(p, ev.id, thumb, req.ip);
      } else {
        ctx.catalog.tx(() =>
          ledgerOf(ctx.catalog).append({
            type: 'access.viewed',
            actor: actorOf(p),
            subject: ev.id,
            data: { thumbnail: thumb, sha256: ev.sha256, size: image.length, range: null, bytes: image.length, grant: grant.requestId, ip: req.ip },
          }),
        );
        ctx.metrics.accessViews.inc();
      }
      return reply.header('etag', `"${thumb}"`).header('cache-control', 'private, no-store').type('image/webp').send(image as unknown as string);
    },
  );

  app.get(
    `${API_PREFIX}/evidence/:id/content`,
    {
      exposeHeadRoute: false,
      config: { access: 'evidence.read' },
      schema: {
        tags: ['evidence'],
        summary: 'The footage itself, streamed; supports Range (206)',
        description:
          'Needs an approved, unexpired access request for this user and item, else 403 ACCESS_GRANT_REQUIRED. Every answer that carries footage (each range too) is registered in the ledger as access.viewed before any byte is sent. A range starting past the end: 416.',
        params: IdParams,
        headers: FOOTAGE_HEADERS,
        response: footageResponses('application/octet-stream'),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const ev = visibleEvidence(ctx, p, req.params.id);
      requireLive(ev);
      const grant = requireGrant(ctx, p, ev);
      const extension = extensionOf(ev.sourceName);
      return sendFootage(ctx, req, reply, p, ev, grant, {
        id: ev.id,
        sha256: ev.sha256,
        size: ev.size,
        contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
        extension: extension || 'bin',
      });
    },
  );

  app.get(
    `${API_PREFIX}/evidence/:id/proxy`,
    {
      exposeHeadRoute: false,
      config: { access: 'evidence.read' },
      schema: {
        tags: ['evidence'],
        summary: "The item's browser-playable proxy (H.264/AAC MP4, AAC m4a or JPEG), streamed; supports Range (206)",
        description:
          "For footage a browser cannot play as recorded (H.265, AVI, MKV, MPEG-TS, AMR …; the item's `playback` says which). Served under exactly the rules of /content: an approved, unexpired access request for this user and item (else 403 ACCESS_GRANT_REQUIRED), every answer registered as access.viewed (naming the proxy's SHA-256) before any byte is sent, the stored object's size and hash checked. 404 while the item has no ready proxy.",
        params: IdParams,
        headers: FOOTAGE_HEADERS,
        response: footageResponses('video/mp4', 'audio/mp4', 'image/jpeg'),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const ev = visibleEvidence(ctx, p, req.params.id);
      requireLive(ev);
      const grant = requireGrant(ctx, p, ev);
      const proxy = ctx.evidenceQueries.readyProxy(ev.id);
      const type = proxy ? PROXY_TYPES[proxy.container] : undefined;
      if (!proxy || !type) throw new CustodyError('NOT_FOUND', `evidence ${ev.id} has no browser-playable proxy (yet); its playback field says why`);
      return sendFootage(ctx, req, reply, p, ev, grant, { id: ev.id, sha256: proxy.sha256, size: proxy.size, proxy: true, ...type });
    },
  );
  done();
};
