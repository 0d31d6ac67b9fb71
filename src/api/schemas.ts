import Type from 'typebox';

/**
 * Shared JSON schemas. Path parameters are checked by pattern before anything is
 * looked up, so no request value reaches the catalog, the vault or a file path
 * unchecked.
 */

/** Evidence and access-request ids: UUIDs as ingest and the API make them. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const Uuid = Type.String({ pattern: UUID_PATTERN, minLength: 36, maxLength: 36 });

/** Recorder serials: printable, no slash or backslash, not "." or "..". */
export const SERIAL_PATTERN = '^(?!\\.{1,2}$)[^/\\\\\\u0000-\\u001f\\u007f]{1,64}$';
export const Serial = Type.String({ pattern: SERIAL_PATTERN, minLength: 1, maxLength: 64 });

/** Officer numbers and unit names in filters. */
export const Label = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

export const DateTime = Type.String({ format: 'date-time', maxLength: 40 });
export const Cursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' });

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable machine-readable code, e.g. ACCESS_GRANT_REQUIRED' }),
      message: Type.String(),
      requestId: Type.Optional(Type.String()),
    }),
  },
  { description: 'every error answer has this shape' },
);

export const LedgerEntry = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    time: Type.String(),
    type: Type.String(),
    actor: Type.String(),
    subject: Nullable(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
    prev: Type.String(),
    hash: Type.String(),
  },
  { description: 'a ledger entry exactly as hashed (docs/ledger.md)' },
);

export const MediaType = Type.Enum(['video', 'audio', 'photo']);

export const EvidenceSummary = Type.Object({
  id: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  type: MediaType,
  officer: Nullable(Type.String()),
  device: Type.String({ description: 'recorder serial' }),
  unit: Nullable(Type.String()),
  recordedAt: Type.String({ description: 'start of recording: drift-corrected when the recorder clock drift is known' }),
  recordedEnd: Nullable(Type.String()),
  ingestedAt: Type.String(),
  durationMs: Nullable(Type.Integer()),
  status: Type.Enum(['live', 'purged']),
  thumbnail: Type.Boolean({ description: 'true when GET /evidence/{id}/thumbnail has an image' }),
});

/** Error answers every authenticated route can give. */
export const AUTH_ERRORS = { 401: ErrorBody, 403: ErrorBody, 429: ErrorBody } as const;
export const COMMON_ERRORS = { 400: ErrorBody, ...AUTH_ERRORS } as const;
