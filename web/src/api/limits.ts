/**
 * The input limits of the API's schemas, for validating forms before they are sent
 * (the API checks them again). limits.test.ts compares every value here with the
 * OpenAPI document, so a schema change that is not made here fails a test.
 */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Officer numbers and unit names in filters: 1–64 characters, no control characters. */
// eslint-disable-next-line no-control-regex -- the API's own pattern: control characters are what it refuses
export const LABEL = { max: 64, pattern: /^[^\u0000-\u001f\u007f]+$/ };
/** Recorder serials: 1–64 printable characters, no slash or backslash, not "." or "..". */
// eslint-disable-next-line no-control-regex -- the API's own pattern
export const SERIAL = { max: 64, pattern: /^(?!\.{1,2}$)[^/\\\u0000-\u001f\u007f]{1,64}$/ };
export const SIGN_IN = { usernameMax: 100, passwordMax: 256 };
export const ACCESS_REQUEST = { reasonMax: 2000, itemsMax: 100, noteMax: 2000 };
export const MEDIA_TYPES = ['video', 'audio', 'photo'] as const;
export const FLAG_RULES = ['late-upload', 'missing-upload', 'sequence-gap', 'recording-gap', 'clock-drift', 'repair-overdue', 'attribution-conflict', 'any'] as const;
export const PAGE_SIZE = 50;
/** Resolving a flag (POST /flags/{id}/resolve). */
export const FLAG_RESOLUTION = { reasonMax: 4000 };
/** Cases and holds (POST /cases, /cases/{id}/evidence, /cases/{id}/holds, …/release-request). */
export const CASE = { numberMax: 64, nameMax: 200, linkMax: 500, holdTextMax: 2000, releaseReasonMax: 2000 };
export const HOLD_REASONS = ['dispute', 'obstruction', 'sensitive', 'other'] as const;
/** Adding a user (POST /users). */
export const USER = { nameMax: 100, unitMax: 64 };
