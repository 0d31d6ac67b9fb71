import { describe, expect, it } from 'vitest';
import { addCalendarMonths, nextDailyAt, retentionDate } from './policy.js';

const SH = 'Asia/Shanghai';
const policy = { months: 6, minDaysAfterIngest: 30, timezone: SH };

describe('retention policy (issue 7)', () => {
  it('adds calendar months in the zone, keeping the local time of day', () => {
    // 2026-03-15 10:00 in Shanghai = 02:00Z → 2026-09-15 10:00 Shanghai.
    expect(addCalendarMonths(new Date('2026-03-15T02:00:00.000Z'), 6, SH).toISOString()).toBe('2026-09-15T02:00:00.000Z');
  });

  it('31 Aug + 6 months is the last day of February, 29 Feb in a leap year', () => {
    expect(addCalendarMonths(new Date('2026-08-31T04:00:00.000Z'), 6, SH).toISOString()).toBe('2027-02-28T04:00:00.000Z');
    expect(addCalendarMonths(new Date('2027-08-31T04:00:00.000Z'), 6, SH).toISOString()).toBe('2028-02-29T04:00:00.000Z');
    // 29 Feb 2028 + 6 months = 29 Aug.
    expect(addCalendarMonths(new Date('2028-02-29T04:00:00.000Z'), 6, SH).toISOString()).toBe('2028-08-29T04:00:00.000Z');
  });

  it('counts the day in the zone, not in UTC: 31 Aug 23:30 UTC is already 1 Sep in Shanghai', () => {
    // 2026-08-31T23:30Z = 2026-09-01 07:30 local → 2027-03-01 07:30 local.
    expect(addCalendarMonths(new Date('2026-08-31T23:30:00.000Z'), 6, SH).toISOString()).toBe('2027-02-28T23:30:00.000Z');
    // 2026-08-30T17:00Z = 2026-08-31 01:00 local → 2027-02-28 01:00 local = 2027-02-27T17:00Z.
    expect(addCalendarMonths(new Date('2026-08-30T17:00:00.000Z'), 6, SH).toISOString()).toBe('2027-02-27T17:00:00.000Z');
  });

  it('keeps the local time across a daylight-saving change', () => {
    // New York: 2026-01-10 09:00 EST (14:00Z) + 6 months = 2026-07-10 09:00 EDT (13:00Z).
    expect(addCalendarMonths(new Date('2026-01-10T14:00:00.000Z'), 6, 'America/New_York').toISOString()).toBe('2026-07-10T13:00:00.000Z');
  });

  it('the last day of a month, month ends and year ends', () => {
    expect(addCalendarMonths(new Date('2026-12-31T04:00:00.000Z'), 6, SH).toISOString()).toBe('2027-06-30T04:00:00.000Z');
    expect(addCalendarMonths(new Date('2026-07-31T04:00:00.000Z'), 6, SH).toISOString()).toBe('2027-01-31T04:00:00.000Z');
    expect(addCalendarMonths(new Date('2026-05-31T04:00:00.000Z'), 12, SH).toISOString()).toBe('2027-05-31T04:00:00.000Z');
  });

  it('is never less than minDaysAfterIngest after ingest (a late clip is not purged on arrival)', () => {
    const old = { recordedAt: '2026-01-01T02:00:00.000Z', ingestedAt: '2026-11-01T02:00:00.000Z' };
    expect(retentionDate(old, policy).toISOString()).toBe('2026-12-01T02:00:00.000Z');
    const fresh = { recordedAt: '2026-11-01T02:00:00.000Z', ingestedAt: '2026-11-01T03:00:00.000Z' };
    expect(retentionDate(fresh, policy).toISOString()).toBe('2027-05-01T02:00:00.000Z');
  });

  // Issue 13: luxon does the calendar arithmetic; what it does at daylight-saving changes.
  it('a local time skipped by a daylight-saving change moves forward by the gap, never back', () => {
    const NY = 'America/New_York';
    // 2025-09-08 02:30 EDT + 6 months = 2026-03-08 02:30, which does not exist (02:00 → 03:00): 03:30 EDT.
    expect(addCalendarMonths(new Date('2025-09-08T06:30:00.000Z'), 6, NY).toISOString()).toBe('2026-03-08T07:30:00.000Z');
    // The daily run at 02:30 on that day: 03:30 EDT; the next day 02:30 EDT again.
    expect(nextDailyAt(new Date('2026-03-08T05:00:00.000Z'), '02:30', NY).toISOString()).toBe('2026-03-08T07:30:00.000Z');
    expect(nextDailyAt(new Date('2026-03-08T07:30:00.000Z'), '02:30', NY).toISOString()).toBe('2026-03-09T06:30:00.000Z');
  });

  it('a local time that happens twice (clocks go back) is the earlier one, whatever the season counted from', () => {
    const NY = 'America/New_York';
    // 2026-11-01 01:30 is 05:30Z (EDT) and again 06:30Z (EST).
    expect(addCalendarMonths(new Date('2026-05-01T05:30:00.000Z'), 6, NY).toISOString()).toBe('2026-11-01T05:30:00.000Z'); // from summer
    expect(addCalendarMonths(new Date('2025-11-01T05:30:00.000Z'), 12, NY).toISOString()).toBe('2026-11-01T05:30:00.000Z'); // from 01:30 EDT a year before
    expect(addCalendarMonths(new Date('2026-02-01T06:30:00.000Z'), 9, NY).toISOString()).toBe('2026-11-01T05:30:00.000Z'); // from winter (EST)
    expect(nextDailyAt(new Date('2026-11-01T04:00:00.000Z'), '01:30', NY).toISOString()).toBe('2026-11-01T05:30:00.000Z');
    // After the first 01:30 has passed, the next run is the next day's, not the repeated hour.
    expect(nextDailyAt(new Date('2026-11-01T05:30:00.000Z'), '01:30', NY).toISOString()).toBe('2026-11-02T06:30:00.000Z');
  });

  it('a zone whose change is half an hour (Lord Howe) and a zone with none (Shanghai) keep the local time', () => {
    // 2026-07-04 02:15 +10:30 (15:45Z the day before) + 3 months = 2026-10-04 02:15, in the
    // skipped half hour (02:00 → 02:30): 02:45 +11.
    expect(addCalendarMonths(new Date('2026-07-03T15:45:00.000Z'), 3, 'Australia/Lord_Howe').toISOString()).toBe('2026-10-03T15:45:00.000Z');
    // Shanghai: every day has 24 hours; 1 January + 6 months at 00:00 local.
    expect(addCalendarMonths(new Date('2025-12-31T16:00:00.000Z'), 6, SH).toISOString()).toBe('2026-06-30T16:00:00.000Z');
  });

  it('finds the next daily run time in the zone', () => {
    // 03:30 Shanghai = 19:30Z the day before.
    expect(nextDailyAt(new Date('2026-11-27T12:00:00.000Z'), '03:30', SH).toISOString()).toBe('2026-11-27T19:30:00.000Z');
    expect(nextDailyAt(new Date('2026-11-27T19:30:00.000Z'), '03:30', SH).toISOString()).toBe('2026-11-28T19:30:00.000Z');
    expect(nextDailyAt(new Date('2026-11-27T19:00:00.000Z'), '03:30', SH).toISOString()).toBe('2026-11-27T19:30:00.000Z');
  });
});
