import type { AssignmentsService } from '../assignments.js';
import type { Preparer } from '../statements.js';

/**
 * What every compliance rule shares (docs/compliance.md): the settings, the evidence
 * columns the rules read, the SQL guards that keep a finding from being raised twice,
 * the scope of a scan, and the context a rule runs in.
 */

export interface ComplianceSettings {
  timezone: string;
  /** Art. 9: footage later than this after the clip's recorded end is late. */
  uploadDeadlineHours: number;
  /** Art. 16: a longer stop between consecutive clips of one shift needs a written reason. */
  maxGapMinutes: number;
  /** Drift measured at dock beyond this (seconds, either way) is flagged. */
  maxClockDriftSeconds: number;
  /** Art. 14: a reported-damaged recorder must be handed in within this. */
  repairDeadlineHours: number;
  /**
   * A recorder's file number moving on by more than this (counted forward through the
   * wrap at 99…9, so going back to a lower number is a jump of nearly the whole range;
   * at most half the range) is a numbering reset (a formatted or replaced card, new
   * firmware), reported as such, not as that many missing files.
   */
  maxFileNumberJump: number;
}

/**
 * The evidence columns the rules read; times are drift-corrected when the drift is
 * known, and the end is the start plus the probed duration when the recorder gave none.
 */
export interface EvRow {
  id: string;
  recorder_serial: string;
  officer: string | null;
  unit: string | null;
  media_type: string;
  source_name: string;
  session_id: string;
  recorded_start: string;
  start: string;
  end: string;
  ingested_at: string;
}

export const EV_COLS = `e.id, e.recorder_serial, e.officer, e.unit, e.media_type, e.source_name, e.session_id, e.recorded_start,
  e.recorded_at AS start,
  coalesce(e.recorded_end_corrected, e.recorded_end,
    strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at, '+' || (e.duration_ms / 1000.0) || ' seconds'), e.recorded_at) AS "end",
  e.ingested_at`;

export const NOT_FLAGGED = (key: string): string => `NOT EXISTS (SELECT 1 FROM flags f WHERE f.dedupe_key = ${key})`;

/** An item no late-upload flag names yet (a flag names every late item of its dock). */
export const NOT_LATE_FLAGGED = `NOT EXISTS (SELECT 1 FROM flag_evidence fe JOIN flags f ON f.id = fe.flag_id WHERE fe.evidence_id = e.id AND f.rule = 'late-upload')`;

/** Cap on the numbers or clips named in one flag (the count is always given). */
export const MAX_LISTED = 200;

/**
 * What a scan looks at. Without it a rule looks at everything; the daemon's scans
 * look only at what changed since the previous scan: evidence rows by rowid (never
 * reused: evidence is never deleted, a purge keeps the row), assignments by rowid,
 * and shifts whose upload deadline may have passed since `judgedAfter`.
 */
export interface ScanScope {
  evidenceAfter: number;
  assignmentsAfter: number;
  /** Shifts that ended after this (ISO) are judged; older ones were judged already. */
  endedAfter: string;
}

/** Who footage is attributed to. */
export interface Attribution {
  officer: string | null;
  unit: string | null;
  assignmentId: string | null;
  /** The officer the recorder was assigned to then, if any. */
  assigned: string | null;
}

/** What a rule runs with: the catalog's statements, the settings, the assignments, the clock. */
export interface RuleContext {
  db: Preparer;
  settings: ComplianceSettings;
  assignments: Pick<AssignmentsService, 'coveringAt' | 'get'>;
  /** Now, RFC 3339. */
  now(): string;
  /** A time as local text in the station's zone, for summaries. */
  local(iso: string): string;
  /** The officer footage is attributed to: who had the recorder then, else who the recorder says. */
  attribute(ev: EvRow): Attribution;
}

/** The officer footage is attributed to: who had the recorder then, else who the recorder says. */
export function attributeWith(assignments: Pick<AssignmentsService, 'coveringAt'>, ev: Pick<EvRow, 'recorder_serial' | 'start' | 'officer' | 'unit'>): Attribution {
  const a = assignments.coveringAt(ev.recorder_serial, ev.start);
  return { officer: a?.officer ?? ev.officer, unit: ev.unit ?? a?.unit ?? null, assignmentId: a?.id ?? null, assigned: a?.officer ?? null };
}
