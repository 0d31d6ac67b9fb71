import { describe, expect, it } from 'vitest';
import { shiftGapFindings, shiftJudgeable } from './recording-gap.js';
import { SETTINGS, local } from './rule-fixtures.spec.js';

const shift = { id: 'a1', officer: '0417', recorderSerial: 'ZFY001', unit: 'U1' };
const clip = (id: string, start: string, end: string) => ({ id, start: `2026-11-20T${start}:00.000Z`, end: `2026-11-20T${end}:00.000Z`, source_name: `${id}.MP4` });
const ctx = { settings: SETTINGS, local };

describe('rule recording-gap (issue 13)', () => {
  it('raises nothing when consecutive clips are at most maxGapMinutes apart', () => {
    expect(shiftGapFindings(shift, [clip('a', '08:00', '08:20'), clip('b', '08:50', '09:00')], ctx)).toEqual([]);
  });

  it('names a longer stop, from the end of one clip to the start of the next', () => {
    const [f, ...rest] = shiftGapFindings(shift, [clip('a', '08:00', '08:20'), clip('b', '09:00', '09:10')], ctx);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      rule: 'recording-gap',
      key: 'recording-gap:a1:a',
      evidenceId: 'b',
      assignmentId: 'a1',
      seen: { from: '2026-11-20T08:20:00.000Z', to: '2026-11-20T09:00:00.000Z', minutes: 40, maxGapMinutes: 30, after: 'a.MP4', before: 'b.MP4' },
    });
  });

  it('measures from the latest end so far: a long clip overlapping shorter ones covers them', () => {
    expect(shiftGapFindings(shift, [clip('long', '08:00', '10:00'), clip('short', '08:10', '08:15'), clip('next', '10:20', '10:30')], ctx)).toEqual([]);
  });

  it('judges a shift once its recorder docked after it, or its upload deadline passed', () => {
    const endsAt = '2026-11-20T18:00:00.000Z';
    const before = Date.parse('2026-11-21T12:00:00.000Z');
    const after = Date.parse('2026-11-21T18:00:01.000Z');
    expect(shiftJudgeable(endsAt, 0, before, SETTINGS)).toBe(false);
    expect(shiftJudgeable(endsAt, 1, before, SETTINGS)).toBe(true);
    expect(shiftJudgeable(endsAt, 0, after, SETTINGS)).toBe(true);
  });
});
