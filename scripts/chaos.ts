/**
 * The fault campaign (issue 17): `npm run chaos` (full: 52 kills of ingest and the daemon,
 * 5 mid-checkpoint, 3 of each of purge, export, ledger seal and checkpoint, one of each
 * other fault), `npm run chaos -- --trim` (5 kills of ingest and the daemon, one of each
 * other fault: what `npm test` runs, about two minutes),
 * `--seed N` to replay a run, `--only daemon-kill,pull` for some faults, `--keep` to keep
 * the stations, `--direct-writes` to run every station with vault.fs.directWrites. Needs the recorder lab (root, FUSE, loop devices, Debian's
 * exfat/fat tools and python3-fusepy) and the built CLI (`npm run build`).
 *
 * Prints the seed first, a line per fault, and a Markdown table at the end (for
 * docs/reliability.md). Exits 1 at the first broken invariant, after stopping every
 * process, mount and loop device it started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULTS, FULL, TRIM, reportTable, runCampaign } from '../test/chaos/campaign.js';
import { requireLab } from '../test/lab/lab.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    trim: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    only: { type: 'string' },
    'direct-writes': { type: 'boolean', default: false },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(seed) || seed < 0) {
  console.error(`--seed must be a whole number, got ${values.seed}`);
  process.exit(2);
}
const only = values.only?.split(',');
for (const f of only ?? []) {
  if (!(FAULTS as readonly string[]).includes(f)) {
    console.error(`--only takes faults among ${FAULTS.join(', ')}; got ${f}`);
    process.exit(2);
  }
}
await requireLab();
const dir = await mkdtemp(join(tmpdir(), 'custody-chaos-'));
const plan = values.trim ? TRIM : FULL;
let failed = false;
try {
  const report = await runCampaign({ seed, ...plan, only, dir, directWrites: values['direct-writes'], log: (l) => console.log(l) });
  console.log(`\n${reportTable(report)}`);
} catch (e) {
  failed = true;
  console.error(`\nchaos FAILED (seed ${seed}; replay: npm run chaos -- --seed ${seed}${values.trim ? ' --trim' : ''}):\n${(e as Error).message}`);
  console.error(`the stations are kept in ${dir}`);
} finally {
  if (!failed && !values.keep) await rm(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
