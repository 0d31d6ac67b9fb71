import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { ArchiveService, type CopyResult, type ExportResult } from '../../archive/index.js';
import { CheckpointIssuer, loadStationSigner, witnessesFor } from '../../proof/index.js';
import { EXIT_PROBLEM, globals, output, withRuntime, type Runtime } from '../context.js';

/**
 * `custody export --case CASE --to DIR_A --to DIR_B [--maker NAME] [--iso]`: the
 * archival copies of a protected case (issue 8; docs/archive.md). Exit 0 when every
 * copy was written and verified as read back, 1 when any was not (each named).
 */

function copyLine(c: CopyResult): string {
  const head = `  copy ${c.copy}: ${c.ok ? 'OK, verified' : 'FAILED'} ${c.dir ?? c.destination}`;
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
    `${r.ok ? 'Export complete' : 'Export INCOMPLETE'}: ${r.exportId}, case ${r.case.number} ${r.case.name}, ${r.items} items, ${r.bytes} bytes` +
      (r.checkpointSize !== null ? `, checkpoint of ${r.checkpointSize} entries` : ', no checkpoint'),
    ...r.copies.map(copyLine),
    `  ledger: export.created at seq ${r.seq}`,
  ].join('\n');
}

/** The station's issuer, or null when the home has no station key (then copies carry no checkpoint). */
async function issuerFor(rt: Runtime): Promise<CheckpointIssuer | null> {
  try {
    const signer = await loadStationSigner(rt.config.home, rt.config.checkpoints.origin);
    return new CheckpointIssuer({
      catalog: rt.catalog,
      store: rt.store,
      signer,
      witnesses: witnessesFor(rt.config.checkpoints.witnesses, rt.config.home, signer.name),
      log: rt.log.child({ module: 'checkpoints' }),
    });
  } catch (e) {
    rt.log.warn({ err: e }, 'no station key: the copies will carry the ledger excerpt without a signed checkpoint');
    return null;
  }
}

export async function exportCaseCommand(opts: { case: string; to: string[]; maker?: string; iso?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const issuer = await issuerFor(rt);
    const archive = new ArchiveService({
      catalog: rt.catalog,
      store: rt.store,
      log: rt.log.child({ module: 'archive' }),
      timezone: rt.config.timezone,
      copies: rt.config.archive.copies,
      sourceOrganization: rt.config.archive.sourceOrganization,
      verifierKey: issuer ? issuer.verifierKey : null,
      // A checkpoint signed now covers every entry the copies carry; another after
      // export.created covers the record of the export itself.
      ...(issuer ? { checkpoint: async () => (await issuer.issue())?.checkpoint ?? null, afterExport: async () => void (await issuer.issue()) } : {}),
    });
    const maker = opts.maker ?? userInfo().username;
    const r = await archive.exportCase({ caseRef: opts.case, destinations: opts.to, maker, actor: 'cli:export', iso: opts.iso ?? false });
    output(g, r, human(r));
    if (!r.ok) {
      const bad = r.copies.filter((c) => !c.ok).map((c) => `copy ${c.copy} (${c.destination}): ${c.error?.message ?? 'failed'}`);
      process.stderr.write(`custody: export incomplete: ${bad.join('; ')}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
  });
}
