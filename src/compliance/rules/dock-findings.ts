import type { Finding } from '../flags.js';
import { dockConflictFinding } from './attribution-conflict.js';
import { clockNotSetFinding } from './clock-drift.js';
import { NOT_FLAGGED, type RuleContext } from './context.js';

/**
 * What the dock rows themselves say, read once for two rules: docks where the recorder
 * named itself otherwise than its files or USB serial did (`attribution-conflict`,
 * issue 16: the device is believed, the disagreement kept on the dock), and docks where
 * its clock could not be set after a complete session (`clock-drift`). Per dock, the
 * conflict comes first.
 */
export function dockFindings(ctx: RuleContext): Finding[] {
  const rows = ctx.db
    .prepare<[], { id: string; serial: string; docked_at: string; conflicts: string | null; sync_error: string | null; drift: number | null; officer: string | null; unit: string | null }>(
      `SELECT d.id, d.recorder_serial AS serial, d.docked_at, d.identity_conflicts AS conflicts, d.clock_sync_error AS sync_error,
              d.clock_drift_ms AS drift, r.officer, r.unit
       FROM docks d JOIN recorders r ON r.serial = d.recorder_serial
       WHERE (d.identity_conflicts IS NOT NULL AND ${NOT_FLAGGED("'attribution-conflict:dock:' || d.id")})
          OR (d.clock_sync_error IS NOT NULL AND ${NOT_FLAGGED("'clock-drift:not-set:' || d.id")})`,
    )
    .all();
  const findings: Finding[] = [];
  for (const d of rows) {
    const a = ctx.assignments.coveringAt(d.serial, d.docked_at);
    const who = { officer: a?.officer ?? d.officer, recorderSerial: d.serial, dockId: d.id, unit: d.unit ?? a?.unit ?? null };
    if (d.conflicts) findings.push(dockConflictFinding({ ...d, conflicts: d.conflicts }, who, (iso) => ctx.local(iso)));
    if (d.sync_error) findings.push(clockNotSetFinding({ ...d, sync_error: d.sync_error }, who, (iso) => ctx.local(iso)));
  }
  return findings;
}
