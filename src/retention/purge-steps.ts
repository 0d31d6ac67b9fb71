import { rfc3339 } from '../core/index.js';
import { PurgeRefusedError } from './errors.js';
import { DAY_MS } from './policy.js';
import type { PurgeItemResult } from './purge.js';

/**
 * The guard rails and the plan of a purge run (docs/retention.md, "The purge"), as
 * small pure functions: each takes what it judges and returns a refusal or a plan,
 * so each rule is tested on its own. `PurgeService.executeNow` runs them in order.
 */

/** A clock set back by more than this is a jump too. */
export const BACKWARDS_TOLERANCE_MS = 10 * 60_000;

/**
 * Guard 1: the ledger and the objects it references verify. `--force` never overrides
 * it (the caller does not pass force here on purpose).
 */
export function verificationRefusal(verified: { ok: boolean; problems: readonly { message: string }[] }): PurgeRefusedError | null {
  if (verified.ok) return null;
  return new PurgeRefusedError(
    'PURGE_LEDGER_INVALID',
    `the vault does not verify (${verified.problems.map((p) => p.message).join('; ') || 'problems found'}); run custody verify`,
  );
}

/** The later of the given times (RFC 3339, UTC), or undefined when none is known. */
export function latestTime(times: readonly (string | null | undefined)[]): string | undefined {
  return times
    .filter((t): t is string => t !== null && t !== undefined)
    .sort()
    .pop();
}

/**
 * Guard 2: the clock has not jumped since `last` (the later of the last completed run
 * and the last ledger entry): not more than `maxClockJumpDays` forward, not more than
 * ten minutes back. `--force` overrides it; with nothing to compare against it passes.
 */
export function clockJumpRefusal(input: { now: Date; last: string | undefined; force: boolean; maxClockJumpDays: number }): PurgeRefusedError | null {
  const { now, last, force, maxClockJumpDays } = input;
  if (last === undefined || force) return null;
  const gap = now.getTime() - Date.parse(last);
  if (gap >= -BACKWARDS_TOLERANCE_MS && gap <= maxClockJumpDays * DAY_MS) return null;
  return new PurgeRefusedError(
    'PURGE_CLOCK_JUMP',
    `the clock reads ${rfc3339(now)}, ${gap < 0 ? 'before' : `${(gap / DAY_MS).toFixed(1)} days after`} the last purge run or ledger entry (${last}); check the clock, or run with --force`,
    { now: rfc3339(now), last },
  );
}

/**
 * Guard 3: not too much at once: a run that would purge more than `maxPurgeFraction`
 * of the live items needs `--force`.
 */
export function fractionRefusal(input: { purging: number; live: number; force: boolean; maxPurgeFraction: number }): PurgeRefusedError | null {
  const { purging, live, force, maxPurgeFraction } = input;
  if (purging === 0 || force || purging <= maxPurgeFraction * live) return null;
  return new PurgeRefusedError(
    'PURGE_TOO_MUCH',
    `this run would purge ${purging} of ${live} live items, more than retention.maxPurgeFraction (${maxPurgeFraction}); run with --force if that is intended`,
    { items: purging, live },
  );
}

/**
 * The coarse SQL bounds of the candidates: an item can be within the notice window
 * only if recorded before `recordedBound` (recorded + months >= recorded + 28·months
 * days, plus a day of slack) and ingested before `ingestBound` (exact).
 */
export function candidateBounds(
  now: Date,
  settings: { noticeDays: number; months: number; minDaysAfterIngest: number },
): { recordedBound: string; ingestBound: string } {
  const noticeMs = settings.noticeDays * DAY_MS;
  return {
    recordedBound: rfc3339(new Date(now.getTime() + noticeMs - settings.months * 28 * DAY_MS + DAY_MS)),
    ingestBound: rfc3339(new Date(now.getTime() + noticeMs - settings.minDaysAfterIngest * DAY_MS)),
  };
}

/** What the plan needs of a candidate item. */
export interface PlanCandidate {
  id: string;
  purge_announced_at: string | null;
  purge_due_at: string | null;
}

export interface Planned<C> {
  c: C;
  retention: Date;
  due: Date;
}

export interface PurgePlan<C> {
  /** Live items within the notice window or past their retention date (held ones too). */
  counted: number;
  /** Held items with their retention dates: skipped, never announced or purged. */
  held: { c: C; retention: Date }[];
  /** Unannounced items entering the notice window, with their due time. */
  toAnnounce: Planned<C>[];
  /** Items whose due time has come (announced earlier, or now with noticeDays 0). */
  toPurge: Planned<C>[];
}

/**
 * Which candidates enter the notice window and which are due. An unannounced item is
 * due at the later of its retention date and now + notice; an announced one at the
 * later of its announced due time and its retention date (the policy may have grown).
 * A held item is counted and skipped. Nothing here writes.
 */
export function planPurge<C extends PlanCandidate>(input: {
  candidates: Iterable<C>;
  now: Date;
  noticeDays: number;
  retentionOf: (c: C) => Date;
  isHeld: (c: C) => boolean;
}): PurgePlan<C> {
  const { now, retentionOf, isHeld } = input;
  const noticeMs = input.noticeDays * DAY_MS;
  const plan: PurgePlan<C> = { counted: 0, held: [], toAnnounce: [], toPurge: [] };
  for (const c of input.candidates) {
    const retention = retentionOf(c);
    if (retention.getTime() - noticeMs > now.getTime() && c.purge_announced_at === null) continue;
    plan.counted++;
    if (isHeld(c)) {
      plan.held.push({ c, retention });
      continue;
    }
    let due: Date;
    if (c.purge_announced_at === null) {
      due = new Date(Math.max(retention.getTime(), now.getTime() + noticeMs));
      plan.toAnnounce.push({ c, retention, due });
    } else {
      due = new Date(Math.max(Date.parse(c.purge_due_at!), retention.getTime()));
    }
    if (due.getTime() <= now.getTime()) plan.toPurge.push({ c, retention, due });
  }
  return plan;
}

/** What a dry run reports: the plan as if carried out, with nothing written. */
export function dryRunOutcome<C extends { id: string; size: number }>(
  plan: Pick<PurgePlan<C>, 'toAnnounce' | 'toPurge'>,
): { items: PurgeItemResult[]; announced: number; purged: number; bytesFreed: number } {
  const purging = new Set(plan.toPurge.map((p) => p.c.id));
  const items: PurgeItemResult[] = [];
  for (const a of plan.toAnnounce) {
    if (!purging.has(a.c.id)) items.push({ evidenceId: a.c.id, outcome: 'announced', reason: null, bytesFreed: 0, retentionDate: rfc3339(a.retention), dueAt: rfc3339(a.due) });
  }
  for (const p of plan.toPurge) items.push({ evidenceId: p.c.id, outcome: 'purged', reason: null, bytesFreed: p.c.size, retentionDate: rfc3339(p.retention), dueAt: rfc3339(p.due) });
  return {
    items,
    announced: plan.toAnnounce.length,
    purged: plan.toPurge.length,
    bytesFreed: plan.toPurge.reduce((n, p) => n + p.c.size, 0),
  };
}
