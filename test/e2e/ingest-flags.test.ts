import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

interface FlagOut {
  id: string;
  rule: string;
  recorderSerial: string | null;
  seen: { fileCount?: number; files?: Array<{ file: string }> };
}

// Issue 13: `custody ingest` raises the late-upload flag for what it ingested, as the daemon does after a dock.
describe('custody ingest (one-shot) and late uploads (issue 13)', () => {
  it('raises one late-upload flag for the recorder that lists every late file, and none again for the same files', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const recordedAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const sim = await runCli(['simulate', 'recorder', '--out', join(dir, 'rec'), '--serial', 'LATE1', '--clips', '2', '--seconds', '1', '--recorded-at', recordedAt, '--json', '--home', home]);
    expect(sim.code, sim.stderr).toBe(0);
    const files = (JSON.parse(sim.stdout) as { files: Array<{ relPath: string }> }).files;

    const ingest = await runCli(['ingest', join(dir, 'rec'), '--no-follow-up', '--json', '--home', home]);
    expect(ingest.code, ingest.stderr).toBe(0);
    const out = JSON.parse(ingest.stdout) as { ingested: number; flags: Array<{ id: string; rule: string; summary: string }> };
    expect(out.ingested).toBe(files.length);
    expect(out.flags.map((f) => f.rule)).toEqual(['late-upload']);
    expect(out.flags[0]!.summary).toMatch(new RegExp(`^${files.length} files from LATE1 were handed in late in one dock`));

    const listed = JSON.parse((await runCli(['flags', 'list', '--rule', 'late-upload', '--json', '--home', home])).stdout) as FlagOut[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: out.flags[0]!.id, recorderSerial: 'LATE1', seen: { fileCount: files.length } });
    expect(listed[0]!.seen.files!.map((f) => f.file).sort()).toEqual(files.map((f) => f.relPath.slice(f.relPath.lastIndexOf('/') + 1)).sort());

    // The same recorder again: nothing new ingested, nothing flagged again; the scan agrees.
    const again = JSON.parse((await runCli(['ingest', join(dir, 'rec'), '--no-follow-up', '--json', '--home', home])).stdout) as { ingested: number; flags: unknown[] };
    expect(again).toMatchObject({ ingested: 0, flags: [] });
    const scan = JSON.parse((await runCli(['flags', 'scan', '--json', '--home', home])).stdout) as { raised: Array<{ rule: string }> };
    expect(scan.raised.filter((f) => f.rule === 'late-upload')).toEqual([]);

    // The human output names the flag too.
    const human = await runCli(['flags', 'list', '--home', home]);
    expect(human.stdout).toMatch(/late-upload/);
  });
});
