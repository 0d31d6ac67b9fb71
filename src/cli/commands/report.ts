import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { FLAG_RULES, parseLocalTime, startOfLocalDay, type ComplianceFigures, type ComplianceReport } from '../../compliance/index.js';
import { UsageError } from '../../core/index.js';
import { globals, withRuntime } from '../context.js';

const FORMATS = ['table', 'csv', 'json'] as const;

/** "--to 2026-11-30" means through the end of that local day. */
function endOfPeriod(value: string, tz: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/u.test(value)) {
    return DateTime.fromISO(startOfLocalDay(value, tz, '--to'), { zone: tz }).plus({ days: 1 }).toUTC().toISO()!;
  }
  return parseLocalTime(value, tz, '--to');
}

type Row = { unit: string | null; officer?: string | null; name?: string | null } & ComplianceFigures;

function cells(r: Row, level: 'unit' | 'officer'): string[] {
  const flags = FLAG_RULES.map((k) => r.openFlags[k]);
  return [
    level,
    r.unit ?? '',
    r.officer ?? '',
    r.name ?? '',
    String(r.assignments),
    String(r.clips),
    r.hoursRecorded.toFixed(2),
    r.onTimeRate === null ? '' : `${(r.onTimeRate * 100).toFixed(1)}`,
    r.uploadDelay.medianHours === null ? '' : r.uploadDelay.medianHours.toFixed(2),
    r.uploadDelay.worstHours === null ? '' : r.uploadDelay.worstHours.toFixed(2),
    ...flags.map(String),
  ];
}

const HEAD = ['level', 'unit', 'officer', 'name', 'assignments', 'clips', 'hours', 'on-time %', 'median delay h', 'worst delay h', ...FLAG_RULES];

function csvField(s: string): string {
  return /[",\r\n]/u.test(s) ? `"${s.replace(/"/gu, '""')}"` : s;
}

export function formatReport(r: ComplianceReport, format: (typeof FORMATS)[number]): string {
  if (format === 'json') return JSON.stringify(r);
  const rows = [...r.units.map((u) => cells(u, 'unit')), ...r.officers.map((o) => cells(o, 'officer'))];
  if (format === 'csv') return [HEAD, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`compliance ${r.from} .. ${r.to} (${r.timezone}; deadline ${r.uploadDeadlineHours} h)`, line(HEAD), ...rows.map(line)].join('\n') + '\n';
}

export async function reportComplianceCommand(opts: { from: string; to: string; unit?: string; format: string }, c: Command): Promise<void> {
  const g = globals(c);
  const format = g.json ? 'json' : opts.format;
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  await withRuntime(g, async (rt) => {
    const tz = rt.config.timezone;
    let from: string;
    let to: string;
    try {
      from = startOfLocalDay(opts.from, tz, '--from');
      to = endOfPeriod(opts.to, tz);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    if (from >= to) throw new UsageError('--from must be before --to');
    const r = (await rt.station.compliance()).report({ from, to, unit: opts.unit });
    const text = formatReport(r, format as (typeof FORMATS)[number]);
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  });
}
