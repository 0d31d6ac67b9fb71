/**
 * Issue 14, finding 8: the CLI's second person was a typed name (`flags resolve
 * --approver <any id>`, `cases release-approve --by <name>`), and `custody export` ran
 * as an anonymous `cli:export`. Now each acts as a custody user proven by their own
 * token (CUSTODY_TOKEN or --token-file), under the API's rules, refusals ledgered; and
 * what users wrote is printed with control characters escaped.
 */
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessRequests, UsersService } from '../../src/access/index.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { CasesService } from '../../src/retention/index.js';
import type { LedgerEntry } from '../../src/ledger/index.js';
import { runCliFromSource } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let home: string;
let roots: string;
const tokens: Record<'li' | 'wang' | 'op' | 'archivist', { id: string; token: string }> = {} as never;

function withCatalog<T>(fn: (c: Catalog) => T): T {
  const c = Catalog.open(join(home, 'catalog.db'));
  try {
    return fn(c);
  } finally {
    c.close();
  }
}
const ledger = (): LedgerEntry[] => withCatalog((c) => [...c.ledger.entries()]);
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCliFromSource([...args, '--home', home], { CUSTODY_ARCHIVE_DESTINATION_ROOTS: roots, ...env });
const as = (who: keyof typeof tokens, args: string[]) => cli(args, { CUSTODY_TOKEN: tokens[who].token });

beforeAll(async () => {
  dir = await tempDir('custody-cli-14-');
  home = join(dir, 'home');
  roots = join(dir, 'burner');
  await mkdir(roots);
  const init = await runCliFromSource(['init', '--home', home]);
  expect(init.code, init.stderr).toBe(0);
  withCatalog((c) => {
    const users = new UsersService(c);
    const add = (name: string, role: string) => {
      const r = users.create({ name, role, unit: 'U1', tokenExpiresAt: null }, 'test');
      return { id: r.user.id, token: r.token };
    };
    tokens.li = add('李科长', 'supervisor');
    tokens.wang = add('王科长', 'supervisor');
    tokens.op = add('操作员', 'operator');
    tokens.archivist = add('档案员', 'archivist');
    c.db.prepare("INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES ('0417', '李科长', 'U1', ?, 't', 't')").run(tokens.li.id);
    const flag = c.db.prepare(
      "INSERT INTO flags (id, rule, dedupe_key, officer, unit, seen, summary, raised_at, due_by) VALUES (?, 'missing-upload', ?, ?, 'U1', '{}', ?, 't', 't')",
    );
    flag.run('flag-own', 'k1', '0417', '未按时上传');
    flag.run('flag-other', 'k2', '0520', '未按时上传');
  });
}, 60_000);

afterAll(async () => undefined);

describe('issue 14, finding 8: the CLI’s second person is a person', { timeout: 120_000 }, () => {
  it('flags resolve: no typed approver; the approver is the token’s user, checked and recorded', async () => {
    // The attack: name any user as the approver.
    const typed = await cli(['flags', 'resolve', 'flag-other', '--reason', '已补交', '--approver', tokens.wang.id]);
    expect(typed.code).toBe(2);
    const none = await cli(['flags', 'resolve', 'flag-other', '--reason', '已补交']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/CUSTODY_TOKEN or --token-file/);
    const forged = await cli(['flags', 'resolve', 'flag-other', '--reason', '已补交'], { CUSTODY_TOKEN: `cst_${'z'.repeat(43)}` });
    expect(forged.code).toBe(1);
    expect(withCatalog((c) => c.db.prepare("SELECT count(*) AS n FROM auth_failures WHERE method = 'CLI'").get())).toEqual({ n: 1 });

    const operator = await as('op', ['flags', 'resolve', 'flag-other', '--reason', '已补交']);
    expect(operator.code).toBe(1);
    const self = await as('li', ['flags', 'resolve', 'flag-own', '--reason', '是我自己']);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/may not approve/);
    const denied = ledger().filter((e) => e.type === 'access.denied');
    expect(denied.map((e) => [e.actor, e.data.code, e.data.route])).toEqual([
      [`user:${tokens.op.id}`, 'FORBIDDEN', 'custody flags resolve'],
      [`user:${tokens.li.id}`, 'FLAG_SELF_APPROVAL', 'custody flags resolve'],
    ]);

    // Through a token file: only one its owner alone can read.
    const file = join(dir, 'wang.token');
    await writeFile(file, `${tokens.wang.token}\n`);
    await chmod(file, 0o644);
    expect((await cli(['flags', 'resolve', 'flag-other', '--reason', 'x', '--token-file', file])).code).toBe(2);
    await chmod(file, 0o600);
    const ok = await cli(['flags', 'resolve', 'flag-other', '--reason', '已补交\u001b[2J\u001b]0;pwned\u0007 第二行\n resolved by 局长', '--token-file', file, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const resolved = ledger().find((e) => e.type === 'flag.resolved')!;
    expect(resolved).toMatchObject({ actor: `user:${tokens.wang.id}`, data: { approvedBy: tokens.wang.id } });

    // What a user wrote is printed escaped: no escape sequence reaches the terminal, no line is faked.
    for (const args of [['flags', 'list'], ['flags', 'list', '--json']]) {
      const out = await cli(args);
      expect(out.code).toBe(0);
      // eslint-disable-next-line no-control-regex -- no control character may reach the terminal
      expect(out.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(out.stdout).toContain('\\u001b[2J');
    }
    expect((await cli(['flags', 'list'])).stdout.split('\n').some((l) => l.startsWith(' resolved by 局长'))).toBe(false);
  });

  it('names that would read other than they are stored are refused', async () => {
    const bidi = await cli(['users', 'add', '--name', '王\u202e长科', '--role', 'supervisor']);
    expect(bidi.code).toBe(2);
    const esc = await cli(['users', 'add', '--name', '王\u001b[8m', '--role', 'supervisor']);
    expect(esc.code).toBe(2);
  });

  it('cases release: asked and approved by two custody users, each by their own token; --by is gone', async () => {
    const holdId = withCatalog((c) => {
      const svc = new CasesService(c);
      const k = svc.create({ number: 'XM-14', name: '投诉案', unit: 'U1' }, 'test');
      return svc.placeHold(k.id, { reason: 'dispute' }, 'test').id;
    });
    expect((await as('li', ['cases', 'release-request', holdId, '--reason', '撤诉'])).code).toBe(0);
    // The attack: approve as a typed name.
    expect((await cli(['cases', 'release-approve', holdId, '--by', 'wang'])).code).toBe(2);
    const self = await as('li', ['cases', 'release-approve', holdId]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/someone other than/);
    expect((await as('op', ['cases', 'release-approve', holdId])).code).toBe(1);
    const ok = await as('wang', ['cases', 'release-approve', holdId]);
    expect(ok.code, ok.stderr).toBe(0);
    const released = ledger().find((e) => e.type === 'hold.released')!;
    expect(released).toMatchObject({ actor: `user:${tokens.wang.id}`, data: { requestedBy: `user:${tokens.li.id}` } });
    expect(ledger().filter((e) => e.type === 'access.denied' && e.data.route === 'custody cases release-approve').map((e) => e.data.code)).toEqual([
      'HOLD_SELF_APPROVAL',
      'FORBIDDEN',
    ]);
  });

  it('custody export: as a named custody user, never cli:export; refused without a held case and a grant, and outside the roots', async () => {
    const caseRef = 'XM-15';
    withCatalog((c) => new CasesService(c).create({ number: caseRef, name: '归档案', unit: 'U1' }, 'test'));
    const to = ['--to', join(roots, 'a'), '--to', join(roots, 'b')];
    const anonymous = await cli(['export', '--case', caseRef, ...to]);
    expect(anonymous.code).toBe(2);
    const notHeld = await as('archivist', ['export', '--case', caseRef, ...to]);
    expect(notHeld.code).toBe(1);
    expect(notHeld.stderr).toMatch(/not protected/);
    withCatalog((c) => {
      const svc = new CasesService(c);
      svc.placeHold(svc.find(caseRef).id, { reason: 'dispute' }, 'test');
    });
    const noGrant = await as('archivist', ['export', '--case', caseRef, ...to]);
    expect(noGrant.code).toBe(1);
    expect(noGrant.stderr).toMatch(/approved access request/);
    expect(await readdir(roots)).toEqual([]);
    const codes = ledger().filter((e) => e.type === 'access.denied' && e.data.route === 'custody export').map((e) => [e.actor, e.data.code]);
    expect(codes).toEqual([
      [`user:${tokens.archivist.id}`, 'EXPORT_CASE_NOT_PROTECTED'],
      [`user:${tokens.archivist.id}`, 'EXPORT_GRANT_REQUIRED'],
    ]);

    // With footage, a hold and a grant approved by another: --to must resolve inside the roots.
    const rec = join(dir, 'rec');
    await writeTree(rec, { 'DCIM/ZFY001_20261120083000_0001.MP4': 5_000 });
    const ingest = await cli(['ingest', rec, '--serial', 'ZFY001', '--officer', '0417', '--unit', 'U1', '--no-follow-up', '--json']);
    expect(ingest.code, ingest.stderr).toBe(0);
    const itemId = (JSON.parse(ingest.stdout) as { items: Array<{ evidenceId: string }> }).items[0]!.evidenceId;
    withCatalog((c) => {
      const svc = new CasesService(c);
      const k = svc.find(caseRef);
      svc.link(k.id, [itemId], 'test');
      const access = new AccessRequests({ catalog: c, grantDefaultHours: 24, grantMaxHours: 168 });
      const users = new UsersService(c);
      const p = (id: string) => ({ ...users.get(id)! });
      const req = access.create(p(tokens.archivist.id), { evidenceIds: [itemId], reason: '归档', caseId: k.id });
      access.approve(p(tokens.li.id), req.id);
    });
    const outside = join(dir, 'elsewhere');
    await mkdir(outside);
    await symlink(outside, join(roots, 'link'));
    for (const bad of [[outside, join(roots, 'b')], [join(roots, 'link', 'x'), join(roots, 'b')]]) {
      const refused = await as('archivist', ['export', '--case', caseRef, '--to', bad[0]!, '--to', bad[1]!]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/archive.destinationRoots/);
    }
    expect(await readdir(outside)).toEqual([]);
    const ok = await as('archivist', ['export', '--case', caseRef, ...to, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const entries = ledger();
    expect(entries.find((e) => e.type === 'export.created')!.actor).toBe(`user:${tokens.archivist.id}`);
    expect(entries.filter((e) => e.type === 'access.exported').map((e) => [e.actor, e.subject])).toEqual([[`user:${tokens.archivist.id}`, itemId]]);
    expect(entries.some((e) => e.actor === 'cli:export')).toBe(false);
  });
});
