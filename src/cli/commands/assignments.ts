import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { localText, parseLocalTime, type Assignment } from '../../compliance/index.js';
import { globals, output, withRuntime } from '../context.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function table(list: Assignment[], tz: string): string {
  if (list.length === 0) return 'no assignments';
  const head = ['id', 'officer', 'name', 'unit', 'recorder', 'start', 'end'];
  const rows = list.map((a) => [a.id, a.officer, a.officerName, a.unit ?? '-', a.recorderSerial, localText(a.startsAt, tz), a.endsAt ? localText(a.endsAt, tz) : '(open)']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n');
}

export async function assignmentsAddCommand(opts: { officer: string; recorder: string; start: string; end?: string; name?: string; unit?: string }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const svc = (await rt.station.compliance()).assignments;
    const r = svc.add({ officer: opts.officer, recorder: opts.recorder, start: opts.start, end: opts.end, name: opts.name, unit: opts.unit }, rt.station.actor);
    output(g, r, `${r.created ? 'assigned' : 'already assigned'}: ${r.assignment.id}\n${table([r.assignment], rt.config.timezone)}`);
  });
}

export async function assignmentsEndCommand(id: string, opts: { at?: string }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const a = (await rt.station.compliance()).assignments.end(id, rt.station.actor, opts.at);
    output(g, a, `ended: ${a.id} at ${localText(a.endsAt!, rt.config.timezone)}`);
  });
}

export async function assignmentsListCommand(opts: { unit?: string; officer?: string; recorder?: string; from?: string; to?: string; open?: boolean; limit: string }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const tz = rt.config.timezone;
    const list = (await rt.station.compliance()).assignments.list(
      {
        unit: opts.unit,
        officer: opts.officer,
        recorder: opts.recorder,
        from: opts.from ? parseLocalTime(opts.from, tz, '--from') : undefined,
        to: opts.to ? parseLocalTime(opts.to, tz, '--to') : undefined,
        open: opts.open,
      },
      Math.max(1, Number(opts.limit) || 1000),
    );
    output(g, list, table(list, tz));
  });
}

export async function assignmentsImportCommand(file: string, _opts: unknown, c: Command): Promise<void> {
  const g = globals(c);
  const text = await readFile(file, 'utf8');
  await withRuntime(g, async (rt) => {
    const r = (await rt.station.compliance()).assignments.importCsv(text, rt.station.actor);
    output(g, { created: r.created, unchanged: r.unchanged, ids: r.assignments.map((a) => a.id) }, `imported ${r.created} assignment(s); ${r.unchanged} already there`);
  });
}

export async function assignmentsOfficerCommand(number: string, opts: { name: string; unit?: string; user?: string }, c: Command): Promise<void> {
  const g = globals(c);
  await withRuntime(g, async (rt) => {
    const o = (await rt.station.compliance()).assignments.upsertOfficer(
      { number, name: opts.name, unit: opts.unit ?? null, ...(opts.user !== undefined ? { userId: opts.user } : {}) },
      rt.station.actor,
    );
    output(g, o, `officer ${o.number}: ${o.name}${o.unit ? `, ${o.unit}` : ''}${o.userId ? ` (user ${o.userId})` : ''}`);
  });
}
