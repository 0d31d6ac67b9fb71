import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('custody demo (the README first command, npm run demo)', () => {
  it('runs to the end by itself when stdin is not a terminal: four recorders docked through detection, verdicts, a verified ledger', async () => {
    const dir = await tempDir();
    const home = join(dir, 'demo');
    // runCli gives the child no terminal on stdin: the demo must end on its own.
    const r = await runCli(['demo', '--home', home, '--clips', '1']);
    expect(r.stderr).not.toMatch(/demo failed/);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^ {2}DEMO-A01 +READY +\d files/m);
    expect(out).toMatch(/^ {2}DEMO-B02 +NOT READY +\d files/m);
    expect(out).toMatch(/- battery 12 % is below 30 %/);
    expect(out).toMatch(/^ {2}DEMO-C03 +NOT READY/m);
    expect(out).toMatch(/- device clock \+420 s \(ahead of the station\) is beyond ±30 s/);
    expect(out).toMatch(/clock \+420 s -> set to station time after ingest/);
    expect(out).toMatch(/via the drop folder/);
    expect(out).toMatch(/4 file\(s\) handed in more than 24 h after recording/);
    expect(out).toMatch(/Ledger verified: \d+ entries hash-chained, \d+ objects re-hashed and intact\./);
    expect(out).toMatch(/stopped\. The station stays in/);
    // The console first (issue 15): its address and a sign-in the demo made, before the docking.
    expect(out).toMatch(/^The console \(采集看板, 证据检索, 调阅申请\): http:\/\/127\.0\.0\.1:\d+\/docks$/m);
    expect(out).toMatch(/^ {2}sign in as: demo {3}password: [A-Za-z0-9]{16}$/m);
    expect(out.indexOf('sign in as: demo')).toBeLessThan(out.indexOf('docking them'));

    // What it leaves is a station like any other.
    expect((await runCli(['verify', '--deep', '--home', home])).code).toBe(0);
    const users = JSON.parse((await runCli(['users', 'list', '--json', '--home', home])).stdout) as { users: Array<{ name: string; role: string; hasPassword: boolean }> };
    expect(users.users.find((u) => u.name === 'demo')).toMatchObject({ role: 'supervisor', hasPassword: true });
    const list = JSON.parse((await runCli(['devices', 'list', '--json', '--home', home])).stdout) as Array<{ serial: string; lastDock: { verdict: string } }>;
    expect(list.map((d) => [d.serial, d.lastDock.verdict])).toEqual([
      ['DEMO-A01', 'ready'],
      ['DEMO-B02', 'not-ready'],
      ['DEMO-C03', 'not-ready'],
      ['DEMO-D04', 'ready'],
    ]);

    // It never writes its configuration over an existing home.
    const again = await runCli(['demo', '--home', home]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toBe(`custody: ${home} already holds a custody home; the demo needs a new or empty folder`);
  });
});
