import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 6: custody report compliance, by local calendar days in Asia/Shanghai.
describe('custody report compliance', () => {
  it('reports footage of a local day (23:30 on 20 November is the 20th, not the 21st) as table, csv and json', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const rec = join(dir, 'rec');
    // 23:30 local on 20 November = 15:30 UTC.
    expect((await runCli(['simulate', 'recorder', '--out', rec, '--serial', 'ZFY009', '--clips', '1', '--seconds', '1', '--recorded-at', '2026-11-20T15:30:00Z', '--home', home])).code).toBe(0);
    const ingest = await runCli(['ingest', rec, '--serial', 'ZFY009', '--officer', '0417', '--unit', 'U1', '--no-follow-up', '--json', '--home', home]);
    expect(ingest.code).toBe(0);
    const n = (JSON.parse(ingest.stdout) as { ingested: number }).ingested;
    expect(n).toBe(4);

    const json = await runCli(['report', 'compliance', '--from', '2026-11-20', '--to', '2026-11-20', '--format', 'json', '--home', home]);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.stdout) as { from: string; to: string; units: Array<Record<string, unknown>>; officers: Array<Record<string, unknown>> };
    expect(r).toMatchObject({ from: '2026-11-19T16:00:00.000Z', to: '2026-11-20T16:00:00.000Z' });
    // Handed in a week later: nothing on time.
    expect(r.units).toEqual([expect.objectContaining({ unit: 'U1', clips: n, onTimeRate: 0 })]);
    expect(r.officers).toEqual([expect.objectContaining({ unit: 'U1', officer: '0417', clips: n })]);

    const next = JSON.parse((await runCli(['report', 'compliance', '--from', '2026-11-21', '--to', '2026-11-21', '--json', '--home', home])).stdout) as { units: unknown[] };
    expect(next.units).toEqual([]);

    const csv = await runCli(['report', 'compliance', '--from', '2026-11-20', '--to', '2026-11-20', '--format', 'csv', '--home', home]);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe('level,unit,officer,name,assignments,clips,hours,on-time %,median delay h,worst delay h,late-upload,missing-upload,sequence-gap,recording-gap,clock-drift,repair-overdue,attribution-conflict');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 6).join(','))).toEqual([`unit,U1,,,0,${n}`, `officer,U1,0417,,0,${n}`]);

    const table = await runCli(['report', 'compliance', '--from', '2026-11-20', '--to', '2026-11-20', '--home', home]);
    expect(table.stdout).toMatch(/^compliance 2026-11-19T16:00:00.000Z .. 2026-11-20T16:00:00.000Z \(Asia\/Shanghai; deadline 24 h\)/);
    const bad = await runCli(['report', 'compliance', '--from', '2026-11-31', '--to', '2026-11-20', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from/);
  });
});
