import { describe, expect, it } from 'vitest';
import { PurgeRefusedError } from './errors.js';
import { DAY_MS } from './policy.js';
import {
  BACKWARDS_TOLERANCE_MS,
  candidateBounds,
  clockJumpRefusal,
  dryRunOutcome,
  fractionRefusal,
  latestTime,
  planPurge,
  verificationRefusal,
} from './purge-steps.js';

const NOW = new Date('2026-12-01T03:30:00.000Z');
const at = (ms: number): string => new Date(NOW.getTime() + ms).toISOString();

describe('purge guard 1: the vault verifies (issue 13)', () => {
  it('passes a vault that verifies', () => {
    expect(verificationRefusal({ ok: true, problems: [] })).toBeNull();
  });

  it('refuses with PURGE_LEDGER_INVALID and names the problems', () => {
    const e = verificationRefusal({ ok: false, problems: [{ message: 'chain broken at 7' }, { message: 'object missing' }] });
    expect(e).toBeInstanceOf(PurgeRefusedError);
    expect(e?.code).toBe('PURGE_LEDGER_INVALID');
    expect(e?.message).toContain('chain broken at 7; object missing');
  });

  it('refuses when verification failed without naming a problem', () => {
    expect(verificationRefusal({ ok: false, problems: [] })?.message).toContain('(problems found)');
  });
});

describe('purge guard 2: the clock has not jumped (issue 13)', () => {
  const base = { now: NOW, force: false, maxClockJumpDays: 7 };

  it('takes the later of the last run and the last ledger entry', () => {
    expect(latestTime(['2026-11-30T03:30:00.000Z', null, '2026-11-30T09:00:00.000Z', undefined])).toBe('2026-11-30T09:00:00.000Z');
    expect(latestTime([null, undefined])).toBeUndefined();
  });

  it('passes with nothing to compare against (a new station)', () => {
    expect(clockJumpRefusal({ ...base, last: undefined })).toBeNull();
  });

  it('passes within the window: up to maxClockJumpDays forward, ten minutes back', () => {
    expect(clockJumpRefusal({ ...base, last: at(-7 * DAY_MS) })).toBeNull();
    expect(clockJumpRefusal({ ...base, last: at(BACKWARDS_TOLERANCE_MS) })).toBeNull();
  });

  it('refuses a forward jump past maxClockJumpDays', () => {
    const e = clockJumpRefusal({ ...base, last: at(-7 * DAY_MS - 1) });
    expect(e?.code).toBe('PURGE_CLOCK_JUMP');
    expect(e?.message).toContain('7.0 days after');
    expect(e?.details).toEqual({ now: NOW.toISOString(), last: at(-7 * DAY_MS - 1) });
  });

  it('refuses a clock set back by more than ten minutes', () => {
    const e = clockJumpRefusal({ ...base, last: at(BACKWARDS_TOLERANCE_MS + 1) });
    expect(e?.code).toBe('PURGE_CLOCK_JUMP');
    expect(e?.message).toContain('before the last purge run or ledger entry');
  });

  it('--force overrides it', () => {
    expect(clockJumpRefusal({ ...base, force: true, last: at(-30 * DAY_MS) })).toBeNull();
  });
});

describe('purge guard 3: not too much at once (issue 13)', () => {
  const base = { live: 100, force: false, maxPurgeFraction: 0.1 };

  it('passes up to the fraction and when nothing is purged', () => {
    expect(fractionRefusal({ ...base, purging: 10 })).toBeNull();
    expect(fractionRefusal({ ...base, purging: 0, live: 0 })).toBeNull();
  });

  it('refuses more than the fraction of the live items', () => {
    const e = fractionRefusal({ ...base, purging: 11 });
    expect(e?.code).toBe('PURGE_TOO_MUCH');
    expect(e?.details).toEqual({ items: 11, live: 100 });
  });

  it('--force overrides it', () => {
    expect(fractionRefusal({ ...base, purging: 100, force: true })).toBeNull();
  });
});

describe('purge plan (issue 13)', () => {
  const settings = { noticeDays: 7, months: 6, minDaysAfterIngest: 30 };

  it('bounds the candidates coarsely by recording time and exactly by ingest time', () => {
    const b = candidateBounds(NOW, settings);
    expect(b.recordedBound).toBe(at(7 * DAY_MS - 6 * 28 * DAY_MS + DAY_MS));
    expect(b.ingestBound).toBe(at(7 * DAY_MS - 30 * DAY_MS));
  });

  type C = { id: string; size: number; purge_announced_at: string | null; purge_due_at: string | null; retention: number; held?: boolean };
  const item = (id: string, retention: number, more: Partial<C> = {}): C => ({ id, size: 10, purge_announced_at: null, purge_due_at: null, retention, ...more });
  const plan = (candidates: C[], noticeDays = 7) =>
    planPurge({ candidates, now: NOW, noticeDays, retentionOf: (c) => new Date(NOW.getTime() + c.retention), isHeld: (c) => c.held === true });

  it('leaves items outside the notice window out, uncounted', () => {
    const p = plan([item('far', 8 * DAY_MS)]);
    expect(p).toEqual({ counted: 0, held: [], toAnnounce: [], toPurge: [] });
  });

  it('announces an item entering the window, due at its retention date or after the full notice', () => {
    const p = plan([item('soon', 3 * DAY_MS), item('past', -DAY_MS)]);
    expect(p.counted).toBe(2);
    expect(p.toAnnounce.map((a) => [a.c.id, a.due.toISOString()])).toEqual([
      ['soon', at(7 * DAY_MS)],
      ['past', at(7 * DAY_MS)],
    ]);
    expect(p.toPurge).toEqual([]);
  });

  it('with noticeDays 0 an expired item is announced and purged by the same run', () => {
    const p = plan([item('past', -DAY_MS)], 0);
    expect(p.toAnnounce.map((a) => a.c.id)).toEqual(['past']);
    expect(p.toPurge.map((a) => [a.c.id, a.due.toISOString()])).toEqual([['past', NOW.toISOString()]]);
  });

  it('purges an announced item once both its due time and its retention date have passed', () => {
    const due = item('due', -DAY_MS, { purge_announced_at: at(-8 * DAY_MS), purge_due_at: at(-DAY_MS) });
    const notYet = item('not-yet', -DAY_MS, { purge_announced_at: at(-2 * DAY_MS), purge_due_at: at(5 * DAY_MS) });
    // The policy grew after the announcement: the later retention date wins.
    const grown = item('grown', 2 * DAY_MS, { purge_announced_at: at(-8 * DAY_MS), purge_due_at: at(-DAY_MS) });
    const p = plan([due, notYet, grown]);
    expect(p.counted).toBe(3);
    expect(p.toAnnounce).toEqual([]);
    expect(p.toPurge.map((x) => x.c.id)).toEqual(['due']);
  });

  it('counts a held item and skips it: never announced, never purged', () => {
    const p = plan([item('held', -DAY_MS, { held: true, purge_announced_at: at(-8 * DAY_MS), purge_due_at: at(-DAY_MS) })], 0);
    expect(p.counted).toBe(1);
    expect(p.held.map((h) => h.c.id)).toEqual(['held']);
    expect(p.toAnnounce).toEqual([]);
    expect(p.toPurge).toEqual([]);
  });

  it('a dry run reports the plan as if carried out: an item announced and purged at once is reported purged', () => {
    const announcedEarlier = item('due', -DAY_MS, { purge_announced_at: at(-8 * DAY_MS), purge_due_at: at(-DAY_MS) });
    const out = dryRunOutcome(plan([item('past', -DAY_MS), announcedEarlier], 0));
    expect(out.announced).toBe(1);
    expect(out.purged).toBe(2);
    expect(out.bytesFreed).toBe(20);
    expect(out.items.map((i) => [i.evidenceId, i.outcome])).toEqual([
      ['past', 'purged'],
      ['due', 'purged'],
    ]);
    const later = dryRunOutcome(plan([item('soon', 3 * DAY_MS)]));
    expect(later.items.map((i) => [i.evidenceId, i.outcome, i.dueAt])).toEqual([['soon', 'announced', at(7 * DAY_MS)]]);
  });
});
