import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 6: assignments and flags from the command line.
describe('custody assignments and flags', () => {
  it('imports a roster (bad lines: exit 1, each named, nothing imported), finds a shift never handed in, resolves its flag', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    expect((await runCli(['init', '--home', home])).code).toBe(0);
    const leader = JSON.parse((await runCli(['users', 'add', '--name', 'Chief', '--role', 'supervisor', '--json', '--home', home])).stdout) as { id: string; token: string };

    const bad = join(dir, 'bad.csv');
    await writeFile(bad, '\uFEFFofficer,name,unit,recorder,start,end\n0417,Li Wei,执法一科,ZFY001,2026-11-01 08:00,2026-11-01 18:00\n0418,Wang,执法一科,ZFY002,tomorrow,\n');
    const refused = await runCli(['assignments', 'import', bad, '--home', home]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1 bad line\(s\); nothing was imported/);
    expect(refused.stderr).toMatch(/line 3: start "tomorrow" is not a date-time/);
    expect(JSON.parse((await runCli(['assignments', 'list', '--json', '--home', home])).stdout)).toEqual([]);

    const good = join(dir, 'roster.csv');
    await writeFile(good, 'officer,name,unit,recorder,start,end\r\n0417,Li Wei,执法一科,ZFY001,2026-11-01 08:00,2026-11-01 18:00\r\n');
    const imported = await runCli(['assignments', 'import', good, '--json', '--home', home]);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ created: 1, unchanged: 0 });
    const list = JSON.parse((await runCli(['assignments', 'list', '--json', '--officer', '0417', '--home', home])).stdout) as { startsAt: string; endsAt: string }[];
    expect(list).toEqual([expect.objectContaining({ startsAt: '2026-11-01T00:00:00.000Z', endsAt: '2026-11-01T10:00:00.000Z', recorderSerial: 'ZFY001' })]);

    const scan = JSON.parse((await runCli(['flags', 'scan', '--json', '--home', home])).stdout) as { raised: { rule: string; seen: { kind: string } }[] };
    expect(scan.raised.map((f) => `${f.rule}:${f.seen.kind}`).sort()).toEqual(['missing-upload:no-footage', 'missing-upload:not-docked']);
    expect(JSON.parse((await runCli(['flags', 'scan', '--json', '--home', home])).stdout)).toMatchObject({ raised: [] });

    const flags = JSON.parse((await runCli(['flags', 'list', '--state', 'open', '--json', '--home', home])).stdout) as { id: string }[];
    expect(flags).toHaveLength(2);
    // Issue 14: the approver is whoever's own token the command presents.
    const asLeader = { CUSTODY_TOKEN: leader.token };
    const noToken = await runCli(['flags', 'resolve', flags[0]!.id, '--reason', 'x', '--home', home]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/CUSTODY_TOKEN or --token-file/);
    const noReason = await runCli(['flags', 'resolve', flags[0]!.id, '--reason', ' ', '--home', home], asLeader);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/written reason/);
    const ok = await runCli(['flags', 'resolve', flags[0]!.id, '--reason', 'recorder lost; report 2026-31 filed', '--json', '--home', home], asLeader);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ state: 'resolved', approvedBy: leader.id });
    const ledger = (await runCli(['ledger', 'export', '--home', home])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(ledger.map((e) => e.type).filter((t) => /^(flag|assignment|officer)\./u.test(t))).toEqual([
      'officer.registered',
      'assignment.created',
      'flag.raised',
      'flag.raised',
      'flag.resolved',
    ]);
    expect((await runCli(['verify', '--home', home])).code).toBe(0);
  });
});
