import type { Finding } from '../flags.js';
import { MAX_LISTED, NOT_FLAGGED, type RuleContext } from './context.js';
import type { DockWho } from './attribution-conflict.js';

/**
 * Rule `clock-drift`: the drift measured at a dock beyond the tolerance (naming the
 * clips ingested in that dock), and a dock where the clock could not be set after a
 * complete session.
 */

export interface DriftDock {
  id: string;
  serial: string;
  docked_at: string;
  undocked_at: string | null;
  drift: number;
  officer: string | null;
  unit: string | null;
}

/** The finding of one dock whose drift was beyond the tolerance. */
export function driftFinding(
  d: DriftDock,
  clips: readonly { id: string; source_name: string }[],
  assigned: { officer: string; unit: string | null } | null,
  ctx: Pick<RuleContext, 'settings' | 'local'>,
): Finding {
  const seconds = Math.round(d.drift / 1000);
  const tolerance = ctx.settings.maxClockDriftSeconds;
  return {
    rule: 'clock-drift',
    key: `clock-drift:${d.id}`,
    officer: assigned?.officer ?? d.officer,
    recorderSerial: d.serial,
    dockId: d.id,
    unit: d.unit ?? assigned?.unit ?? null,
    seen: {
      driftMs: d.drift,
      toleranceSeconds: tolerance,
      dockedAt: d.docked_at,
      clips: clips.slice(0, MAX_LISTED).map((c) => ({ id: c.id, file: c.source_name })),
      clipCount: clips.length,
    },
    summary: `recorder ${d.serial}'s clock was ${seconds >= 0 ? '+' : ''}${seconds} s off at the dock of ${ctx.local(d.docked_at)} (tolerance ${tolerance} s); ${clips.length} clip(s) affected`,
  };
}

/** Docks (with a session or undocked) whose drift was beyond the tolerance, not flagged yet. */
export function clockDriftFindings(ctx: RuleContext): Finding[] {
  const tolMs = ctx.settings.maxClockDriftSeconds * 1000;
  const docks = ctx.db
    .prepare<[number], DriftDock>(
      `SELECT d.id, d.recorder_serial AS serial, d.docked_at, d.undocked_at, d.clock_drift_ms AS drift, r.officer, r.unit
       FROM docks d JOIN recorders r ON r.serial = d.recorder_serial
       WHERE abs(d.clock_drift_ms) > ? AND (d.session_status IS NOT NULL OR d.undocked_at IS NOT NULL)
         AND ${NOT_FLAGGED("'clock-drift:' || d.id")}`,
    )
    .all(tolMs);
  return docks.map((d) => {
    const clips = ctx.db
      .prepare<[string, string, string], { id: string; source_name: string }>(
        'SELECT id, source_name FROM evidence WHERE recorder_serial = ? AND ingested_at >= ? AND ingested_at <= ? ORDER BY recorded_start, id',
      )
      .all(d.serial, d.docked_at, d.undocked_at ?? ctx.now());
    return driftFinding(d, clips, ctx.assignments.coveringAt(d.serial, d.docked_at), ctx);
  });
}

/** A dock where the recorder's clock could not be set after a complete session. */
export function clockNotSetFinding(d: { id: string; serial: string; docked_at: string; sync_error: string; drift: number | null }, who: DockWho, local: (iso: string) => string): Finding {
  return {
    rule: 'clock-drift',
    key: `clock-drift:not-set:${d.id}`,
    ...who,
    seen: { dockedAt: d.docked_at, driftMs: d.drift, error: d.sync_error },
    summary: `recorder ${d.serial}'s clock could not be set after the dock of ${local(d.docked_at)}: ${d.sync_error}`,
  };
}
