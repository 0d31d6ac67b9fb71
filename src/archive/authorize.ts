import { type AccessRequests, can, inScope, type Principal, type UsersService } from '../access/index.js';
import { CustodyError } from '../core/index.js';
import type { CaseRecord, CaseSource } from './case-source.js';
import type { ExportAccess } from './export.js';

/** Codes of a refused export (403 on the API), each naming what is missing. */
export type ExportRefusal = 'EXPORT_CASE_NOT_PROTECTED' | 'EXPORT_GRANT_REQUIRED' | 'EXPORT_APPROVER_INVALID';

/** An export refused before anything was written; ledgered as a refusal. */
export class ExportRefusedError extends CustodyError {
  constructor(
    code: ExportRefusal,
    message: string,
    readonly subject: string,
  ) {
    super(code, message);
  }
}

/**
 * May this user export this case now (issue 14: an archival export is an access)?
 *
 * - The case is protected: an unreleased hold (Art. 12).
 * - The user holds an approved, unexpired access request for the case
 *   (`POST /access-requests {caseId}`): they asked for it, and someone else approved it
 *   who may still approve for the case's unit (Art. 13: the leader's consent).
 * - Only the case's items in the user's scope and named by that request are exported.
 *
 * Throws ExportRefusedError naming what is missing. The caller has already checked
 * that the case is visible to the user (else it answers as missing).
 */
export function authorizeExport(
  deps: { cases: CaseSource; access: AccessRequests; users: UsersService },
  p: Principal,
  kase: CaseRecord,
): ExportAccess {
  if (!deps.cases.isHeld(kase.id)) {
    throw new ExportRefusedError(
      'EXPORT_CASE_NOT_PROTECTED',
      `case ${kase.number} is not protected: only a case under an unreleased hold is exported (Art. 12); place a hold first`,
      kase.id,
    );
  }
  const grants = deps.access.caseGrantsFor(p.id, kase.id);
  if (grants.length === 0) {
    throw new ExportRefusedError(
      'EXPORT_GRANT_REQUIRED',
      `exporting case ${kase.number} needs your own approved access request for the case: POST /api/v1/access-requests {caseId, reason}, then approval by a supervisor`,
      kase.id,
    );
  }
  for (const g of grants) {
    const approver = g.approvedBy === null ? null : deps.users.get(g.approvedBy);
    if (!approver || approver.id === p.id || approver.revokedAt !== null) continue;
    const ap: Principal = { id: approver.id, name: approver.name, role: approver.role, unit: approver.unit };
    if (!can(ap, 'access.decide') || !inScope(ap, kase.unit)) continue;
    const ids = new Set(g.evidenceIds.filter((id) => inScope(p, deps.cases.unitOf(id) ?? null)));
    return { requestId: g.requestId, approvedBy: approver.id, evidenceIds: ids };
  }
  throw new ExportRefusedError(
    'EXPORT_APPROVER_INVALID',
    `your access request for case ${kase.number} was not approved by someone who may approve for the case's unit (or their access was revoked); ask again`,
    kase.id,
  );
}
