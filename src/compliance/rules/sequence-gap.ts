import type { Finding } from '../flags.js';
import { EV_COLS, MAX_LISTED, type EvRow, type RuleContext, type ScanScope } from './context.js';

/**
 * Rule `sequence-gap` (Art. 17): the recorder's own numbering skips numbers — files may
 * have been deleted on the device. A jump of more than maxFileNumberJump, or to another
 * file-name prefix, is a numbering reset (a formatted or replaced card, new firmware):
 * flagged as a reset to be confirmed, not as thousands of missing files (issue 13).
 */

/** The recorder's own file number: the digits just before the extension ("ZFY001_20261120083000_0007.MP4" → 7 of 4 digits). */
export function fileNumber(name: string): { n: number; digits: number; prefix: string } | null {
  const m = /(?:^|[_-])(\d{1,6})\.[A-Za-z0-9]+$/u.exec(name);
  if (!m) return null;
  // What names the numbering: the name before the number, its date and time stamps
  // (runs of 8 or more digits) left out ("ZFY001_20261120083000_" → "ZFY001_#_").
  const prefix = name.slice(0, m.index).replace(/\d{8,}/gu, '#').toUpperCase();
  return { n: Number(m[1]), digits: m[1]!.length, prefix };
}

/** The gaps and resets in one recorder's files, in recorded order. */
export function recorderGapFindings(serial: string, rows: readonly EvRow[], ctx: Pick<RuleContext, 'settings' | 'attribute'>): Finding[] {
  const maxJump = ctx.settings.maxFileNumberJump;
  const findings: Finding[] = [];
  let prev: { row: EvRow; n: number; digits: number; prefix: string } | null = null;
  for (const row of rows) {
    const num = fileNumber(row.source_name);
    if (!num) continue;
    const base = { rule: 'sequence-gap' as const, key: prev ? `sequence-gap:${serial}:${prev.row.id}:${row.id}` : '', recorderSerial: serial, evidenceId: row.id };
    if (prev && prev.prefix !== num.prefix) {
      const who = ctx.attribute(row);
      findings.push({
        ...base,
        officer: who.officer,
        assignmentId: who.assignmentId,
        unit: who.unit,
        seen: { kind: 'numbering-reset', reason: 'prefix', after: prev.row.source_name, before: row.source_name, prefixBefore: prev.prefix, prefixAfter: num.prefix },
        summary: `recorder ${serial} started naming its files differently between ${prev.row.source_name} and ${row.source_name}: a numbering reset, not counted as missing files; confirm that nothing was deleted`,
      });
    } else if (prev && prev.digits === num.digits) {
      const mod = 10 ** num.digits;
      // Recorders count to 99…9 and wrap.
      const step = (num.n - prev.n + mod) % mod;
      const who = step > 1 ? ctx.attribute(row) : null;
      const pad = (n: number) => String(n).padStart(num.digits, '0');
      // A number lower than the last is a jump of nearly the whole range (the wrap);
      // more than half the range cannot be told from going backwards.
      if (who && step > Math.min(maxJump, Math.floor(mod / 2))) {
        findings.push({
          ...base,
          officer: who.officer,
          assignmentId: who.assignmentId,
          unit: who.unit,
          seen: { kind: 'numbering-reset', reason: 'jump', after: prev.row.source_name, before: row.source_name, from: pad(prev.n), to: pad(num.n), maxJump },
          summary: `recorder ${serial}'s file numbers went from ${pad(prev.n)} to ${pad(num.n)} between ${prev.row.source_name} and ${row.source_name}: a numbering reset, not counted as missing files; confirm that nothing was deleted`,
        });
      } else if (who) {
        const missing: number[] = [];
        for (let k = 1; k < step && missing.length < MAX_LISTED; k++) missing.push((prev.n + k) % mod);
        findings.push({
          ...base,
          officer: who.officer,
          assignmentId: who.assignmentId,
          unit: who.unit,
          seen: { kind: 'gap', after: prev.row.source_name, before: row.source_name, missing: missing.map(pad), missingCount: step - 1 },
          summary: `recorder ${serial} skipped file number${step > 2 ? 's' : ''} ${step - 1 > MAX_LISTED ? `${pad(missing[0]!)}…(${step - 1})` : missing.map(pad).join(', ')} between ${prev.row.source_name} and ${row.source_name}`,
        });
      }
    }
    if (!prev || num.n !== prev.n || num.prefix !== prev.prefix) prev = { row, n: num.n, digits: num.digits, prefix: num.prefix };
  }
  return findings;
}

/**
 * Recorders whose dock session is still running: their files are still being committed,
 * several at once and not in number order, so a gap seen now may fill a moment later
 * (issue 17: the soak raised such flags). They are judged once the session has ended
 * (the scan after its undock; the scan's position waits for them, see `heldBack`).
 */
export function recordersInSession(ctx: Pick<RuleContext, 'db'>): Set<string> {
  return new Set(
    ctx.db
      .prepare<[], { serial: string }>('SELECT DISTINCT recorder_serial AS serial FROM docks WHERE undocked_at IS NULL AND session_status IS NULL AND recorder_serial IS NOT NULL')
      .all()
      .map((r) => r.serial),
  );
}

/** Recorders with new evidence; each is checked whole (a late file may sit between old ones). */
export function sequenceGapFindings(ctx: RuleContext, scope?: ScanScope): Finding[] {
  const findings: Finding[] = [];
  const busy = recordersInSession(ctx);
  const serials = ctx.db
    .prepare<[number], { serial: string }>('SELECT DISTINCT recorder_serial AS serial FROM evidence WHERE rowid > ? ORDER BY 1')
    .all(scope?.evidenceAfter ?? 0);
  for (const { serial } of serials) {
    if (busy.has(serial)) continue;
    const rows = ctx.db.prepare<[string], EvRow>(`SELECT ${EV_COLS} FROM evidence e WHERE e.recorder_serial = ? ORDER BY e.recorded_start, e.source_name, e.id`).all(serial);
    findings.push(...recorderGapFindings(serial, rows, ctx));
  }
  return findings;
}
