/** Issue 19: the flags list puts escalated flags first, then open, then resolved, each newest first; events are kept only when they match the filter. */
import { describe, expect, it } from 'vitest';
import { type Flag, filter, flags, matches, put, sorted } from './flags.js';

const flag = (id: string, state: Flag['state'], raisedAt: string, extra: Partial<Flag> = {}): Flag =>
  ({ id, rule: 'late-upload', state, raisedAt, officer: '100001', recorderSerial: 'ZFY001', unit: '350200', seen: {}, summary: '', aboutCaller: false, ...extra }) as Flag;

describe('the flags store (issue 19)', () => {
  it('sorts escalated first, then open, then resolved; newest first within each', () => {
    flags.clear();
    filter.value = {};
    for (const f of [
      flag('a', 'open', '2026-12-01T08:00:00.000Z'),
      flag('b', 'escalated', '2026-11-28T08:00:00.000Z'),
      flag('c', 'resolved', '2026-12-02T08:00:00.000Z'),
      flag('d', 'open', '2026-12-02T08:00:00.000Z'),
      flag('e', 'escalated', '2026-11-30T08:00:00.000Z'),
    ])
      put(f);
    expect(sorted.value.map((f) => f.id)).toEqual(['e', 'b', 'd', 'a', 'c']);
  });

  it('keeps a flag only while it matches the filter: a resolution leaves the unresolved list', () => {
    flags.clear();
    filter.value = { state: 'unresolved', device: 'ZFY001' };
    put(flag('a', 'open', '2026-12-01T08:00:00.000Z'));
    put(flag('b', 'open', '2026-12-01T08:00:00.000Z', { recorderSerial: 'ZFY002' }));
    expect([...flags.keys()]).toEqual(['a']);
    put(flag('a', 'resolved', '2026-12-01T08:00:00.000Z'));
    expect(flags.size).toBe(0);
    expect(matches(flag('x', 'escalated', 'x', { rule: 'clock-drift' }), { rule: 'clock-drift', state: 'escalated', unit: '350200', officer: '100001' })).toBe(true);
    expect(matches(flag('x', 'open', 'x'), { officer: '100002' })).toBe(false);
  });
});
