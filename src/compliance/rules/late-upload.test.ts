import { describe, expect, it } from 'vitest';
import { lateFindings, lateness } from './late-upload.js';
import { SETTINGS, attributeTo, ev, local } from './rule-fixtures.spec.js';

const ctx = { settings: SETTINGS, local, attribute: attributeTo() };

describe('rule late-upload (issue 13)', () => {
  it('is on time up to exactly the deadline after the recorded end, late after it, with the delay in hours', () => {
    expect(lateness({ end: '2026-11-20T08:00:00.000Z', ingested_at: '2026-11-21T08:00:00.000Z' }, SETTINGS)).toBeNull();
    expect(lateness({ end: '2026-11-20T08:00:00.000Z', ingested_at: '2026-11-21T08:00:01.000Z' }, SETTINGS)).toBe(24);
    expect(lateness({ end: '2026-11-20T08:00:00.000Z', ingested_at: '2026-11-21T14:30:00.000Z' }, SETTINGS)).toBe(30.5);
  });

  it('raises nothing for items handed in on time', () => {
    expect(lateFindings([ev('a'), ev('b')], ctx)).toEqual([]);
  });

  it('one late dock is one finding naming every late file, keyed by the first, with the worst delay', () => {
    const late = { ingested_at: '2026-11-22T08:10:00.000Z' };
    const rows = [
      ev('b', { ...late, recorded_start: '2026-11-20T09:00:00.000Z', end: '2026-11-20T09:10:00.000Z' }),
      ev('a', { ...late, recorded_start: '2026-11-20T08:00:00.000Z', end: '2026-11-20T08:10:00.000Z' }),
      ev('c'), // on time
    ];
    const [f, ...rest] = lateFindings(rows, ctx);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      rule: 'late-upload',
      key: 'late-upload:s1:a',
      evidenceId: 'a',
      evidenceIds: ['a', 'b'],
      officer: '0417',
      seen: { delayHours: 48, fileCount: 2, file: 'a.MP4', deadlineHours: 24 },
    });
    expect(f!.summary).toBe('2 files from ZFY001 were handed in late in one dock, up to 48 h after recording ended (a.MP4, ended local(2026-11-20T08:10:00.000Z)); the limit is 24 h');
  });

  it('gives each session and each officer their own finding', () => {
    const late = { ingested_at: '2026-11-23T00:00:00.000Z' };
    const found = lateFindings([ev('a', late), ev('b', { ...late, session_id: 's2' }), ev('c', { ...late, officer: '0418' })], ctx);
    expect(found.map((f) => [f.key, f.officer])).toEqual([
      ['late-upload:s1:a', '0417'],
      ['late-upload:s2:b', '0417'],
      ['late-upload:s1:c', '0418'],
    ]);
    expect(found[0]!.summary).toMatch(/^a\.MP4 from ZFY001 was handed in [\d.]+ h after recording ended/);
  });
});
