/**
 * Roles, what each may do, and unit scoping. Every check of "may this caller do or
 * see this" goes through here, so the rules are in one table.
 */

export const ROLES = ['operator', 'supervisor', 'archivist', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export type Permission =
  /** Search evidence, read its metadata and thumbnail (within the unit scope). */
  | 'evidence.read'
  /** Ask to view footage. Viewing itself also needs an approved, unexpired grant. */
  | 'access.request'
  /** Approve or deny someone else's access request (Art. 13: the leader's consent). */
  | 'access.decide'
  /** Recorders, their health history, live docks and the event stream. */
  | 'devices.read'
  /** Change a recorder's status: report it damaged, hand it in for repair, back in service, retire it (Art. 14). */
  | 'devices.write'
  /** Per-unit and per-officer statistics. */
  | 'stats.read'
  /** The ledger and the record of refused sign-ins. */
  | 'ledger.read'
  /** Start a vault verification. */
  | 'ledger.verify'
  /** Cases and their holds (within the unit scope). */
  | 'cases.read'
  /** Create cases and link evidence to them. */
  | 'cases.write'
  /** Protect a case with a hold, and ask for a hold's release (Art. 12). */
  | 'holds.manage'
  /** Approve the release of a hold someone else asked to release. */
  | 'holds.release'
  /** Items announced for purge (within the unit scope). */
  | 'retention.read'
  /** The record of purge runs (spans every unit). */
  | 'retention.runs'
  /** Compliance: assignments, flags and the compliance report (within the unit scope). */
  | 'compliance.read'
  /** Enter and end assignments of recorders to officers. */
  | 'assignments.write'
  /** Resolve a flag with a written reason, as its approver (Art. 16: the leader approves). */
  | 'flags.resolve'
  /** Art. 12: write the archival copies of a case (within the unit scope). */
  | 'cases.export'
  /** Reset users' console passwords and see who is signed in (spans every unit). */
  | 'users.manage';

const ALL: readonly Permission[] = ['evidence.read', 'access.request', 'devices.read', 'stats.read', 'compliance.read'];

/**
 * What each role may do. Nobody — not even an admin — views footage without an
 * approved grant: that is checked per item, not here.
 */
const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  operator: new Set([...ALL, 'cases.read', 'assignments.write', 'devices.write']),
  supervisor: new Set([...ALL, 'assignments.write', 'devices.write', 'flags.resolve', 'access.decide', 'cases.read', 'cases.write', 'holds.manage', 'holds.release', 'retention.read', 'retention.runs']),
  archivist: new Set([...ALL, 'ledger.read', 'cases.read', 'cases.write', 'cases.export', 'retention.read', 'retention.runs']),
  auditor: new Set([...ALL, 'ledger.read', 'ledger.verify', 'cases.read', 'retention.read', 'retention.runs']),
  admin: new Set([...ALL, 'assignments.write', 'devices.write', 'flags.resolve', 'access.decide', 'ledger.read', 'ledger.verify', 'cases.read', 'cases.write', 'holds.manage', 'holds.release', 'retention.read', 'retention.runs', 'cases.export', 'users.manage']),
};

/** Permissions that span every unit: a unit-scoped user never has them. */
const UNSCOPED_ONLY: ReadonlySet<Permission> = new Set(['ledger.read', 'ledger.verify', 'retention.runs', 'users.manage']);

/** The authenticated caller. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
  /** The unit (科室) the user is limited to, or null for the whole bureau. */
  unit: string | null;
}

export function can(p: Principal, permission: Permission): boolean {
  if (!PERMISSIONS[p.role].has(permission)) return false;
  return !(UNSCOPED_ONLY.has(permission) && p.unit !== null);
}

export function permissionsOf(p: Principal): Permission[] {
  return [...PERMISSIONS[p.role]].filter((perm) => can(p, perm)).sort();
}

/**
 * May this caller see something that belongs to `unit`? A unit-scoped user sees only
 * their unit's items; items with no unit are visible only to unscoped users.
 */
export function inScope(p: Principal, unit: string | null): boolean {
  return p.unit === null || unit === p.unit;
}

/** The ledger actor for something a user did through the API. */
export function actorOf(p: Pick<Principal, 'id'>): string {
  return `user:${p.id}`;
}
