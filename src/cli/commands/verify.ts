import type { Command } from 'commander';
import type { SingleBar } from 'cli-progress';
import { errorMessage } from '../../core/index.js';
import type { WitnessCheck } from '../../proof/index.js';
import { findUnclaimed, ledgerOf, type UnclaimedReport, type VerifyProblem, type VerifyProgress, type VerifyResult, verifyVault } from '../../ledger/index.js';
import type { Runtime } from '../context.js';
import { EXIT_PROBLEM, globals, output, withRuntime } from '../context.js';

const PHASE_LABEL: Record<VerifyProgress['phase'], string> = { ledger: 'ledger  ', segments: 'segments', objects: 'objects ', proxies: 'proxies ' };

/** One bar on stderr that follows verify through its phases. */
class VerifyBar {
  private phase: string | null = null;

  private constructor(private readonly bar: SingleBar) {}

  /** cli-progress is loaded only when there is a terminal to draw on. */
  static async create(): Promise<VerifyBar> {
    const { default: cliProgress } = await import('cli-progress');
    return new VerifyBar(
      new cliProgress.SingleBar(
        { stream: process.stderr, format: ' {phase} |{bar}| {value}/{total} | {duration_formatted}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      ),
    );
  }

  update(p: VerifyProgress): void {
    const total = Math.max(1, p.total);
    if (this.phase === null) this.bar.start(total, p.done, { phase: PHASE_LABEL[p.phase] });
    else if (this.phase !== p.phase) this.bar.setTotal(total);
    this.phase = p.phase;
    this.bar.update(p.done, { phase: PHASE_LABEL[p.phase] });
  }

  stop(): void {
    if (this.phase !== null) this.bar.stop();
  }
}

export function describeProblem(p: VerifyProblem): string {
  const where = [p.seq !== undefined ? `seq ${p.seq}` : null, p.key ?? null].filter(Boolean).join(', ');
  return `${p.code}${where ? ` (${where})` : ''}: ${p.message}`;
}

function humanSummary(r: VerifyResult): string {
  const mb = (r.bytesHashed / 1e6).toFixed(1);
  const lines = [
    `${r.ok ? 'Vault intact' : 'Vault NOT intact'} (${r.deep ? 'deep' : 'sizes only; --deep re-hashes objects'}, ${(r.durationMs / 1000).toFixed(1)} s)`,
    `  ledger:   ${r.entries} entries`,
    `  segments: ${r.segments} sealed, ${r.unsealed} entries not yet sealed`,
    `  objects:  ${r.objects} referenced, ${r.purged} purged${r.deep ? `, ${mb} MB re-hashed` : ''}`,
    `  proxies:  ${r.proxies} browser-playable copies`,
  ];
  if (!r.ok) {
    lines.push(`  problems: ${r.problems.length + r.problemsOmitted}`);
    for (const p of r.problems) lines.push(`    - ${describeProblem(p)}`);
    if (r.problemsOmitted > 0) lines.push(`    … and ${r.problemsOmitted} more`);
  }
  return lines.join('\n');
}

/**
 * Hold the ledger against every configured witness copy of its checkpoints (issue 9):
 * a history rewritten with every hash recomputed still passes the chain checks, but
 * no longer extends what the witnesses saw. Unreachable witnesses are reported, not failed.
 */
async function witnessProblems(rt: Runtime): Promise<{ checks: WitnessCheck[]; problems: VerifyProblem[] }> {
  const dirs = rt.config.checkpoints.witnesses;
  if (dirs.length === 0) return { checks: [], problems: [] };
  try {
    // The proof module is loaded only when there are witnesses to hold the ledger against.
    const { LedgerTree, checkWitnesses, stationTrust, witnessesFor } = await import('../../proof/index.js');
    // The station key and any it rotated from (key.rotated, issue 20).
    const trust = await stationTrust(rt.config.home, rt.config.checkpoints.origin, rt.catalog);
    const tree = LedgerTree.build(ledgerOf(rt.catalog), { strict: false }).tree;
    const checks = await checkWitnesses(tree, witnessesFor(dirs, rt.config.home, trust.origin), trust);
    const problems = checks
      .filter((c) => c.reachable && !c.ok)
      .map((c) => ({ code: c.code ?? 'WITNESS_INCONSISTENT', key: c.dir, message: `the ledger does not extend witness ${c.dir}: ${c.reason ?? 'inconsistent'}` }));
    return { checks, problems };
  } catch (e) {
    return { checks: [], problems: [{ code: 'WITNESS_CHECK_FAILED', message: `witness copies could not be checked: ${errorMessage(e)}` }] };
  }
}

export async function verifyCommand(opts: { deep?: boolean; unclaimed?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const bar = process.stderr.isTTY && !g.json ? await VerifyBar.create() : null;
    let result: VerifyResult;
    try {
      result = await verifyVault({
        catalog: rt.catalog,
        store: rt.store,
        deep: opts.deep ?? false,
        ...(bar ? { onProgress: (p: VerifyProgress) => bar.update(p) } : {}),
      });
    } finally {
      bar?.stop();
    }
    // Objects no entry names: listed for an archivist, never a verify failure (docs/operations.md).
    // The listing of a large vault takes a while: on a terminal, the count listed so far.
    let unclaimed: UnclaimedReport | null = null;
    let unclaimedError: string | null = null;
    if (opts.unclaimed) {
      try {
        unclaimed = await findUnclaimed({ db: rt.catalog.db, store: rt.store, ...(bar ? { onProgress: (n: number) => process.stderr.write(`\r listing the vault: ${n} objects`) } : {}) });
      } catch (e) {
        // A vault that cannot be listed (no list permission on the bucket, a listing cut
        // off part-way) does not throw away the verification, which may have taken hours.
        unclaimedError = errorMessage(e);
      } finally {
        if (bar) process.stderr.write('\r\x1b[K');
      }
    }
    const witnesses = await witnessProblems(rt);
    if (witnesses.problems.length > 0) result = { ...result, ok: false, problems: [...result.problems, ...witnesses.problems] };
    const { ok, entries, objects, problems, ...rest } = result;
    const witnessLines = witnesses.checks.map(
      (c) => `  witness:  ${c.dir}: ${!c.reachable ? `not reachable (${c.reason ?? ''})` : c.ok ? (c.size !== undefined ? `extends its checkpoint of ${c.size} entries` : 'no checkpoint yet') : 'INCONSISTENT'}`,
    );
    output(
      g,
      { ok, entries, objects, problems, ...rest, witnesses: witnesses.checks, ...(opts.unclaimed ? { unclaimed, ...(unclaimedError !== null ? { unclaimedError } : {}) } : {}) },
      [humanSummary(result), ...witnessLines, ...(opts.unclaimed ? (await import('./unclaimed.js')).unclaimedLines(unclaimed, unclaimedError) : [])].join('\n'),
    );
    rt.log.info({ ok, entries, objects, segments: result.segments, problems: problems.length, durationMs: result.durationMs }, 'verify finished');
    if (!ok) {
      const first = problems[0];
      process.stderr.write(`custody: vault does not verify: ${first ? describeProblem(first) : 'problems found'}\n`);
      process.exitCode = EXIT_PROBLEM;
    } else if (unclaimedError !== null) {
      process.stderr.write(`custody: the vault verifies, but its objects could not be listed against the ledger: ${unclaimedError}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
  });
}
