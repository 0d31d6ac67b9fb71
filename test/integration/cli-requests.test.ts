/**
 * Issue 14: access requests had no command line, so a station without the console
 * could neither ask nor consent as Art. 13 wants. `custody requests` asks, approves,
 * denies and revokes as the custody user whose own token it presents (CUSTODY_TOKEN or
 * --token-file), never a typed name, under the API's rules (no self-approval, unit
 * scope), refusals ledgered, what users wrote printed escaped. And a case named by a
 * number that two units use is the caller's own, or, for the whole bureau, refused
 * naming the units.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/access/index.js';
import { Catalog } from '../../src/catalog/catalog.js';
import type { LedgerEntry } from '../../src/ledger/index.js';
import { CasesService } from '../../src/retention/index.js';
import { runCliFromSource, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let home: string;
type Who = 'op' | 'li' | 'wang' | 'zhao';
const users: Record<Who, { id: string; token: string }> = {} as never;
const items = { u1a: 'e1000000-0000-7000-8000-000000000001', u1b: 'e1000000-0000-7000-8000-000000000002', u2: 'e2000000-0000-7000-8000-000000000001' };
const cases: Record<'u1' | 'u2', string> = {} as never;

function withCatalog<T>(fn: (c: Catalog) => T): T {
  const c = Catalog.open(join(home, 'catalog.db'));
  try {
    return fn(c);
  } finally {
    c.close();
  }
}
const ledger = (): LedgerEntry[] => withCatalog((c) => [...c.ledger.entries()]);
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => runCliFromSource([...args, '--home', home], env);
const as = (who: Who, args: string[]): Promise<CliResult> => cli(args, { CUSTODY_TOKEN: users[who].token });
const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;
// eslint-disable-next-line no-control-regex -- no control character may reach the terminal
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

beforeAll(async () => {
  dir = await tempDir('custody-cli-requests-');
  home = join(dir, 'home');
  const init = await runCliFromSource(['init', '--home', home]);
  expect(init.code, init.stderr).toBe(0);
  withCatalog((c) => {
    const svc = new UsersService(c);
    const add = (name: string, role: string, unit: string) => {
      const r = svc.create({ name, role, unit, tokenExpiresAt: null }, 'test');
      return { id: r.user.id, token: r.token };
    };
    users.op = add('操作员', 'operator', 'U1');
    users.li = add('李科长', 'supervisor', 'U1');
    users.wang = add('王科长', 'supervisor', 'U1');
    users.zhao = add('赵科长', 'supervisor', 'U2');
    c.db.prepare("INSERT INTO recorders (serial, unit, first_seen, last_seen) VALUES ('ZFY1', 'U1', 't', 't'), ('ZFY2', 'U2', 't', 't')").run();
    const ev = c.db.prepare(
      `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms,
        recorded_start, recorded_source, ingested_at, session_id) VALUES (?, ?, 1, 'video', ?, '0417', ?, ?, ?, 0, '2026-11-20T00:00:00Z', 'filename', '2026-11-20T01:00:00Z', 's')`,
    );
    for (const [id, serial, unit] of [[items.u1a, 'ZFY1', 'U1'], [items.u1b, 'ZFY1', 'U1'], [items.u2, 'ZFY2', 'U2']] as const) {
      ev.run(id, id.replace(/-/g, '').padEnd(64, '0'), serial, unit, `DCIM/${id}.MP4`, `${id}.MP4`);
    }
    const k = new CasesService(c);
    cases.u1 = k.create({ number: 'XM-9', name: '一科案件', unit: 'U1' }, 'test').id;
    cases.u2 = k.create({ number: 'XM-9', name: '二科案件', unit: 'U2' }, 'test').id;
    k.link(cases.u1, [items.u1a, items.u1b], 'test');
    k.link(cases.u2, [items.u2], 'test');
  });
}, 60_000);

describe('custody requests (issue 14)', { timeout: 180_000 }, () => {
  it('ask, approve, deny and revoke as token users, under the API’s rules; refusals ledgered; text escaped', async () => {
    // No token, no request: the CLI never acts as a typed or an anonymous name.
    const anonymous = await cli(['requests', 'ask', '--item', items.u1a, '--reason', 'x']);
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/CUSTODY_TOKEN or --token-file/);

    // Ask for items, for 4 hours, with a reason that would drive the terminal.
    const reason = '复核投诉\u001b[2J\u001b]0;pwned\u0007\n approved by 局长';
    const asked = await as('op', ['requests', 'ask', '--item', items.u1a, '--reason', reason, '--hours', '4', '--json']);
    expect(asked.code, asked.stderr).toBe(0);
    expect(asked.stdout).not.toMatch(RAW_CONTROL);
    const req = json<{ id: string; status: string; requestedHours: number; evidenceIds: string[] }>(asked);
    expect(req).toMatchObject({ status: 'pending', requestedHours: 4, evidenceIds: [items.u1a] });

    // Another unit's item answers like a missing one, and the probe is on record.
    const theirs = await as('op', ['requests', 'ask', '--item', items.u2, '--reason', '试探']);
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).toContain(`evidence not found: ${items.u2}`);
    // A case by number: XM-9 is U1's and U2's; U1's user gets U1's case, its items only.
    const byCase = await as('op', ['requests', 'ask', '--case', 'XM-9', '--reason', '整案调阅', '--json']);
    expect(byCase.code, byCase.stderr).toBe(0);
    const caseReq = json<{ id: string; evidenceIds: string[] }>(byCase);
    expect(caseReq.evidenceIds).toEqual([items.u1a, items.u1b].sort());
    expect(ledger().find((e) => e.type === 'access.request.created' && e.subject === caseReq.id)!.data).toMatchObject({ caseId: cases.u1 });
    expect((await as('op', ['requests', 'ask', '--case', cases.u2, '--reason', '试探'])).code).toBe(1);

    // What li may decide, printed escaped (no faked line).
    const toDecide = await as('li', ['requests', 'list', '--to-decide']);
    expect(toDecide.code, toDecide.stderr).toBe(0);
    expect(toDecide.stdout).not.toMatch(RAW_CONTROL);
    expect(toDecide.stdout).toContain(req.id);
    expect(toDecide.stdout).toContain(caseReq.id);
    const shown = await as('li', ['requests', 'show', req.id]);
    expect(shown.stdout).not.toMatch(RAW_CONTROL);
    expect(shown.stdout).toContain('\\u001b[2J');
    expect(shown.stdout.split('\n').some((l) => l.startsWith(' approved by 局长'))).toBe(false);

    // The attack the CLI had for other second persons: a typed approver. There is no such option.
    expect((await cli(['requests', 'approve', req.id, '--by', 'li'])).code).toBe(2);
    // An operator does not decide; a supervisor of another unit does not even see it.
    expect((await as('op', ['requests', 'approve', req.id])).code).toBe(1);
    const otherUnit = await as('zhao', ['requests', 'approve', req.id]);
    expect(otherUnit.code).toBe(1);
    expect(otherUnit.stderr).toContain(`access request not found: ${req.id}`);
    // Nobody approves their own request.
    const own = await as('li', ['requests', 'ask', '--item', items.u1b, '--reason', '自查', '--json']);
    const ownId = json<{ id: string }>(own).id;
    const self = await as('li', ['requests', 'approve', ownId]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/someone other than its requester/);

    // li approves op's request through a token file; the grant lasts the 4 hours asked for.
    const file = join(dir, 'li.token');
    await writeFile(file, `${users.li.token}\n`);
    await chmod(file, 0o600);
    const approved = await cli(['requests', 'approve', req.id, '--note', '同意', '--token-file', file, '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    const a = json<{ status: string; decidedBy: { id: string }; decidedAt: string; expiresAt: string }>(approved);
    expect(a).toMatchObject({ status: 'approved', decidedBy: { id: users.li.id } });
    // (The expiry is taken a moment before the decision is stamped.)
    expect(Date.parse(a.expiresAt) - Date.parse(a.decidedAt)).toBeGreaterThan(4 * 3600_000 - 5_000);
    expect(Date.parse(a.expiresAt) - Date.parse(a.decidedAt)).toBeLessThanOrEqual(4 * 3600_000);
    const denied = await as('wang', ['requests', 'deny', caseReq.id, '--note', '理由不足', '--json']);
    expect(json(denied)).toMatchObject({ status: 'denied', decidedBy: { id: users.wang.id } });

    // Revoked only by its approver (or an admin); then it says revoked, by whom.
    expect((await as('wang', ['requests', 'revoke', req.id])).code).toBe(1);
    const revoked = await as('li', ['requests', 'revoke', req.id, '--note', '调查结束']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/REVOKED/);
    expect(revoked.stdout).toMatch(/revoked .* by 李科长 \(.*\): 调查结束/);
    const mine = await as('op', ['requests', 'list', '--json']);
    expect(json<Array<{ id: string; status: string; revokedBy: { id: string } | null }>>(mine).find((r) => r.id === req.id)).toMatchObject({
      status: 'revoked',
      revokedBy: { id: users.li.id },
    });

    // Every step as the user who took it; every refusal on record.
    const entries = ledger();
    expect(entries.filter((e) => e.type.startsWith('access.request.')).map((e) => [e.type, e.actor])).toEqual([
      ['access.request.created', `user:${users.op.id}`],
      ['access.request.created', `user:${users.op.id}`],
      ['access.request.created', `user:${users.li.id}`],
      ['access.request.approved', `user:${users.li.id}`],
      ['access.request.denied', `user:${users.wang.id}`],
      ['access.request.revoked', `user:${users.li.id}`],
    ]);
    expect(entries.filter((e) => e.type === 'access.denied').map((e) => [e.actor, e.data.code, e.data.route])).toEqual([
      [`user:${users.op.id}`, 'OUT_OF_SCOPE', 'custody requests ask'],
      [`user:${users.op.id}`, 'OUT_OF_SCOPE', 'custody requests ask'],
      [`user:${users.op.id}`, 'FORBIDDEN', 'custody requests approve'],
      [`user:${users.zhao.id}`, 'OUT_OF_SCOPE', 'custody requests approve'],
      [`user:${users.li.id}`, 'ACCESS_SELF_DECISION', 'custody requests approve'],
      [`user:${users.wang.id}`, 'FORBIDDEN', 'custody requests revoke'],
    ]);
  });

  it('a case number two units use: the station’s bureau-wide commands say which units, and take the id', async () => {
    const ambiguous = await cli(['cases', 'show', 'XM-9']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(`case number XM-9 is used in more than one unit (U1: ${cases.u1}, U2: ${cases.u2}): name the case by its id`);
    const byId = await cli(['cases', 'show', cases.u2]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain('二科案件');
  });
});
