import type { Finding } from '../flags.js';
import { plusHours } from '../time.js';
import { NOT_FLAGGED, type RuleContext } from './context.js';

/** Rule `repair-overdue` (Art. 14): reported damaged and not handed in (in repair) within the deadline. */

export interface DamagedRecorder {
  serial: string;
  officer: string | null;
  unit: string | null;
  /** When it was reported damaged. */
  since: string;
  note: string | null;
}

/**
 * The finding of one damaged recorder, or null while its deadline has not passed.
 * `assignedAt` (who had the recorder when it was reported) is asked only when overdue.
 */
export function overdueFinding(
  r: DamagedRecorder,
  now: number,
  assignedAt: () => { officer: string; unit: string | null } | null,
  ctx: Pick<RuleContext, 'settings' | 'local'>,
): Finding | null {
  const { repairDeadlineHours: hours } = ctx.settings;
  const deadline = plusHours(r.since, hours);
  if (Date.parse(deadline) >= now) return null;
  const assigned = assignedAt();
  return {
    rule: 'repair-overdue',
    key: `repair-overdue:${r.serial}:${r.since}`,
    officer: assigned?.officer ?? r.officer,
    recorderSerial: r.serial,
    unit: r.unit ?? assigned?.unit ?? null,
    seen: { reportedAt: r.since, deadline, deadlineHours: hours, note: r.note },
    summary: `recorder ${r.serial} was reported damaged at ${ctx.local(r.since)} and has not been handed in for repair within ${hours} h`,
  };
}

/** Recorders reported damaged past the deadline, not flagged yet for this report. */
export function repairOverdueFindings(ctx: RuleContext): Finding[] {
  const now = Date.parse(ctx.now());
  const rows = ctx.db
    .prepare<[], DamagedRecorder>(
      `SELECT serial, officer, unit, status_changed_at AS since, status_note AS note FROM recorders
       WHERE status = 'reported-damaged' AND status_changed_at IS NOT NULL
         AND ${NOT_FLAGGED("'repair-overdue:' || serial || ':' || status_changed_at")}`,
    )
    .all();
  return rows.map((r) => overdueFinding(r, now, () => ctx.assignments.coveringAt(r.serial, r.since), ctx)).filter((f): f is Finding => f !== null);
}
