import type { Finding } from '../flags.js';
import { EV_COLS, NOT_FLAGGED, type EvRow, type RuleContext, type ScanScope } from './context.js';

/**
 * Rule `attribution-conflict`: footage whose recorder reported another officer than
 * the one it was assigned to, and docks where the recorder named itself otherwise than
 * its files or USB serial did (issue 16: the device is believed, the disagreement kept).
 */

/** The conflict of one item, or null when the recorder reported no officer, or the one assigned. */
export function conflictFinding(ev: EvRow, ctx: Pick<RuleContext, 'local' | 'attribute'>): Finding | null {
  if (ev.officer === null) return null;
  const who = ctx.attribute(ev);
  if (who.assigned === null || who.assigned === ev.officer) return null;
  return {
    rule: 'attribution-conflict',
    key: `attribution-conflict:${ev.id}`,
    officer: who.assigned,
    recorderSerial: ev.recorder_serial,
    evidenceId: ev.id,
    assignmentId: who.assignmentId,
    unit: who.unit,
    seen: { recorderReports: ev.officer, assignedTo: who.assigned, recordedAt: ev.start, file: ev.source_name },
    summary: `${ev.source_name}: recorder ${ev.recorder_serial} reports officer ${ev.officer}, but it was assigned to officer ${who.assigned} at ${ctx.local(ev.start)}`,
  };
}

const conflicts = (rows: readonly EvRow[], ctx: Pick<RuleContext, 'local' | 'attribute'>): Finding[] =>
  rows.map((r) => conflictFinding(r, ctx)).filter((f): f is Finding => f !== null);

/** New evidence, or evidence that a new assignment now covers, whose recorder reported another officer. */
export function attributionConflictFindings(ctx: RuleContext, scope?: ScanScope): Finding[] {
  const rows = ctx.db
    .prepare<[number, number], EvRow>(
      `SELECT ${EV_COLS} FROM evidence e JOIN assignments a ON a.recorder_serial = e.recorder_serial
         AND a.starts_at <= e.recorded_at AND coalesce(a.ends_at, '9999-12-31T23:59:59.999Z') > e.recorded_at
       WHERE (e.rowid > ? OR a.rowid > ?)
         AND e.officer IS NOT NULL AND e.officer <> a.officer AND ${NOT_FLAGGED("'attribution-conflict:' || e.id")}`,
    )
    .all(scope?.evidenceAfter ?? 0, scope?.assignmentsAfter ?? 0);
  return conflicts(rows, ctx);
}

/** The conflicts of one ingest session not flagged yet. */
export function sessionConflictFindings(ctx: RuleContext, sessionId: string): Finding[] {
  const rows = ctx.db
    .prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.session_id = ? AND ${NOT_FLAGGED("'attribution-conflict:' || e.id")} ORDER BY e.rowid`)
    .all(sessionId);
  return conflicts(rows, ctx);
}

/** The conflict of one item (at ingest). */
export function evidenceConflictFindings(ctx: RuleContext, id: string): Finding[] {
  const ev = ctx.db.prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.id = ?`).get(id);
  return ev ? conflicts([ev], ctx) : [];
}

/** Who a dock finding names: the officer assigned at the dock, else the recorder's. */
export interface DockWho {
  officer: string | null;
  recorderSerial: string;
  dockId: string;
  unit: string | null;
}

/** A dock where the recorder named itself otherwise than its files or USB serial did. */
export function dockConflictFinding(d: { id: string; serial: string; docked_at: string; conflicts: string }, who: DockWho, local: (iso: string) => string): Finding {
  const list = JSON.parse(d.conflicts) as Array<{ source: string; value: string }>;
  return {
    rule: 'attribution-conflict',
    key: `attribution-conflict:dock:${d.id}`,
    ...who,
    seen: { dockedAt: d.docked_at, recorderReports: d.serial, conflicts: list },
    summary: `recorder ${d.serial} reported itself as ${d.serial} at the dock of ${local(d.docked_at)}, but ${list.map((c) => `its ${c.source} says ${c.value}`).join(' and ')}`,
  };
}
