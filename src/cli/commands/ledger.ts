import type { Command } from 'commander';
import { createWriteStream, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { catalogPath } from '../../catalog/index.js';
import { CustodyError, UsageError } from '../../core/index.js';
import { exportLedger, ledgerOf, rebuildLedger, SEGMENT_PREFIX } from '../../ledger/index.js';
import { EXIT_PROBLEM, cliStation, globals, output, withRuntime } from '../context.js';
import { describeProblem } from './verify.js';

/** A positive integer option, or a UsageError naming the option. */
export function seqOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`${name} must be a ledger sequence number (a positive integer), got "${raw}"`);
  }
  return Number(raw);
}

interface ExportOpts {
  from?: string;
  to?: string;
  out?: string;
}

export async function exportCommand(opts: ExportOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const from = seqOption('--from', opts.from);
  const to = seqOption('--to', opts.to);
  if (from !== undefined && to !== undefined && to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
  if (opts.out !== undefined && existsSync(opts.out)) throw new UsageError(`${opts.out} exists; an export never overwrites a file`);

  await withRuntime(g, async (rt) => {
    if (opts.out === undefined) {
      // The export itself is the output; the summary goes to the log (stderr).
      const r = await exportLedger({ ledger: ledgerOf(rt.catalog), from, to, out: process.stdout });
      rt.log.info({ entries: r.entries, first: r.first, last: r.last, sha256: r.sha256 }, 'ledger exported');
      return;
    }
    const file = opts.out;
    const out = createWriteStream(file, { flags: 'wx' });
    try {
      const r = await exportLedger({ ledger: ledgerOf(rt.catalog), from, to, out });
      out.end();
      await finished(out);
      output(
        g,
        { file, ...r },
        `Exported ${r.entries} entries${r.first !== null ? ` (${r.first}..${r.last})` : ''} to ${file}\n  sha256:    ${r.sha256}\n  last hash: ${r.lastHash ?? '-'}`,
      );
    } catch (e) {
      out.destroy();
      await rm(file, { force: true }); // never leave a partial export that looks whole
      throw e;
    }
  });
}

export async function rebuildCommand(opts: { evidence: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  // The catalog may be gone: the station creates it, but only once the vault is seen to hold segments.
  const station = cliStation(g, { createCatalog: true });
  const { config, log } = station;
  const file = catalogPath(config.home);
  try {
    const store = await station.store();
    if (!existsSync(file)) {
      // The catalog is gone: create it only when the vault really has segments, so a
      // mistyped --home does not leave an empty catalog behind.
      let any = false;
      for await (const _obj of store.list(SEGMENT_PREFIX)) {
        any = true;
        break;
      }
      if (!any) throw new CustodyError('NOTHING_TO_REBUILD', `no catalog at ${file} and no ledger segments in the vault at ${store.location}`);
    }
    await store.init();
    const catalog = station.catalog();
    const r = await rebuildLedger({ catalog, store, log: log.child({ module: 'ledger-rebuild' }), evidence: opts.evidence });
    const verb = r.mode === 'rebuilt' ? (r.ok ? 'Rebuilt' : 'Rebuild stopped:') : r.ok ? 'Compared; catalog matches' : 'Compared; catalog differs:';
    const ev = r.mode === 'rebuilt' ? `\n  evidence rows: ${r.evidence.rebuilt} rebuilt, ${r.evidence.skipped} skipped${r.evidence.reason ? ` (${r.evidence.reason})` : ''}` : '';
    output(g, r, `${verb} ${r.entries} entries from ${r.segments} segments${ev}${r.problems.map((p) => `\n  - ${describeProblem(p)}`).join('')}`);
    if (!r.ok) {
      process.stderr.write(`custody: ledger rebuild: ${r.problems[0] ? describeProblem(r.problems[0]) : 'problem found'}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
  } finally {
    await station.close();
  }
}

export async function sealCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const sealer = await rt.station.sealer();
    const sealed = await sealer.seal({ partial: true });
    output(
      g,
      { sealed },
      sealed.length === 0 ? 'Nothing to seal: every entry is already sealed' : sealed.map((s) => `Sealed ${s.firstSeq}..${s.lastSeq} as ${s.key}`).join('\n'),
    );
  });
}
