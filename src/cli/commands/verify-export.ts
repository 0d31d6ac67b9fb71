import type { Command } from 'commander';
import { verifyExport, type ExportProblem, type ExportReport } from '../../archive/index.js';
import { EXIT_PROBLEM, globals, output } from '../context.js';

/**
 * `custody verify-export DIR`: check an archival copy with the copy alone — no custody
 * home, no catalog, no network (issue 8; docs/archive.md). Exit 0 valid, 1 invalid.
 */

function describe(p: ExportProblem): string {
  const where = [p.path ?? null, p.seq !== undefined ? `seq ${p.seq}` : null].filter(Boolean).join(', ');
  return `${p.code}${where ? ` (${where})` : ''}: ${p.message}`;
}

function human(r: ExportReport): string {
  const b = r.bag;
  const lines = [
    `${r.ok ? 'Export valid' : 'Export NOT valid'}: ${r.dir}`,
    `  bag:      BagIt ${b.version ?? '?'}, ${b.payloadFiles} payload files, ${b.payloadBytes} bytes; manifests ${b.manifests.join(', ') || 'none'}; tag manifests ${b.tagManifests.join(', ') || 'none'}`,
  ];
  const c = r.custody;
  if (c) {
    lines.push(`  export:   ${c.exportId ?? '?'}, case ${c.caseNumber ?? '?'} ${c.caseName ?? ''}, copy ${c.copy ?? '?'} of ${c.copies ?? '?'}, ${c.items} items`);
    lines.push(`  ledger:   ${c.entries} entries, ${c.proven} proven in the checkpoint`);
    if (c.checkpoint) {
      lines.push(`  checkpoint: ${c.checkpoint.origin}, ${c.checkpoint.size} entries, signature checked with ${c.checkpoint.key === 'given' ? 'the key given (--key)' : 'the key in the copy (give --key to check who signed it)'}`);
    } else lines.push('  checkpoint: none included');
  } else lines.push('  (not a custody export: BagIt checks only)');
  if (!r.ok) {
    lines.push(`  problems: ${r.problems.length}`);
    for (const p of r.problems) lines.push(`    - ${describe(p)}`);
  }
  return lines.join('\n');
}

export async function verifyExportCommand(dir: string, opts: { key?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const r = await verifyExport(dir, opts.key === undefined ? {} : { verifierKey: opts.key });
  output(g, r, human(r));
  if (!r.ok) {
    process.stderr.write(`custody: export does not verify: ${r.problems.length} problem(s); first: ${describe(r.problems[0]!)}\n`);
    process.exitCode = EXIT_PROBLEM;
  }
}
