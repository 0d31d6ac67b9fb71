/**
 * Issue 19: 预警 /flags in Debian's chromium against the built daemon. A recorder hands
 * in footage three days after it was recorded: the daemon raises a late-upload flag,
 * which appears on a supervisor's open page by itself (the event stream) and is said in
 * Chinese; a second supervisor, linked to the officer the other flag is about, is not
 * offered to resolve that one; the first resolves with a written reason, ledgered.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check, watchErrors } from './checks.js';

const problems = browserProblems();
/** A condition the page reaches, given time: the station shares its cores with other work. */
const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number; interval?: number } = {}) => expect.poll(fn, { timeout: 20_000, ...opts });

const CHIEF = { name: 'kezhang', role: 'supervisor', password: 'Kezhang-2026-pw' };
const DEPUTY = { name: 'fuzeren', role: 'supervisor', password: 'Fuzeren-2026-pw' };

async function dock(s: Station, serial: string, officer: string, daysAgo: number): Promise<void> {
  const staging = join(s.media, '..', `staging-${serial}`);
  const recordedAt = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  const sim = await runCli(['simulate', 'recorder', '--out', staging, '--serial', serial, '--clips', '2', '--seconds', '1', '--recorded-at', recordedAt, '--officer', officer, '--unit', '350200', '--home', s.home]);
  expect(sim.code, sim.stderr).toBe(0);
  await rename(staging, join(s.media, serial));
}

function query<T>(home: string, sql: string, ...args: string[]): T[] {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

if (problems.length === 0) describe('预警 /flags in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-flags-'));
    s = await station(dir, [CHIEF, DEPUTY]);
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a late upload raises a flag that appears live, said in Chinese, and a second person resolves it with a written reason', async () => {
    // The deputy is officer 100009 too: they may never resolve a flag about 100009.
    const deputyId = query<{ id: string }>(s.home, 'SELECT id FROM users WHERE name = ?', DEPUTY.name)[0]!.id;
    const officer = await runCli(['assignments', 'officer', '100009', '--name', '副主任', '--unit', '350200', '--user', deputyId, '--home', s.home]);
    expect(officer.code, officer.stderr).toBe(0);

    const chief = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    const errors = watchErrors(chief);
    await signIn(chief, s.url, CHIEF.name, CHIEF.password);
    await chief.getByRole('link', { name: '预警' }).click();
    await chief.waitForURL((u) => u.pathname === '/flags');
    await poll(() => chief.getByRole('status').filter({ hasText: '实时更新中' }).count(), { timeout: 10_000 }).toBe(1);
    await poll(() => chief.getByText('没有符合条件的预警。').count()).toBe(1);
    await check(chief, 'flags-01-empty');

    // Footage recorded three days ago is handed in now: late (the limit is 24 h).
    await dock(s, 'ZFYLATE1', '100001', 3);
    const late = chief.getByRole('article', { name: '逾期上传预警：100001' });
    await poll(() => late.count(), { timeout: 60_000 }).toBe(1);
    const text = (await late.textContent()) ?? '';
    expect(text).toContain('新产生');
    const raised = JSON.parse(query<{ seen: string }>(s.home, "SELECT seen FROM flags WHERE recorder_serial = 'ZFYLATE1' AND rule = 'late-upload'")[0]!.seen) as { fileCount: number };
    expect(raised.fileCount).toBeGreaterThan(1);
    expect(text).toMatch(new RegExp(`记录仪 ZFYLATE1 在同一次接入中有 ${raised.fileCount} 个文件逾期上传，最长在录制结束 7\\d(\\.\\d)? 小时后（ZFYLATE1_.+），超过 24 小时的期限。`));
    expect(text).toContain('待处理');
    // A second late recorder, about the deputy's own officer number.
    await dock(s, 'ZFYLATE2', '100009', 2);
    await poll(() => chief.getByRole('article', { name: '逾期上传预警：100009' }).count(), { timeout: 60_000 }).toBe(1);
    await check(chief, 'flags-02-live');

    // The deputy is not offered the flag about themselves, only the other.
    const deputy = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(deputy, s.url, DEPUTY.name, DEPUTY.password);
    await deputy.goto(`${s.url}/flags`);
    const own = deputy.getByRole('article', { name: '逾期上传预警：100009' });
    await poll(() => own.count(), { timeout: 10_000 }).toBe(1);
    expect(await own.getByRole('button', { name: '处理' }).count()).toBe(0);
    expect(await own.textContent()).toContain('该预警涉及您本人的执法证号，须由其他负责人处理。');
    expect(await deputy.getByRole('article', { name: '逾期上传预警：100001' }).getByRole('button', { name: '处理' }).count()).toBe(1);
    await check(deputy, 'flags-03-own-not-offered');
    // The API refuses it all the same.
    const ownId = (await own.getAttribute('data-flag-id'))!;
    const refused = await deputy.evaluate(
      async (id) => (await fetch(`/api/v1/flags/${id}/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custody-csrf': '1' }, body: JSON.stringify({ reason: '本人说明' }) })).json(),
      ownId,
    );
    expect(refused).toMatchObject({ error: { code: 'FLAG_SELF_APPROVAL' } });
    await deputy.context().close();

    // Filters are in the URL: by recorder.
    await chief.getByLabel('记录仪编号').fill('ZFYLATE1');
    await chief.getByRole('button', { name: '查询' }).click();
    await chief.waitForURL((u) => u.searchParams.get('device') === 'ZFYLATE1');
    await poll(() => chief.getByRole('article').count()).toBe(query<{ n: number }>(s.home, "SELECT count(*) AS n FROM flags WHERE recorder_serial = 'ZFYLATE1'")[0]!.n);
    expect(await chief.getByRole('article', { name: '逾期上传预警：100009' }).count()).toBe(0);

    // The chief resolves it: a reason is needed first.
    await late.getByRole('button', { name: '处理' }).click();
    const dialog = chief.getByRole('dialog');
    await dialog.getByRole('button', { name: '确认处理' }).click();
    await poll(() => dialog.getByText('请填写处理意见').count()).toBe(1);
    await dialog.getByLabel('处理意见（书面说明）').fill('采集站 11 月故障停用三天，已补传，情况属实。');
    await check(chief, 'flags-04-resolve-dialog');
    await dialog.getByRole('button', { name: '确认处理' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // Unresolved is the default list: it is gone from it.
    await poll(() => late.count()).toBe(0);

    await chief.goto(`${s.url}/flags?state=resolved`);
    const done = chief.getByRole('article', { name: '逾期上传预警：100001' });
    await poll(() => done.count(), { timeout: 10_000 }).toBe(1);
    expect(await done.textContent()).toContain('采集站 11 月故障停用三天，已补传，情况属实。');
    expect(await done.textContent()).toContain('已处理');
    await check(chief, 'flags-05-resolved');
    // In English too, from the same figures.
    await chief.getByLabel('界面语言').selectOption('en');
    await poll(() => chief.getByRole('heading', { name: 'Flags' }).count()).toBe(1);
    expect(await chief.getByRole('article', { name: 'Late upload flag: 100001' }).textContent()).toMatch(/files from ZFYLATE1 were handed in late in one dock, up to 7\d(\.\d)? h after recording ended/);
    await chief.getByLabel('Language').selectOption('zh-CN');

    const chiefId = query<{ id: string }>(s.home, 'SELECT id FROM users WHERE name = ?', CHIEF.name)[0]!.id;
    const entries = query<{ actor: string; data: string }>(s.home, "SELECT actor, data FROM ledger WHERE type = 'flag.resolved'");
    expect(entries).toHaveLength(1);
    expect(entries[0]!.actor).toBe(`user:${chiefId}`);
    expect(JSON.parse(entries[0]!.data)).toMatchObject({ rule: 'late-upload', officer: '100001', approvedBy: chiefId, reason: '采集站 11 月故障停用三天，已补传，情况属实。' });
    expect(errors).toEqual([]);
  }, 240_000);
});

if (problems.length > 0 && process.env.CI) {
  describe('预警 /flags in chromium (issue 19)', () => {
    it('can run here (CI installs chromium and fonts-noto-cjk, and builds first)', () => {
      throw new Error(`the browser tests cannot run:\n  - ${problems.join('\n  - ')}`);
    });
  });
} else if (problems.length > 0) {
  console.warn(`[flags] browser tests not run: ${problems.join('; ')}. (With CI set this is a failure.)`);
}
