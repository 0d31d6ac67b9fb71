/**
 * Issue 19: 案件 /cases in Debian's chromium against the built daemon. A supervisor
 * creates a case, links a recorder's clips found by a search, protects the case with a
 * hold (Art. 12) and asks for its release; they are not offered to approve their own
 * request, and a second supervisor, signed in in another browser context, approves it.
 * Every step is what the ledger and the API then say.
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check, watchErrors } from './checks.js';

const problems = browserProblems();
/** A condition the page reaches, given time: the station shares its cores with other work. */
const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number; interval?: number } = {}) => expect.poll(fn, { timeout: 20_000, ...opts });

const CHIEF = { name: 'kezhang', role: 'supervisor', password: 'Kezhang-2026-pw' };
const DEPUTY = { name: 'fuzeren', role: 'supervisor', password: 'Fuzeren-2026-pw' };
const ARCHIVIST = { name: 'dangan', role: 'archivist', password: 'Dangan-2026-pw' };
const NUMBER = '厦执罚〔2026〕118号';
const NAME = '某商户占道经营案';

function ledger(home: string, type: string): Array<{ actor: string; subject: string; data: Record<string, unknown> }> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db
      .prepare<[string], { actor: string; subject: string; data: string }>('SELECT actor, subject, data FROM ledger WHERE type = ? ORDER BY seq')
      .all(type)
      .map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}

/** A signed-in API caller, as the console is: the session cookie, and for changes the CSRF header and the station's origin. */
async function session(s: Station, who: { name: string; password: string }): Promise<<T>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>> {
  const r = await fetch(`${s.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custody-csrf': '1', origin: s.url }, body: JSON.stringify({ username: who.name, password: who.password }) });
  expect(r.status).toBe(200);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return async <T>(method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { cookie, origin: s.url };
    if (method !== 'GET') headers['x-custody-csrf'] = '1';
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${s.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  };
}

function userId(home: string, name: string): string {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db.prepare<[string], { id: string }>('SELECT id FROM users WHERE name = ?').get(name)!.id;
  } finally {
    db.close();
  }
}

if (problems.length === 0) describe('案件 /cases in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-cases-'));
    await mkdir(join(dir, 'burner'), { recursive: true });
    s = await station(dir, [CHIEF, DEPUTY, ARCHIVIST], { CUSTODY_ARCHIVE_DESTINATION_ROOTS: join(dir, 'burner') });
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('creates a case, links clips from a search, places a hold, asks for its release, and a second person approves it', async () => {
    const staging = join(s.media, '..', 'staging-ZFYCASE1');
    const sim = await runCli(['simulate', 'recorder', '--out', staging, '--serial', 'ZFYCASE1', '--clips', '2', '--seconds', '1', '--officer', '100001', '--unit', '350200', '--home', s.home]);
    expect(sim.code, sim.stderr).toBe(0);
    await rename(staging, join(s.media, 'ZFYCASE1'));
    const clips = await waitFor(
      'the recorder to be collected',
      async () => {
        const r = await fetch(`${s.url}/api/v1/evidence?device=ZFYCASE1&limit=100`, { headers: { authorization: `Bearer ${s.token}` } });
        const items = ((await r.json()) as { items: Array<{ id: string }> }).items;
        const docks = ((await (await fetch(`${s.url}/api/v1/docks`, { headers: { authorization: `Bearer ${s.token}` } })).json()) as { items: unknown[] }).items;
        return items.length > 0 && docks.length === 0 ? items : undefined;
      },
      60_000,
      250,
    );

    const page = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    const errors = watchErrors(page, [409]);
    await signIn(page, s.url, CHIEF.name, CHIEF.password);
    await page.getByRole('link', { name: '案件' }).click();
    await page.waitForURL((u) => u.pathname === '/cases');
    await check(page, 'cases-01-list-empty');

    // Create: a name is needed, then it is made and opened.
    await page.getByLabel('案件编号').fill(NUMBER);
    await page.getByRole('button', { name: '新建案件' }).click();
    await poll(() => page.getByText('请填写案件名称').count()).toBe(1);
    await page.getByLabel('案件名称').fill(NAME);
    await page.getByRole('button', { name: '新建案件' }).click();
    await page.waitForURL((u) => /^\/cases\/[0-9a-f-]{36}$/.test(u.pathname));
    const caseId = new URL(page.url()).pathname.split('/').pop()!;
    await poll(() => page.getByRole('heading', { name: `案件 ${NUMBER}：${NAME}` }).count()).toBe(1);
    expect(await page.getByRole('status').filter({ hasText: '未采取保全措施' }).count()).toBe(1);
    expect(ledger(s.home, 'case.created').map((e) => e.subject)).toEqual([caseId]);

    // Link the recorder's clips, found by a search.
    await page.getByText('检索并关联资料').click();
    await page.getByLabel('记录仪编号').fill('ZFYCASE1');
    await page.getByRole('button', { name: '检索' }).click();
    const boxes = page.getByRole('list', { name: '检索结果' }).getByRole('checkbox');
    await poll(() => boxes.count()).toBe(clips.length);
    for (let i = 0; i < clips.length; i++) await boxes.nth(i).check();
    await check(page, 'cases-02-link-search');
    await page.getByRole('button', { name: `关联所选资料（${clips.length} 项）` }).click();
    await poll(() => page.getByRole('status').filter({ hasText: `已关联 ${clips.length} 项资料。` }).count()).toBe(1);
    await poll(() => page.getByRole('heading', { name: `关联资料（${clips.length} 项）` }).count()).toBe(1);
    const linkedRows = page.getByRole('region', { name: `关联资料（${clips.length} 项）` }).getByRole('row').filter({ hasText: 'ZFYCASE1' });
    await poll(() => linkedRows.count()).toBe(clips.length);
    expect(ledger(s.home, 'case.linked').map((e) => e.data.caseId)).toEqual(clips.map(() => caseId));

    // A hold: 其他 needs a text; 纠纷 with one is placed.
    await page.getByRole('radio', { name: '其他：其他' }).check({ force: true });
    await page.getByRole('button', { name: '采取保全措施' }).click();
    await poll(() => page.getByText('事由为“其他”时须填写情况说明').count()).toBe(1);
    await page.getByRole('radio', { name: '纠纷：当事人有异议或投诉' }).check({ force: true });
    await page.getByLabel('情况说明').fill('当事人对处罚决定提出异议，拟申请行政复议');
    await page.getByRole('button', { name: '采取保全措施' }).click();
    const hold = page.getByRole('article', { name: '保全措施：当事人有异议或投诉' });
    await poll(() => hold.count()).toBe(1);
    expect(await hold.textContent()).toContain('保全中');
    expect(await hold.textContent()).toContain('当事人对处罚决定提出异议，拟申请行政复议');
    await poll(() => page.getByRole('status').filter({ hasText: '长期保存（保全中）' }).count()).toBe(1);
    await check(page, 'cases-03-held');

    // The held case is exported (engineered through the API: 归档 is its own page); an
    // archivist sees the export on the case, read-only.
    const archivist = await session(s, ARCHIVIST);
    const chiefApi = await session(s, CHIEF);
    const asked = await archivist<{ id: string }>('POST', '/api/v1/access-requests', { caseId, reason: '刻录归档，一式两份', hours: 24 });
    expect(asked.status).toBe(201);
    expect((await chiefApi('POST', `/api/v1/access-requests/${asked.body.id}/approve`, {})).status).toBe(200);
    const started = await archivist<{ id: string }>('POST', `/api/v1/cases/${caseId}/exports`, { destinations: [join(dir, 'burner', 'disc1'), join(dir, 'burner', 'disc2')], maker: '档案员 刘' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await waitFor(
      'the export to finish',
      async () => {
        const j = (await archivist<{ job: { status: string } }>('GET', `/api/v1/exports/${started.body.id}`)).body;
        return ['queued', 'running'].includes(j.job?.status) ? undefined : j;
      },
      120_000,
      250,
    );
    expect(job.job.status, JSON.stringify(job)).toBe('done');
    const arch = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(arch, s.url, ARCHIVIST.name, ARCHIVIST.password);
    await arch.goto(`${s.url}/cases/${caseId}`);
    const exportRow = arch.getByRole('region', { name: '刻录归档' }).getByRole('row').filter({ hasText: '档案员 刘' });
    await poll(() => exportRow.textContent(), { timeout: 10_000 }).toContain('已完成');
    expect(((await exportRow.textContent()) ?? '').match(/已写入并校验/g)).toHaveLength(2);
    // Read-only here, and no hold buttons for an archivist.
    expect(await arch.getByRole('button', { name: '申请解除' }).count()).toBe(0);
    await check(arch, 'cases-03b-exported');
    // It opens on the 归档 page.
    await exportRow.getByRole('link').click();
    await arch.waitForURL((u) => u.pathname === '/exports' && u.searchParams.get('job') === started.body.id);
    await arch.context().close();

    // Asking for its release; the one who asked is not offered to approve it.
    await hold.getByRole('button', { name: '申请解除' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('解除理由').fill('行政复议已终结，维持原处罚决定');
    await dialog.getByRole('button', { name: '提交解除申请' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await poll(() => hold.textContent()).toContain('已申请解除');
    expect(await hold.getByRole('button', { name: '同意解除' }).count()).toBe(0);
    expect(await hold.textContent()).toContain('解除申请由您本人提出，须由其他负责人同意。');
    await check(page, 'cases-04-release-asked');

    // A second supervisor, signed in separately, approves it.
    const deputy = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    const deputyErrors = watchErrors(deputy, [409]);
    await signIn(deputy, s.url, DEPUTY.name, DEPUTY.password);
    await deputy.goto(`${s.url}/cases`);
    await deputy.getByRole('link', { name: NUMBER }).click();
    await deputy.waitForURL((u) => u.pathname === `/cases/${caseId}`);
    const theirs = deputy.getByRole('article', { name: '保全措施：当事人有异议或投诉' });
    await poll(() => theirs.textContent()).toContain('行政复议已终结，维持原处罚决定');
    // Who placed and asked, by name.
    expect(await theirs.textContent()).toContain(`${CHIEF.name} 于`);
    await theirs.getByRole('button', { name: '同意解除' }).click();
    await deputy.getByRole('dialog').getByRole('button', { name: '确认同意解除' }).click();
    await poll(() => theirs.textContent()).toContain('已解除');
    await poll(() => deputy.getByRole('status').filter({ hasText: '未采取保全措施' }).count()).toBe(1);
    await check(deputy, 'cases-05-released');
    expect(deputyErrors).toEqual([]);
    await deputy.context().close();

    const placed = ledger(s.home, 'hold.placed');
    expect(placed).toHaveLength(1);
    expect(placed[0]!.actor).toBe(`user:${userId(s.home, CHIEF.name)}`);
    const released = ledger(s.home, 'hold.released');
    expect(released).toHaveLength(1);
    expect(released[0]!.actor).toBe(`user:${userId(s.home, DEPUTY.name)}`);

    // A number already used in the unit is said in Chinese with its code.
    await page.goto(`${s.url}/cases`);
    await poll(() => page.getByRole('link', { name: NUMBER }).count()).toBe(1);
    await page.getByLabel('案件编号').fill(NUMBER);
    await page.getByLabel('案件名称').fill('另一案件');
    await page.getByRole('button', { name: '新建案件' }).click();
    await poll(() => page.getByRole('alert').first().textContent()).toContain('所属科室已有该编号的案件，请换用其他编号。（错误代码：CASE_NUMBER_TAKEN）');
    await check(page, 'cases-06-list');
    expect(errors).toEqual([]);
  }, 240_000);
});

if (problems.length > 0 && process.env.CI) {
  describe('案件 /cases in chromium (issue 19)', () => {
    it('can run here (CI installs chromium and fonts-noto-cjk, and builds first)', () => {
      throw new Error(`the browser tests cannot run:\n  - ${problems.join('\n  - ')}`);
    });
  });
} else if (problems.length > 0) {
  console.warn(`[cases] browser tests not run: ${problems.join('; ')}. (With CI set this is a failure.)`);
}
