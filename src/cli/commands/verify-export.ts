import type { Command } from 'commander';
import { tagManifestDigest, verifyExport, type ExportProblem, type ExportReport } from '../../archive/index.js';
import { NotFoundError, UsageError } from '../../core/index.js';
import { actingUser, asUser, EXIT_PROBLEM, globals, output, withRuntime, type ActingOptions } from '../context.js';

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

/**
 * `--record` (issue 19): the result is recorded against the export on this station
 * (`export.verified`, about the case), as a custody user who may export (archivist,
 * admin) and sees the case: a burned disc re-mounted and checked, on the station.
 * Whether the copy is the one recorded: its tag manifest's SHA-256 against the export's.
 */
async function record(dir: string, r: ExportReport, opts: ActingOptions, cmd: Command): Promise<{ seq: number; ok: boolean; matches: boolean }> {
  const exportId = r.custody?.exportId;
  if (!exportId) throw new UsageError(`${dir} is not a custody export copy: there is no export to record the check against`);
  const digest = await tagManifestDigest(dir);
  let out = { seq: 0, ok: false, matches: false };
  await withRuntime(globals(cmd), async (rt) => {
    const p = await actingUser(rt, opts, 'verify-export --record');
    const { can, inScope, actorOf, AccessDeniedError, HiddenError } = await import('../../access/index.js');
    const { ExportRecords } = await import('../../archive/index.js');
    const records = new ExportRecords(rt.catalog, rt.store);
    const entry = await asUser(rt, p, 'verify-export --record', async () => {
      if (!can(p, 'cases.export')) throw new AccessDeniedError('FORBIDDEN', `role ${p.role} may not do this (needs cases.export)`);
      const rec = await records.get(exportId);
      if (!rec) throw new NotFoundError('export', exportId);
      const kase = (await rt.station.caseSource()).findCase(rec.caseId);
      if (!inScope(p, kase?.unit ?? null)) throw new HiddenError('export', exportId);
      return records.recordVerification({ exportId, report: r, tagManifestSha256: digest, actor: actorOf(p), via: 'cli' });
    });
    const d = entry.data as { ok: boolean; matches: boolean };
    out = { seq: entry.seq, ok: d.ok, matches: d.matches };
  });
  return out;
}

export async function verifyExportCommand(dir: string, opts: { key?: string; record?: boolean } & ActingOptions, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const r = await verifyExport(dir, opts.key === undefined ? {} : { verifierKey: opts.key });
  if (opts.record) {
    const rec = await record(dir, r, opts, cmd);
    const text = `${human(r)}\n  recorded: export.verified at seq ${rec.seq}${rec.matches ? '' : ' — NOT the copy recorded for this export (its tag manifest differs)'}`;
    output(g, { ...r, recorded: rec }, text);
    if (!rec.ok) {
      process.stderr.write(`custody: ${r.ok ? 'the copy verifies but is not the one recorded for its export' : `export does not verify: ${r.problems.length} problem(s)`}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
    return;
  }
  output(g, r, human(r));
  if (!r.ok) {
    process.stderr.write(`custody: export does not verify: ${r.problems.length} problem(s); first: ${describe(r.problems[0]!)}\n`);
    process.exitCode = EXIT_PROBLEM;
  }
}
