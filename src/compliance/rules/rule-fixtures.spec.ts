/** Shared fixtures of the rules' unit tests (*.spec.ts: left out of the build, and not a test file itself). */
import type { Attribution, ComplianceSettings, EvRow } from './context.js';

/** Settings and helpers for the rules' unit tests (UTC, so times read as written). */
export const SETTINGS: ComplianceSettings = {
  timezone: 'UTC',
  uploadDeadlineHours: 24,
  maxGapMinutes: 30,
  maxClockDriftSeconds: 60,
  repairDeadlineHours: 48,
  maxFileNumberJump: 100,
};

export const local = (iso: string): string => `local(${iso})`;

/** Attribution as the recorder says, or to `assigned` when given. */
export function attributeTo(assigned: string | null = null): (ev: EvRow) => Attribution {
  return (ev) => ({ officer: assigned ?? ev.officer, unit: ev.unit, assignmentId: assigned ? `a-${assigned}` : null, assigned });
}

export function ev(id: string, more: Partial<EvRow> = {}): EvRow {
  return {
    id,
    recorder_serial: 'ZFY001',
    officer: '0417',
    unit: 'U1',
    media_type: 'video',
    source_name: `${id}.MP4`,
    session_id: 's1',
    recorded_start: '2026-11-20T08:00:00.000Z',
    start: '2026-11-20T08:00:00.000Z',
    end: '2026-11-20T08:10:00.000Z',
    ingested_at: '2026-11-20T12:00:00.000Z',
    ...more,
  };
}
