/**
 * Issue 17: the campaign's later faults, trimmed — one SIGKILL each of `custody purge`,
 * `custody export`, `custody ledger seal` and `custody ledger checkpoint`, an export's
 * destination disk filling up, and the S3 object store (a private Swift) slow, then
 * stopped mid-ingest under the daemon (the dock paused, seen through the API) and started
 * again (the daemon resumes; the full run also stops it under the CLI's session) — in a file of their own (a failure names its
 * faults and seed apart from the others').
 * The seed is printed; CUSTODY_CHAOS_SEED replays one. Needs the recorder lab and Swift:
 * in CI their absence is a failure; elsewhere the faults are left out with a message.
 */
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { labProblems } from '../lab/lab.js';
import { ADMIN_OPS, LATER, TRIM, reportTable, runCampaign } from './campaign.js';

const labMissing = await labProblems();

if (labMissing.length === 0) describe('the fault campaign, later faults, trimmed (issue 17)', () => {
  it('after a kill of purge, export, seal and checkpoint, a full export disk and a store gone, the invariants hold and the next run finishes the work', async () => {
    const seed = process.env.CUSTODY_CHAOS_SEED ? Number(process.env.CUSTODY_CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`chaos: seed ${seed} (replay: CUSTODY_CHAOS_SEED=${seed}, or npm run chaos -- --trim --only ${LATER.join(',')} --seed ${seed})`);
    const lines: string[] = [];
    const dir = await tempDir('custody-chaos-later-');
    const report = await runCampaign({ seed, ...TRIM, only: [...LATER], dir, log: (l) => lines.push(l) })
      .catch((e: unknown) => {
        console.error(`chaos failed with seed ${seed}:\n${lines.join('\n')}`);
        throw e;
      })
      .finally(() => rm(dir, { recursive: true, force: true }));
    console.log(reportTable(report));
    // One kill of each command that landed on its work, and any more that landed while Node loaded (counted apart).
    expect(report.results[0]!.injected).toBeGreaterThanOrEqual(ADMIN_OPS.length * TRIM.adminKills);
    expect(report.kills).toBe(report.results[0]!.injected);
    expect(report.results.slice(1).map((r) => r.injected)).toEqual([1, 1, 1]);
  }, 300_000);
});

if (labMissing.length > 0 && process.env.CI === 'true') {
  describe('the fault campaign, later faults (issue 17)', () => {
    it('can run here (CI runs the trimmed campaign on the recorder lab)', () => {
      throw new Error(`the recorder lab cannot run:\n  - ${labMissing.join('\n  - ')}`);
    });
  });
} else if (labMissing.length > 0) {
  console.warn(`[recorder lab] later faults of the campaign not run: ${labMissing.join('; ')}. (With CI=true this is a failure.)`);
}
