import type { Assignment } from '../assignments.js';
import type { Finding } from '../flags.js';
import { plusHours } from '../time.js';
import { NOT_FLAGGED, type RuleContext, type ScanScope } from './context.js';

/**
 * Rule `missing-upload` (Art. 9): a shift that ended more than the deadline ago with no
 * footage recorded in it, and a recorder not docked between the start of its shift and
 * the deadline.
 */

/** The findings of one ended shift, given what the catalog holds for it. */
export function shiftMissingFindings(
  a: Pick<Assignment, 'id' | 'officer' | 'recorderSerial' | 'unit' | 'startsAt'> & { endsAt: string },
  found: { deadline: string; clips: number; docked: number; everDocked: boolean },
  ctx: Pick<RuleContext, 'settings' | 'local'>,
): Finding[] {
  const hours = ctx.settings.uploadDeadlineHours;
  const { deadline } = found;
  const findings: Finding[] = [];
  const base = { rule: 'missing-upload' as const, officer: a.officer, recorderSerial: a.recorderSerial, assignmentId: a.id, unit: a.unit };
  const shift = `${ctx.local(a.startsAt)} – ${ctx.local(a.endsAt)}`;
  if (found.clips === 0) {
    findings.push({
      ...base,
      key: `missing-upload:${a.id}:no-footage`,
      seen: { kind: 'no-footage', startsAt: a.startsAt, endsAt: a.endsAt, deadline, deadlineHours: hours },
      summary: `no footage recorded during officer ${a.officer}'s shift with ${a.recorderSerial} (${shift}) has been handed in within ${hours} h`,
    });
  }
  if (found.docked === 0) {
    findings.push({
      ...base,
      key: `missing-upload:${a.id}:not-docked`,
      seen: { kind: 'not-docked', startsAt: a.startsAt, endsAt: a.endsAt, deadline, deadlineHours: hours, everDocked: found.everDocked },
      summary: `recorder ${a.recorderSerial} was not docked within ${hours} h of the end of officer ${a.officer}'s shift (${shift})${found.everDocked ? '' : '; it has never been docked'}`,
    });
  }
  return findings;
}

/** Shifts in scope whose deadline has passed, not flagged yet on both counts. */
export function missingUploadFindings(ctx: RuleContext, scope?: ScanScope): Finding[] {
  const { uploadDeadlineHours: hours } = ctx.settings;
  const now = Date.parse(ctx.now());
  const findings: Finding[] = [];
  const ended = ctx.db
    .prepare<[string, string, number], { id: string }>(
      `SELECT a.id FROM assignments a WHERE a.ends_at IS NOT NULL AND a.ends_at < ? AND (a.ends_at > ? OR a.rowid > ?)
         AND (${NOT_FLAGGED("'missing-upload:' || a.id || ':no-footage'")} OR ${NOT_FLAGGED("'missing-upload:' || a.id || ':not-docked'")})
       ORDER BY a.ends_at`,
    )
    .all(ctx.now(), scope?.endedAfter ?? '', scope?.assignmentsAfter ?? 0);
  for (const { id } of ended) {
    const a = ctx.assignments.get(id)!;
    const deadline = plusHours(a.endsAt!, hours);
    if (Date.parse(deadline) >= now) continue; // "more than 24 h ago"
    const clips = ctx.db
      .prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM evidence WHERE recorder_serial = ? AND recorded_at >= ? AND recorded_at < ?')
      .get(a.recorderSerial, a.startsAt, a.endsAt!)!.n;
    const docked = ctx.db
      .prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ? AND docked_at > ? AND docked_at <= ?')
      .get(a.recorderSerial, a.startsAt, deadline)!.n;
    const everDocked = docked > 0 || ctx.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ?').get(a.recorderSerial)!.n > 0;
    findings.push(...shiftMissingFindings({ ...a, endsAt: a.endsAt! }, { deadline, clips, docked, everDocked }, ctx));
  }
  return findings;
}
