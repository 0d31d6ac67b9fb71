import type { Command } from 'commander';
import { actorOf, HiddenError, inScope } from '../../access/index.js';
import { authorizeExport, resolveDestinations, type CopyResult, type ExportResult } from '../../archive/index.js';
import { NotFoundError } from '../../core/index.js';
import { actingUser, asUser, EXIT_PROBLEM, globals, output, printable, withRuntime, type ActingOptions } from '../context.js';

/**
 * `custody export --case CASE --to DIR_A --to DIR_B [--maker NAME] [--iso]`: the
 * archival copies of a protected case (issue 8; docs/archive.md). Exit 0 when every
 * copy was written and verified as read back, 1 when any was not (each named).
 *
 * An export is an access (issue 14): it runs as a custody user identified by their own
 * token (CUSTODY_TOKEN or --token-file), under the same rule as the API — a protected
 * case, and the user's approved access request for it, approved by someone else. With
 * `archive.destinationRoots` set, every --to must resolve inside one of them.
 */

function copyLine(c: CopyResult): string {
  const head = `  copy ${c.copy}: ${c.ok ? 'OK, verified' : 'FAILED'} ${printable(c.dir ?? c.destination)}`;
  const lines = [head];
  if (c.tagManifestSha256) lines.push(`    tag manifest sha256 ${c.tagManifestSha256}`);
  if (c.iso) lines.push(`    ISO image ${c.iso.path} (${c.iso.size} bytes, sha256 ${c.iso.sha256})`);
  if (c.error) lines.push(`    ${c.error.code}: ${c.error.message}`);
  for (const p of c.problems.slice(0, 20)) lines.push(`    - ${p.code}${p.path ? ` (${p.path})` : ''}: ${p.message}`);
  for (const w of c.warnings) lines.push(`    warning: ${w}`);
  return lines.join('\n');
}

function human(r: ExportResult): string {
  return [
    `${r.ok ? 'Export complete' : 'Export INCOMPLETE'}: ${r.exportId}, case ${printable(r.case.number)} ${printable(r.case.name)}, ${r.items} items, ${r.bytes} bytes` +
      (r.checkpointSize !== null ? `, checkpoint of ${r.checkpointSize} entries` : ', no checkpoint'),
    ...r.copies.map(copyLine),
    `  ledger: export.created at seq ${r.seq}`,
  ].join('\n');
}

export async function exportCaseCommand(opts: { case: string; to: string[]; maker?: string; iso?: boolean } & ActingOptions, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const p = await actingUser(rt, opts, 'export');
    const cases = await rt.station.caseSource();
    const { users, requests } = await rt.station.access();
    const roots = rt.config.archive.destinationRoots;
    // The case as this user sees it (a number of another unit names nothing); the export names it by id.
    let caseId = opts.case;
    const access = await asUser(rt, p, 'export', async () => {
      const kase = cases.findCase(opts.case, p.unit);
      if (!kase) throw new NotFoundError('case', opts.case);
      if (!inScope(p, kase.unit)) throw new HiddenError('case', opts.case);
      caseId = kase.id;
      const grant = authorizeExport(
        { cases, access: requests, users },
        p,
        kase,
      );
      // Refused here (and ledgered) before anything else; the export checks again just before writing.
      await resolveDestinations(opts.to, roots);
      return grant;
    });
    // Its copies carry a checkpoint signed with the station key; a home without one gives copies without (warned).
    const archive = await rt.station.archive();
    const maker = opts.maker ?? p.name;
    const r = await archive.exportCase({ caseRef: caseId, destinations: opts.to, maker, actor: actorOf(p), access, iso: opts.iso ?? false });
    output(g, r, human(r));
    if (!r.ok) {
      const bad = r.copies.filter((c) => !c.ok).map((c) => `copy ${c.copy} (${printable(c.destination)}): ${printable(c.error?.message ?? 'failed')}`);
      process.stderr.write(`custody: export incomplete: ${bad.join('; ')}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
  });
}
