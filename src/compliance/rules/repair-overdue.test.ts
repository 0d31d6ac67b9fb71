import { describe, expect, it } from 'vitest';
import { overdueFinding } from './repair-overdue.js';
import { SETTINGS, local } from './rule-fixtures.spec.js';

const damaged = { serial: 'ZFY001', officer: '0417', unit: null, since: '2026-11-20T08:00:00.000Z', note: 'cracked lens' };
const ctx = { settings: SETTINGS, local };

describe('rule repair-overdue (issue 13)', () => {
  it('raises nothing until the repair deadline has passed, without looking up the assignment', () => {
    let asked = 0;
    const assignedAt = () => {
      asked++;
      return null;
    };
    expect(overdueFinding(damaged, Date.parse('2026-11-22T08:00:00.000Z'), assignedAt, ctx)).toBeNull();
    expect(asked).toBe(0);
  });

  it('names a recorder not handed in within the deadline, and who had it when it was reported', () => {
    const f = overdueFinding(damaged, Date.parse('2026-11-22T08:00:01.000Z'), () => ({ officer: '0418', unit: 'U2' }), ctx);
    expect(f).toEqual({
      rule: 'repair-overdue',
      key: 'repair-overdue:ZFY001:2026-11-20T08:00:00.000Z',
      officer: '0418',
      recorderSerial: 'ZFY001',
      unit: 'U2',
      seen: { reportedAt: damaged.since, deadline: '2026-11-22T08:00:00.000Z', deadlineHours: 48, note: 'cracked lens' },
      summary: 'recorder ZFY001 was reported damaged at local(2026-11-20T08:00:00.000Z) and has not been handed in for repair within 48 h',
    });
  });
});
