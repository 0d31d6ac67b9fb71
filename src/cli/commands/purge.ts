import type { Command } from 'commander';
import type { PurgeReport } from '../../retention/index.js';
import { EXIT_PROBLEM, globals, output, withRuntime } from '../context.js';

function human(r: PurgeReport): string {
  const mb = (r.bytesFreed / 1e6).toFixed(1);
  const head = r.dryRun ? 'Dry run (nothing changed)' : `Purge run ${r.runId}`;
  if (r.status === 'refused') return `${head}: REFUSED (${r.refusal!.code}): ${r.refusal!.message}`;
  const lines = [
    `${head}: ${r.status}`,
    `  counted:   ${r.counted} item(s) in the notice window or past their retention date`,
    `  announced: ${r.announced} (pending-purge)`,
    `  purged:    ${r.purged}, ${mb} MB freed`,
    `  skipped:   ${r.skipped}`,
  ];
  if (r.resumed > 0) lines.push(`  resumed:   ${r.resumed} object(s) left by an interrupted run deleted`);
  for (const i of r.items) lines.push(`    ${i.outcome.padEnd(9)} ${i.evidenceId}  retention ${i.retentionDate}${i.dueAt ? `  due ${i.dueAt}` : ''}${i.reason ? `  (${i.reason})` : ''}`);
  return lines.join('\n');
}

export async function purgeCommand(opts: { dryRun?: boolean; force?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const { purge } = await rt.station.retention();
    const report = await purge.execute({ actor: rt.station.actor, dryRun: opts.dryRun ?? false, force: opts.force ?? false });
    output(g, report, human(report));
    if (report.status !== 'completed') process.exitCode = EXIT_PROBLEM;
  });
}
