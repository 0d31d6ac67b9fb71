/**
 * Dates, sizes and durations as the bureau writes them: 2026-12-01 08:30 in the
 * bureau's zone on a 24-hour clock, sizes in MB/GB, durations "2 小时 15 分".
 */
import { i18n } from './i18n';

/** The bureau's zone (custody's `timezone` default). */
export const BUREAU_TZ = 'Asia/Shanghai';

const t = (key: string, params?: Record<string, unknown>): string => i18n.global.t(key, params ?? {});

const parts = (iso: string, withSeconds: boolean): string | null => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: BUREAU_TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    ...(withSeconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
  }).formatToParts(d);
  const p = (type: string): string => f.find((x) => x.type === type)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}${withSeconds ? `:${p('second')}` : ''}`;
};

export function dateTime(iso: string | null | undefined, withSeconds = false): string {
  if (!iso) return '—';
  return parts(iso, withSeconds) ?? iso;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} KB`;
  return `${n} B`;
}

export function rate(bytesPerSecond: number): string {
  return `${bytes(bytesPerSecond)}/s`;
}

/** "2 小时 15 分", "3 分 20 秒", "45 秒". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return t('time.hoursMinutes', { h, m });
  if (m > 0) return t('time.minutesSeconds', { m, s: sec });
  return t('time.seconds', { s: sec });
}

/** Clock drift as staff say it: "快 420 秒" / "慢 3 秒" rather than +/-. */
export function drift(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return t('docks.unknown');
  const s = Math.round(ms / 1000);
  if (s === 0) return t('docks.driftNone');
  return s > 0 ? t('docks.driftAhead', { s }) : t('docks.driftBehind', { s: -s });
}
