import type { Finding } from '../flags.js';
import { plusHours } from '../time.js';
import { EV_COLS, MAX_LISTED, NOT_LATE_FLAGGED, type EvRow, type RuleContext, type ScanScope, type Attribution } from './context.js';

/** Rule `late-upload` (Art. 9): footage handed in later than the upload deadline after its recorded end. */

/** A late item of a late-upload finding. */
interface LateItem {
  ev: EvRow;
  delayHours: number;
  who: Attribution;
}

/** The item's delay in hours when it was handed in after the deadline; null when on time. */
export function lateness(ev: Pick<EvRow, 'ingested_at' | 'end'>, settings: { uploadDeadlineHours: number; timezone: string }): number | null {
  const { uploadDeadlineHours: hours } = settings;
  // Strictly later than the deadline: handed in exactly 24 h after is on time.
  if (Date.parse(ev.ingested_at) <= Date.parse(plusHours(ev.end, hours))) return null;
  return Math.round(((Date.parse(ev.ingested_at) - Date.parse(ev.end)) / 3_600_000) * 100) / 100;
}

/**
 * Late items, one finding per recorder, session and officer (a late dock is one
 * event, not one per file; a session that holds two officers' shifts gives each
 * officer their own flag, so neither approves a resolution about themselves). The
 * finding names every item (flag_evidence) and lists up to MAX_LISTED by file name.
 * Its key holds the first item: the items a flag names are never flagged again, and
 * late items of the same session found later (by a scan that ran while the session
 * was still copying) get a flag of their own.
 */
export function lateFindings(rows: readonly EvRow[], ctx: Pick<RuleContext, 'settings' | 'local' | 'attribute'>): Finding[] {
  const hours = ctx.settings.uploadDeadlineHours;
  const groups = new Map<string, LateItem[]>();
  for (const ev of rows) {
    const delayHours = lateness(ev, ctx.settings);
    if (delayHours === null) continue;
    const who = ctx.attribute(ev);
    const group = `${ev.recorder_serial}\u0000${ev.session_id}\u0000${who.officer ?? ''}`;
    const list = groups.get(group) ?? [];
    list.push({ ev, delayHours, who });
    groups.set(group, list);
  }
  return [...groups.values()].map((items): Finding => {
    items.sort((x, y) => x.ev.recorded_start.localeCompare(y.ev.recorded_start) || x.ev.id.localeCompare(y.ev.id));
    const first = items[0]!;
    const worst = items.reduce((w, i) => (i.delayHours > w.delayHours ? i : w), first);
    const serial = first.ev.recorder_serial;
    return {
      rule: 'late-upload',
      key: `late-upload:${first.ev.session_id}:${first.ev.id}`,
      officer: first.who.officer,
      recorderSerial: serial,
      evidenceId: first.ev.id,
      evidenceIds: items.map((i) => i.ev.id),
      assignmentId: first.who.assignmentId,
      unit: first.who.unit,
      seen: {
        session: first.ev.session_id,
        // The worst of the files: its delay, when it ended and when it came in.
        delayHours: worst.delayHours,
        recordedEnd: worst.ev.end,
        ingestedAt: worst.ev.ingested_at,
        deadlineHours: hours,
        file: first.ev.source_name,
        fileCount: items.length,
        files: items.slice(0, MAX_LISTED).map((i) => ({ id: i.ev.id, file: i.ev.source_name, recordedEnd: i.ev.end, delayHours: i.delayHours })),
      },
      summary:
        items.length === 1
          ? `${first.ev.source_name} from ${serial} was handed in ${first.delayHours} h after recording ended (${ctx.local(first.ev.end)}); the limit is ${hours} h`
          : `${items.length} files from ${serial} were handed in late in one dock, up to ${worst.delayHours} h after recording ended (${worst.ev.source_name}, ended ${ctx.local(worst.ev.end)}); the limit is ${hours} h`,
    };
  });
}

/** Late items not named by a late-upload flag yet, among the evidence in scope. */
export function lateUploadFindings(ctx: RuleContext, scope?: ScanScope): Finding[] {
  // A coarse filter in SQL (floating-point days), the exact comparison in lateness().
  const rows = ctx.db
    .prepare<[number, number], EvRow>(
      `SELECT ${EV_COLS} FROM evidence e
       WHERE e.rowid > ? AND (julianday(e.ingested_at) - julianday(coalesce(e.recorded_end_corrected, e.recorded_end, e.recorded_start_corrected, e.recorded_start))) * 24 > ?
         AND ${NOT_LATE_FLAGGED}
       ORDER BY e.rowid`,
    )
    .all(scope?.evidenceAfter ?? 0, ctx.settings.uploadDeadlineHours - 1.5);
  return lateFindings(rows, ctx);
}

/** Late items of one ingest session not named by a late-upload flag yet. */
export function sessionLateFindings(ctx: RuleContext, sessionId: string): Finding[] {
  const rows = ctx.db.prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.session_id = ? AND ${NOT_LATE_FLAGGED} ORDER BY e.rowid`).all(sessionId);
  return lateFindings(rows, ctx);
}
