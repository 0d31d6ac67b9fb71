/**
 * Issue 17: the fault campaign, trimmed (5 SIGKILLs of ingest and of the daemon, a
 * pulled recorder, EIO mid-file, a full vault, Redis killed, a kill mid-checkpoint), so
 * `npm test` runs it (the later faults are in chaos-later.test.ts); `npm run chaos`
 * is the full run. The seed is printed; CUSTODY_CHAOS_SEED replays one. Needs the
 * recorder lab: in CI its absence is a failure; elsewhere the campaign is left out with a message.
 */
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { labProblems } from '../lab/lab.js';
import { FAULTS, LATER, TRIM, reportTable, runCampaign } from './campaign.js';

const labMissing = await labProblems();

if (labMissing.length === 0) describe('the fault campaign, trimmed (issue 17)', () => {
  it('after every fault the invariants hold, and the next run finishes the work', async () => {
    const seed = process.env.CUSTODY_CHAOS_SEED ? Number(process.env.CUSTODY_CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`chaos: seed ${seed} (replay: CUSTODY_CHAOS_SEED=${seed}, or npm run chaos -- --trim --seed ${seed})`);
    const lines: string[] = [];
    const dir = await tempDir('custody-chaos-');
    const report = await runCampaign({ seed, ...TRIM, only: FAULTS.filter((f) => !LATER.includes(f)), dir, log: (l) => lines.push(l) })
      .catch((e: unknown) => {
        console.error(`chaos failed with seed ${seed}:\n${lines.join('\n')}`);
        throw e;
      })
      .finally(() => rm(dir, { recursive: true, force: true })); // a few hundred MB of stations
    console.log(reportTable(report));
    expect(report.kills).toBe(TRIM.ingestKills + TRIM.daemonKills);
    expect(report.results.map((r) => r.injected)).toEqual([TRIM.ingestKills, TRIM.daemonKills, 1, 1, 1, 1, TRIM.walKills]);
  }, 300_000);
});

if (labMissing.length > 0 && process.env.CI === 'true') {
  describe('the fault campaign (issue 17)', () => {
    it('can run here (CI runs the trimmed campaign on the recorder lab)', () => {
      throw new Error(`the recorder lab cannot run:\n  - ${labMissing.join('\n  - ')}`);
    });
  });
} else if (labMissing.length > 0) {
  console.warn(`[recorder lab] fault campaign not run: ${labMissing.join('; ')}. (With CI=true this is a failure.)`);
}
