import type { Assignment } from '../assignments.js';
import type { Finding } from '../flags.js';
import { plusHours } from '../time.js';
import { EV_COLS, type EvRow, type RuleContext, type ScanScope } from './context.js';

/**
 * Rule `recording-gap` (Art. 16): within a shift, consecutive clips more than
 * maxGapMinutes apart. A shift is judged once it has ended and its recorder has been
 * docked after it (or the upload deadline has passed), so clips still on the recorder
 * do not count as gaps.
 */

/** The gaps between one shift's clips (video and audio, in recorded order). */
export function shiftGapFindings(
  a: Pick<Assignment, 'id' | 'officer' | 'recorderSerial' | 'unit'>,
  clips: readonly Pick<EvRow, 'id' | 'start' | 'end' | 'source_name'>[],
  ctx: Pick<RuleContext, 'settings' | 'local'>,
): Finding[] {
  const { maxGapMinutes } = ctx.settings;
  const findings: Finding[] = [];
  let last: Pick<EvRow, 'id' | 'source_name'> | null = null;
  let lastEnd = 0;
  for (const c of clips) {
    const start = Date.parse(c.start);
    if (last && start - lastEnd > maxGapMinutes * 60_000) {
      const minutes = Math.round((start - lastEnd) / 60_000);
      const from = new Date(lastEnd).toISOString();
      findings.push({
        rule: 'recording-gap',
        key: `recording-gap:${a.id}:${last.id}`,
        officer: a.officer,
        recorderSerial: a.recorderSerial,
        evidenceId: c.id,
        assignmentId: a.id,
        unit: a.unit,
        seen: { from, to: c.start, minutes, maxGapMinutes, after: last.source_name, before: c.source_name },
        summary: `officer ${a.officer} recorded nothing for ${minutes} min (${ctx.local(from)} – ${ctx.local(c.start)}) during the shift; a written reason is needed`,
      });
    }
    if (!last || Date.parse(c.end) > lastEnd) lastEnd = Math.max(lastEnd, Date.parse(c.end));
    last = c;
  }
  return findings;
}

/** Whether an ended shift can be judged: its recorder docked after it, or its upload deadline has passed. */
export function shiftJudgeable(endsAt: string, dockedAfter: number, now: number, settings: { uploadDeadlineHours: number; timezone: string }): boolean {
  return dockedAfter > 0 || Date.parse(plusHours(endsAt, settings.uploadDeadlineHours)) < now;
}

/** Ended shifts in scope that can be judged, each checked for gaps. */
export function recordingGapFindings(ctx: RuleContext, scope?: ScanScope): Finding[] {
  const now = Date.parse(ctx.now());
  const findings: Finding[] = [];
  const ended = ctx.db
    .prepare<[string, string, number], { id: string }>('SELECT id FROM assignments WHERE ends_at IS NOT NULL AND ends_at < ? AND (ends_at > ? OR rowid > ?) ORDER BY ends_at')
    .all(ctx.now(), scope?.endedAfter ?? '', scope?.assignmentsAfter ?? 0);
  for (const { id } of ended) {
    const a = ctx.assignments.get(id)!;
    const dockedAfter = ctx.db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM docks WHERE recorder_serial = ? AND docked_at >= ?').get(a.recorderSerial, a.endsAt!)!.n;
    if (!shiftJudgeable(a.endsAt!, dockedAfter, now, ctx.settings)) continue;
    const clips = ctx.db
      .prepare<[string, string, string], EvRow>(
        `SELECT ${EV_COLS} FROM evidence e WHERE e.recorder_serial = ? AND e.media_type IN ('video', 'audio') AND e.recorded_at >= ? AND e.recorded_at < ?
         ORDER BY e.recorded_at, e.id`,
      )
      .all(a.recorderSerial, a.startsAt, a.endsAt!);
    findings.push(...shiftGapFindings(a, clips, ctx));
  }
  return findings;
}
