import { describe, expect, it } from 'vitest';
import { shiftMissingFindings } from './missing-upload.js';
import { SETTINGS, local } from './rule-fixtures.spec.js';

const shift = { id: 'a1', officer: '0417', recorderSerial: 'ZFY001', unit: 'U1', startsAt: '2026-11-20T08:00:00.000Z', endsAt: '2026-11-20T18:00:00.000Z' };
const deadline = '2026-11-21T18:00:00.000Z';
const ctx = { settings: SETTINGS, local };

describe('rule missing-upload (issue 13)', () => {
  it('raises nothing for a shift with footage whose recorder docked in time', () => {
    expect(shiftMissingFindings(shift, { deadline, clips: 3, docked: 1, everDocked: true }, ctx)).toEqual([]);
  });

  it('a shift with no footage handed in, and a recorder not docked, are two findings', () => {
    const found = shiftMissingFindings(shift, { deadline, clips: 0, docked: 0, everDocked: true }, ctx);
    expect(found.map((f) => [f.key, f.seen['kind']])).toEqual([
      ['missing-upload:a1:no-footage', 'no-footage'],
      ['missing-upload:a1:not-docked', 'not-docked'],
    ]);
    expect(found[0]).toMatchObject({ rule: 'missing-upload', officer: '0417', recorderSerial: 'ZFY001', assignmentId: 'a1', unit: 'U1', seen: { deadline, deadlineHours: 24 } });
    expect(found[1]!.summary).toBe(
      "recorder ZFY001 was not docked within 24 h of the end of officer 0417's shift (local(2026-11-20T08:00:00.000Z) – local(2026-11-20T18:00:00.000Z))",
    );
  });

  it('says when the recorder has never been docked at all', () => {
    const [f] = shiftMissingFindings(shift, { deadline, clips: 2, docked: 0, everDocked: false }, ctx);
    expect(f!.seen['everDocked']).toBe(false);
    expect(f!.summary).toMatch(/; it has never been docked$/);
  });
});
