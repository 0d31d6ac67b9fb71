/**
 * The compliance report as the page and its CSV show it: every figure is the API's
 * (GET /api/v1/reports/compliance), only formatted — nothing is counted again here.
 */
import { DateTime } from 'luxon';
import type { paths } from '../../api/schema';

export type ComplianceReport = paths['/api/v1/reports/compliance']['get']['responses'][200]['content']['application/json'];
export type UnitRow = ComplianceReport['units'][number];
export type OfficerRow = ComplianceReport['officers'][number];
export type DeviceHealth = ComplianceReport['devices'][number];
export type FlagRule = keyof UnitRow['openFlags'];

/** The rules in the order the API lists them. */
export const RULES: FlagRule[] = ['late-upload', 'missing-upload', 'sequence-gap', 'recording-gap', 'clock-drift', 'repair-overdue', 'attribution-conflict'];

export const percent = (r: number | null): string => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);
export const hours = (h: number | null): string => (h === null ? '—' : h.toFixed(2));
export const openFlagCount = (r: UnitRow | OfficerRow): number => RULES.reduce((a, k) => a + (r.openFlags[k] ?? 0), 0);

/**
 * The period's days are the station's local days (config `timezone`, which GET /session
 * names): a bureau outside UTC+8, or one whose zone keeps daylight saving, has days that
 * neither start at 16:00 UTC nor last 24 hours each. luxon does the zone arithmetic.
 */
export const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Today (YYYY-MM-DD) in the zone. */
export function todayIn(zone: string, now: Date = new Date()): string {
  return DateTime.fromJSDate(now, { zone }).toISODate()!;
}

/** The calendar day n days after (or before) a YYYY-MM-DD day: calendar arithmetic, no zone. */
export function plusDays(day: string, n: number): string {
  return DateTime.fromISO(day, { zone: 'utc' }).plus({ days: n }).toISODate()!;
}

/** The query for the days first..last, both included: from the start of the first to the start of the day after the last, in the zone. */
export function periodQuery(first: string, last: string, zone: string): { from: string; to: string } {
  const start = (day: string): string => DateTime.fromISO(day, { zone }).startOf('day').toISO({ suppressMilliseconds: true })!;
  return { from: start(first), to: start(plusDays(last, 1)) };
}

/** An instant as the station's clock on the wall says it: 2026-12-01 00:00. */
export function wallTime(iso: string, zone: string): string {
  const d = DateTime.fromISO(iso, { zone });
  return d.isValid ? d.toFormat('yyyy-MM-dd HH:mm') : iso;
}

/** A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
function field(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The report as CSV for Excel: UTF-8 with a byte-order mark (without it Excel reads
 * Chinese as mojibake), CRLF line ends, headers in the page's language. One line per
 * unit and per officer, the figures as the API gave them (rates as percentages with
 * one decimal, hours with two), then one line per recorder's health.
 */
export function reportCsv(r: ComplianceReport, t: (key: string, params?: Record<string, unknown>) => string): string {
  const head = [
    t('reports.csv.level'),
    t('reports.unit'),
    t('reports.officer'),
    t('reports.name'),
    t('reports.assignments'),
    t('reports.clips'),
    t('reports.hoursRecorded'),
    t('reports.onTimeRate'),
    t('reports.medianDelay'),
    t('reports.worstDelay'),
    ...RULES.map((k) => t(`flagRule.${k}`)),
  ];
  const row = (level: string, x: UnitRow | OfficerRow, officer: string | null, name: string | null): Array<string | number | null> => [
    level,
    x.unit ?? t('reports.noUnit'),
    officer,
    name,
    x.assignments,
    x.clips,
    x.hoursRecorded.toFixed(2),
    x.onTimeRate === null ? null : (x.onTimeRate * 100).toFixed(1),
    x.uploadDelay.medianHours === null ? null : x.uploadDelay.medianHours.toFixed(2),
    x.uploadDelay.worstHours === null ? null : x.uploadDelay.worstHours.toFixed(2),
    ...RULES.map((k) => x.openFlags[k] ?? 0),
  ];
  const lines: Array<Array<string | number | null>> = [
    [t('reports.csv.period'), r.from, r.to, t('reports.csv.deadline'), r.uploadDeadlineHours],
    head,
    ...r.units.map((u) => row(t('reports.csv.unitLevel'), u, null, null)),
    ...r.officers.map((o) => row(t('reports.csv.officerLevel'), o, o.officer, o.name)),
    [],
    [
      t('reports.device'),
      t('reports.unit'),
      t('reports.status'),
      t('reports.docks'),
      t('reports.verdictReady'),
      t('reports.verdictNotReady'),
      t('reports.verdictUnchecked'),
      t('reports.batteryFirst'),
      t('reports.batteryLast'),
      t('reports.batteryMin'),
      t('reports.batteryTrend'),
      t('reports.driftLast'),
      t('reports.driftWorst'),
      t('reports.driftOver'),
      t('reports.repairDue'),
    ],
    ...r.devices.map((d) => [
      d.serial,
      d.unit ?? t('reports.noUnit'),
      t(`deviceStatus.${d.status}`),
      d.docks,
      d.verdicts.ready,
      d.verdicts.notReady,
      d.verdicts.unchecked,
      d.battery.first,
      d.battery.last,
      d.battery.min,
      d.battery.changePerWeek,
      d.clockDrift.lastMs === null ? null : Math.round(d.clockDrift.lastMs / 1000),
      d.clockDrift.worstMs === null ? null : Math.round(d.clockDrift.worstMs / 1000),
      d.clockDrift.overLimit,
      d.repair?.dueBy ?? null,
    ]),
  ];
  return '\uFEFF' + lines.map((l) => l.map(field).join(',')).join('\r\n') + '\r\n';
}
