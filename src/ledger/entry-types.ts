import { z } from 'zod';
import { installEntryDataCheck } from './ledger.js';

/**
 * Every ledger entry type custody writes, with the shape of its `data`.
 *
 * `Ledger.append` checks each entry against this table before it is hashed: an
 * unknown type or data of the wrong shape is refused (LEDGER_ENTRY_INVALID), so
 * nothing malformed ever enters the chain. Every field custody writes is typed. Where
 * an entry holds a reference that readers follow, or is also written by tools and
 * test stations (`station.initialized`, `recorder.registered`, `evidence.*`, `case.*`,
 * `hold.placed`, `device.docked`), only what readers rely on is required:
 * `evidence.ingested` sha256 and size and `evidence.purged` sha256 (the object
 * references `custody verify` follows), a link's case, a hold's reason, a dock's id;
 * for every other type each field custody writes is required. A field added later
 * does not break an old reader (unknown keys are allowed). Readers of the public
 * format must still accept types they do not know (docs/ledger.md); this table binds only
 * what this custody writes. `docs/ledger.md`'s entry-type table lists the same types
 * (a test compares them).
 */

const str = z.string();
const nstr = z.string().nullable();
const num = z.number();
const nnum = z.number().nullable();
const bool = z.boolean();
const ids = z.array(z.string());
const obj = z.record(z.string(), z.unknown());
const fault = z.object({ code: str, message: str });

const accessDecision = z.object({ requester: str, evidenceIds: ids, note: nstr, expiresAt: str.optional() });

export const LEDGER_ENTRY_TYPES = {
  'station.initialized': z.object({
    vault: z.object({ kind: str, location: str }),
    stationKey: z.object({ alg: str, publicKey: str, fingerprint: str }),
  }).partial(),
  'recorder.registered': z.object({ serial: str, model: nstr, officer: nstr, unit: nstr }).partial().required({ serial: true }),

  'evidence.ingested': z.object({
    sha256: str,
    size: num,
    mediaType: str,
    recorder: z.object({ serial: str, model: nstr }),
    officer: nstr,
    unit: nstr,
    sourcePath: str,
    sourceName: str,
    sourceMtime: str,
    recordedStart: nstr,
    recordedEnd: nstr,
    recordedSource: str,
    clockDriftMs: nnum,
    recordedStartCorrected: nstr,
    recordedEndCorrected: nstr,
    ingestedAt: str,
    sessionId: str,
  }).partial().required({ sha256: true, size: true }),
  'evidence.analysed': z.object({ sha256: str, ok: bool, durationMs: nnum, recordedEnd: nstr, thumbnail: z.object({ sha256: str, size: num }).nullable(), error: obj.optional() }),
  'evidence.proxied': z.object({ sha256: str, kind: z.enum(['video', 'audio', 'photo']), reason: str, proxy: z.object({ sha256: str, size: num, container: str, videoCodec: nstr, audioCodec: nstr, width: nnum, height: nnum, durationMs: num }) }),
  'evidence.attributed': z.object({ officer: str, unit: nstr, assignmentId: str, source: str }),
  'evidence.wipe-intended': z.object({ sha256: str, recorder: str, sourcePath: str, reread: bool }),
  'evidence.wiped': z.object({ sha256: str, recorder: str, sourcePath: str, reread: bool, resumed: bool }).partial(),
  'evidence.wipe-abandoned': z.object({ sha256: str, recorder: str, sourcePath: str, reason: z.enum(['changed', 'not-wiping']), seen: z.object({ size: num, mtimeMs: num }).nullable() }),
  'evidence.corrupt': z.object({ sha256: str, size: num, kind: z.enum(['size', 'hash']), actualSize: num.optional(), actualSha256: str.optional(), proxy: bool.optional() }),
  'evidence.purge-announced': z.object({ sha256: str, retentionDate: str, dueAt: str, runId: str }),
  'evidence.purged': z.object({
    sha256: str,
    size: num,
    reason: str,
    recordedAt: nstr,
    ingestedAt: str,
    retentionDate: str,
    announcedAt: nstr,
    runId: str,
    objectKept: bool,
    thumbnail: nstr,
    proxy: nstr,
  }).partial().required({ sha256: true }),

  'case.created': z.object({ number: str, name: str, unit: nstr }).partial(),
  'case.linked': z.object({ caseId: str, caseNumber: str, sha256: str, held: bool, purgeAnnouncementWithdrawn: bool.optional() }).partial().required({ caseId: true }),
  'hold.placed': z.object({ holdId: str, caseNumber: str, reason: str, text: nstr, evidenceIds: ids, purgeAnnouncementsWithdrawn: ids }).partial().required({ reason: true }),
  'hold.release-requested': z.object({ holdId: str, reason: str }),
  'hold.released': z.object({ holdId: str, reason: str, requestedBy: nstr, releaseReason: nstr, evidenceIds: ids }),
  'export.created': z.object({
    exportId: str,
    caseNumber: str,
    caseName: str,
    held: bool,
    organization: str,
    maker: str,
    items: z.array(z.object({ evidenceId: str, sha256: str })),
    bytes: num,
    checkpointSize: nnum,
    ok: bool,
    copies: z.array(z.object({ copy: num, destination: str, dir: nstr, ok: bool, verified: bool, tagManifestSha256: nstr, error: nstr })),
    createdAt: str.optional(),
  }),
  'export.interrupted': z.object({ exportId: str, caseNumber: str, status: z.enum(['queued', 'running']), startedAt: nstr, copies: z.array(z.object({ copy: num, phase: str, files: num, bytes: num })) }),
  'export.verified': z.object({
    exportId: str,
    caseNumber: str,
    copy: nnum,
    ok: bool,
    matches: bool,
    tagManifestSha256: nstr,
    problems: num,
    codes: z.array(str),
    key: z.enum(['given', 'bag']).nullable(),
    via: z.enum(['cli', 'api']),
  }),

  'officer.registered': z.object({ name: nstr, unit: nstr, userId: nstr }),
  'officer.updated': z.object({
    from: z.object({ name: nstr, unit: nstr, userId: nstr }),
    to: z.object({ name: nstr, unit: nstr, userId: nstr }),
  }),
  'assignment.created': z.object({ officer: str, recorder: str, unit: nstr, startsAt: str, endsAt: nstr, source: z.enum(['manual', 'import']) }),
  'assignment.ended': z.object({ officer: str, recorder: str, endsAt: str }),
  'flag.raised': z.object({
    rule: str,
    key: str,
    officer: nstr,
    recorder: nstr,
    evidence: nstr,
    assignment: nstr,
    dock: nstr,
    unit: nstr,
    seen: obj,
    summary: str,
    dueBy: str,
    evidenceIds: ids.optional(),
  }),
  'flag.escalated': z.object({ rule: str, dueBy: str, unit: nstr, officer: nstr }),
  'flag.resolved': z.object({ rule: str, officer: nstr, unit: nstr, reason: str, approvedBy: str, stateBefore: str }),

  'device.docked': z.object({
    dockId: str,
    location: str,
    source: str,
    profile: str,
    usb: obj.nullable(),
    identity: obj.nullable(),
    identifyError: nstr,
    health: obj,
    verdict: str,
    state: str,
    reasons: z.array(obj),
    thresholds: obj,
  }).partial().required({ dockId: true }),
  'device.undocked': z.object({
    dockId: str,
    location: str,
    reason: str,
    midSession: bool,
    pulled: bool,
    sessionId: nstr,
    sessionStatus: nstr,
    ingested: nnum,
    failed: nnum,
    bytes: nnum,
  }),
  'device.clock-synced': z.object({ dockId: nstr, clockDriftMsBefore: nnum, deviceClockBefore: nstr, setTo: str }),
  'device.clock-sync-failed': z.object({ dockId: nstr, clockDriftMsBefore: nnum, error: z.union([fault, str]) }),
  'device.read-failed': z.object({
    when: str,
    profile: str,
    usb: obj,
    identifyError: fault.nullable(),
    healthError: fault.nullable(),
    msdcError: fault.nullable(),
    switchedToMassStorage: bool,
  }),
  'device.status-changed': z.object({ from: str, to: str, note: nstr, since: str.optional() }),

  'user.created': z.object({ name: str, role: str, unit: nstr, tokenExpiresAt: nstr }),
  'user.revoked': z.object({ name: str, role: str, unit: nstr }),
  'user.token-issued': z.object({ tokenExpiresAt: nstr }),
  'user.password-set': z.object({ reset: bool, sessionsEnded: num }),
  'user.role-changed': z.object({ name: str, from: z.object({ role: str, unit: nstr }), to: z.object({ role: str, unit: nstr }) }),
  'session.signed-in': z.object({ session: str, ip: str, userAgent: nstr, expiresAt: str }),
  'session.signed-out': z.object({ session: str }),

  'access.request.created': z.object({ requester: str, evidenceIds: ids, reason: str, caseId: str.optional(), requestedHours: z.number().int().positive().optional() }),
  'access.request.approved': accessDecision.extend({ expiresAt: str }),
  'access.request.denied': accessDecision,
  'access.request.revoked': z.object({ requester: str, evidenceIds: ids, expiresAt: nstr, note: nstr }),
  'access.request.expired': z.object({ requester: str, evidenceIds: ids, expiresAt: nstr }),
  'access.viewed': z.object({
    sha256: str,
    size: num,
    range: z.object({ start: num, end: num }).nullable(),
    bytes: num,
    grant: str,
    ip: str,
    thumbnail: str.optional(),
    proxy: str.optional(),
  }),
  'access.previewed': z.object({ evidenceIds: ids, thumbnails: z.array(nstr), from: str, to: str, ip: str }),
  'access.exported': z.object({
    exportId: str,
    caseId: str,
    caseNumber: str,
    request: str,
    approvedBy: str,
    sha256: str,
    size: num,
    copies: num,
  }),
  'access.denied': z.object({
    code: str,
    message: str,
    method: str,
    route: str,
    ip: str,
    role: str,
    unit: nstr,
    repeated: num.optional(),
    subjects: z.array(nstr).optional(),
    from: str.optional(),
    to: str.optional(),
  }),

  // Backup and restore (docs/operations.md): a catalog snapshot is an object in the
  // vault named by its hash and the ledger size it holds; a restored station says so.
  'catalog.snapshot-taken': z.object({ key: str, sha256: str, size: num, ledgerSize: num, schemaVersion: num, reason: z.enum(['manual', 'schedule', 'migration', 'restore']) }),
  'catalog.snapshot-deleted': z.object({ key: str, sha256: str, ledgerSize: num, takenAt: str, rule: str }),
  'station.restored': z.object({
    vault: z.object({ kind: str, location: str }),
    snapshot: z.object({ key: str, sha256: str, ledgerSize: num }).nullable(),
    sealedThrough: num,
    replayed: num,
    keyRestored: bool,
    // Objects the vault held that no sealed entry named (the unsealed tail's footage); absent before it was counted.
    unclaimed: z.object({ count: num, bytes: num }).optional(),
  }),
  'key.rotated': z.object({
    from: z.object({ fingerprint: str, publicKey: nstr }),
    to: z.object({ fingerprint: str, publicKey: str }),
    origin: str,
    reason: str,
  }),

  'vault.verified': z.object({
    ok: bool,
    deep: bool,
    entries: nnum,
    objects: nnum,
    segments: nnum,
    problems: nnum,
    // Objects in the vault no entry names (kept; not a problem); absent before they were counted.
    unclaimed: nnum.optional(),
    error: nstr,
    durationMs: num,
  }),
  // The daemon's rolling deep verification (docs/operations.md): each object that failed
  // its re-hash, and each pass that ended.
  'vault.object-failed': z.object({
    key: str,
    sha256: str,
    size: num,
    code: z.enum(['OBJECT_MISSING', 'OBJECT_SIZE_MISMATCH', 'OBJECT_HASH_MISMATCH', 'OBJECT_UNREADABLE']),
    message: str,
  }),
  'vault.rolling-verified': z.object({ passStartedAt: str, objects: num, bytes: num, failures: num, durationMs: num }),
} as const satisfies Record<string, z.ZodType<Record<string, unknown>>>;

/** A ledger entry type this custody writes. */
export type LedgerEntryType = keyof typeof LEDGER_ENTRY_TYPES;

export function isLedgerEntryType(type: string): type is LedgerEntryType {
  return Object.hasOwn(LEDGER_ENTRY_TYPES, type);
}

/** Problems with an entry's data, one line each; empty when it has its type's shape. */
export function entryDataProblems(type: string, data: unknown): string[] {
  if (!isLedgerEntryType(type)) return [`"${type}" is not a registered ledger entry type`];
  const r = LEDGER_ENTRY_TYPES[type].safeParse(data);
  if (r.success) return [];
  return r.error.issues.slice(0, 5).map((i) => `data${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
}

installEntryDataCheck(entryDataProblems);
