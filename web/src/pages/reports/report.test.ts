/** The compliance report's CSV (issue 19): what Excel needs to open it, and the API's figures as given. */
import { describe, expect, it } from 'vitest';
import zh from '../../locales/zh-CN.json';
import { type ComplianceReport, hours, percent, periodQuery, plusDays, reportCsv, todayIn, wallTime } from './report';

/** vue-i18n's lookup and {name} interpolation, enough for the CSV's headers. */
function t(key: string, params: Record<string, unknown> = {}): string {
  const v = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], zh);
  if (typeof v !== 'string') throw new Error(`no zh-CN text for ${key}`);
  return v.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k]));
}

const flags = { 'late-upload': 2, 'missing-upload': 0, 'sequence-gap': 0, 'recording-gap': 1, 'clock-drift': 0, 'repair-overdue': 0, 'attribution-conflict': 0 };
const figures = { assignments: 3, clips: 8, hoursRecorded: 1.5, onTimeRate: 0.875, uploadDelay: { medianHours: 2, worstHours: 30.25 }, delayBuckets: [1, 6, 0, 0, 0, 1, 0], openFlags: flags };
const report: ComplianceReport = {
  from: '2026-11-01T00:00:00.000Z',
  to: '2026-12-01T00:00:00.000Z',
  timezone: 'Asia/Shanghai',
  uploadDeadlineHours: 24,
  maxClockDriftSeconds: 30,
  repairDeadlineHours: 24,
  delayBucketsHours: [0, 1, 6, 12, 24, 48, 168],
  units: [{ unit: '执法一科', ...figures }],
  officers: [{ unit: '执法一科', officer: '0417', name: '李伟, "老李"', ...figures, onTimeRate: null, uploadDelay: { medianHours: null, worstHours: null } }],
  timeliness: [],
  devices: [
    {
      serial: 'ZFY001',
      unit: null,
      officer: '0417',
      model: null,
      status: 'reported-damaged',
      repair: { reportedAt: '2026-11-30T00:00:00.000Z', dueBy: '2026-12-01T00:00:00.000Z', overdue: true },
      docks: 2,
      verdicts: { ready: 1, notReady: 1, unchecked: 0 },
      battery: { first: 90, last: 70, min: 70, changePerWeek: -10 },
      clockDrift: { lastMs: -45_000, worstMs: -45_000, overLimit: 1 },
      lastDockedAt: '2026-11-29T00:00:00.000Z',
    },
  ],
};

describe('the compliance report as CSV (issue 19)', () => {
  const csv = reportCsv(report, t);
  const lines = csv.slice(1).split('\r\n');

  it('starts with a byte-order mark and ends its lines with CRLF, so Excel reads it as UTF-8', () => {
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.slice(1).includes('\r\n')).toBe(true);
    expect(csv.replace(/\r\n/g, '').includes('\n')).toBe(false);
  });

  it('has Chinese headers and the figures as the API gave them', () => {
    expect(lines[0]).toBe('统计期间,2026-11-01T00:00:00.000Z,2026-12-01T00:00:00.000Z,上传时限（小时）,24');
    expect(lines[1]).toBe('统计层级,科室,执法证号,姓名,领用次数,资料数,录制时长（小时）,按时上传率,上传时延中位数（小时）,最长上传时延（小时）,逾期上传,未上传,文件编号不连续,录像中断,时间偏差,逾期未送修,归属冲突');
    expect(lines[2]).toBe('科室,执法一科,,,3,8,1.50,87.5,2.00,30.25,2,0,0,1,0,0,0');
    // A name with a comma and quotes is quoted (RFC 4180); figures without a value are empty.
    expect(lines[3]).toBe('执法人员,执法一科,0417,"李伟, ""老李""",3,8,1.50,,,,2,0,0,1,0,0,0');
    expect(lines[6]).toBe('ZFY001,未登记科室,已报修,2,1,1,0,90,70,70,-10,-45,-45,1,2026-12-01T00:00:00.000Z');
  });

  it('formats rates and hours as the page shows them', () => {
    expect(percent(0.875)).toBe('87.5%');
    expect(percent(null)).toBe('—');
    expect(hours(30.25)).toBe('30.25');
    expect(hours(null)).toBe('—');
  });
});

// The page took a day as UTC+8 whatever the station's zone: a station in New York asked
// for 2026-11-30 got 11:00 to 11:00 its time. Its days are now the station's own.
describe('the report period in the station\'s time zone', () => {
  it('takes days in Asia/Shanghai as before: from 16:00 UTC the day before', () => {
    expect(periodQuery('2026-11-01', '2026-11-30', 'Asia/Shanghai')).toEqual({ from: '2026-11-01T00:00:00+08:00', to: '2026-12-01T00:00:00+08:00' });
  });

  it('takes days in a zone that is not UTC+8, across its change of daylight saving (a 25-hour day)', () => {
    // New York leaves daylight saving on 1 November 2026: that day is 25 hours long.
    const q = periodQuery('2026-10-31', '2026-11-01', 'America/New_York');
    expect(q).toEqual({ from: '2026-10-31T00:00:00-04:00', to: '2026-11-02T00:00:00-05:00' });
    expect((Date.parse(q.to) - Date.parse(q.from)) / 3_600_000).toBe(49);
    expect(periodQuery('2026-12-03', '2026-12-03', 'Europe/London')).toEqual({ from: '2026-12-03T00:00:00+00:00', to: '2026-12-04T00:00:00+00:00' });
    expect(periodQuery('2026-12-03', '2026-12-03', 'Asia/Kolkata')).toEqual({ from: '2026-12-03T00:00:00+05:30', to: '2026-12-04T00:00:00+05:30' });
  });

  it('says today as the station\'s calendar does, not the browser\'s or UTC+8\'s', () => {
    const now = new Date('2026-12-03T02:00:00Z'); // 10:00 in Shanghai, still 2 December in Los Angeles
    expect(todayIn('Asia/Shanghai', now)).toBe('2026-12-03');
    expect(todayIn('America/Los_Angeles', now)).toBe('2026-12-02');
    expect(todayIn('Pacific/Kiritimati', new Date('2026-12-02T11:00:00Z'))).toBe('2026-12-03');
  });

  it('counts calendar days without a zone, and shows an instant on the station\'s wall clock', () => {
    expect(plusDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(plusDays('2026-03-01', -29)).toBe('2026-01-31');
    expect(plusDays('2026-11-01', 1)).toBe('2026-11-02');
    expect(wallTime('2026-11-02T05:00:00.000Z', 'America/New_York')).toBe('2026-11-02 00:00');
    expect(wallTime('2026-11-02T05:00:00.000Z', 'Asia/Shanghai')).toBe('2026-11-02 13:00');
  });
});
