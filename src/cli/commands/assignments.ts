import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { AssignmentsService, ROSTER_COLUMNS, localText, parseLocalTime, type Assignment } from '../../compliance/index.js';
import { globals, output, withRuntime } from '../context.js';
import { cliActor } from './ingest.js';

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

export function registerAssignments(program: Command): void {
  const cmd = program
    .command('assignments')
    .description('which officer had which recorder when (shifts); footage is attributed and compliance judged through them (docs/compliance.md)');

  cmd
    .command('add')
    .description('assign a recorder to an officer from --start (to --end); times are local in the configured timezone unless they carry a zone')
    .requiredOption('--officer <number>', 'officer number')
    .requiredOption('--recorder <serial>', 'recorder serial')
    .requiredOption('--start <time>', 'e.g. "2026-11-20 08:00" or 2026-11-20T08:00:00+08:00')
    .option('--end <time>', 'end of the shift (default: open until `assignments end`)')
    .option('--name <name>', "the officer's name (needed the first time; updates it otherwise)")
    .option('--unit <unit>', "the officer's unit (科室)")
    .action(async (opts: { officer: string; recorder: string; start: string; end?: string; name?: string; unit?: string }, c: Command) => {
      const g = globals(c);
      await withRuntime(g, async (rt) => {
        const svc = new AssignmentsService({ catalog: rt.catalog, timezone: rt.config.timezone });
        const r = svc.add({ officer: opts.officer, recorder: opts.recorder, start: opts.start, end: opts.end, name: opts.name, unit: opts.unit }, cliActor());
        output(g, r, `${r.created ? 'assigned' : 'already assigned'}: ${r.assignment.id}\n${table([r.assignment], rt.config.timezone)}`);
      });
    });

  cmd
    .command('end')
    .description('end an open assignment (the recorder was handed back), now or --at a time')
    .argument('<id>', 'assignment id')
    .option('--at <time>', 'when it ended')
    .action(async (id: string, opts: { at?: string }, c: Command) => {
      const g = globals(c);
      await withRuntime(g, async (rt) => {
        const a = new AssignmentsService({ catalog: rt.catalog, timezone: rt.config.timezone }).end(id, cliActor(), opts.at);
        output(g, a, `ended: ${a.id} at ${localText(a.endsAt!, rt.config.timezone)}`);
      });
    });

  cmd
    .command('list')
    .description('assignments, oldest first, optionally those overlapping --from/--to')
    .option('--unit <unit>')
    .option('--officer <number>')
    .option('--recorder <serial>')
    .option('--from <time>')
    .option('--to <time>')
    .option('--open', 'only those not ended')
    .option('--limit <n>', 'at most this many', '1000')
    .action(async (opts: { unit?: string; officer?: string; recorder?: string; from?: string; to?: string; open?: boolean; limit: string }, c: Command) => {
      const g = globals(c);
      await withRuntime(g, async (rt) => {
        const tz = rt.config.timezone;
        const list = new AssignmentsService({ catalog: rt.catalog, timezone: tz }).list(
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
    });

  cmd
    .command('import')
    .description(`import a duty roster: CSV (UTF-8, BOM optional) with a header line naming the columns ${ROSTER_COLUMNS.join(',')}; every bad line is reported and then nothing is imported`)
    .argument('<file>', 'the roster CSV')
    .action(async (file: string, _opts: unknown, c: Command) => {
      const g = globals(c);
      const text = await readFile(file, 'utf8');
      await withRuntime(g, async (rt) => {
        const r = new AssignmentsService({ catalog: rt.catalog, timezone: rt.config.timezone }).importCsv(text, cliActor());
        output(g, { created: r.created, unchanged: r.unchanged, ids: r.assignments.map((a) => a.id) }, `imported ${r.created} assignment(s); ${r.unchanged} already there`);
      });
    });

  cmd
    .command('officer')
    .description("register or update an officer; --user links their own API user, who may then never approve a flag about them")
    .argument('<number>', 'officer number')
    .requiredOption('--name <name>')
    .option('--unit <unit>')
    .option('--user <id>', "the officer's API user id")
    .action(async (number: string, opts: { name: string; unit?: string; user?: string }, c: Command) => {
      const g = globals(c);
      await withRuntime(g, async (rt) => {
        const o = new AssignmentsService({ catalog: rt.catalog, timezone: rt.config.timezone }).upsertOfficer(
          { number, name: opts.name, unit: opts.unit ?? null, ...(opts.user !== undefined ? { userId: opts.user } : {}) },
          cliActor(),
        );
        output(g, o, `officer ${o.number}: ${o.name}${o.unit ? `, ${o.unit}` : ''}${o.userId ? ` (user ${o.userId})` : ''}`);
      });
    });
}
