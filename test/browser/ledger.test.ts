/**
 * Issue 19: 账本 /ledger in Debian's chromium against the built daemon. An auditor sees
 * the latest signed checkpoint as the API gives it, runs "verify now" and sees it pass,
 * and downloads the ledger export and the station's public key, which check out with
 * scripts/verify-ledger-export.mjs and equal the CLI's verifier key; an archivist may
 * read the page but is not offered the verification; a run listing the vault against the
 * ledger shows the count listed so far.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check } from './checks.js';

const problems = browserProblems();
const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/verify-ledger-export.mjs', import.meta.url));

const AUDITOR = { name: 'shenji', role: 'auditor', password: 'Shenji-2026-pw' };
const ARCHIVIST = { name: 'dangan', role: 'archivist', password: 'Dangan-2026-pw' };

if (problems.length === 0) describe('账本 /ledger in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-ledger-'));
    s = await station(dir, [AUDITOR, ARCHIVIST]);
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('shows the latest checkpoint, verifies now, and gives the ledger and the key that an outsider checks', async () => {
    const auth = { authorization: `Bearer ${s.token}` };
    // The daemon signs a checkpoint when it starts.
    const summary = await waitFor(
      'a signed checkpoint',
      async () => {
        const r = (await (await fetch(`${s.url}/api/v1/ledger/checkpoint/summary`, { headers: auth })).json()) as { checkpoint: { size: number; root: string } | null; head: { hash: string } };
        return r.checkpoint ? r : undefined;
      },
      30_000,
      250,
    );

    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await signIn(page, s.url, AUDITOR.name, AUDITOR.password);
    await page.getByRole('link', { name: '审计账本' }).click();
    await page.waitForURL((u) => u.pathname === '/ledger');
    const cp = page.getByRole('region', { name: '最新签名检查点' });
    await expect.poll(() => cp.textContent()).toContain(summary.checkpoint!.root);
    expect(await cp.textContent()).toContain(`${summary.checkpoint!.size} 条`);
    await check(page, 'ledger-01');

    // Verify now: a job with progress, then its result.
    await page.getByRole('button', { name: '立即校验' }).click();
    await expect.poll(() => page.getByRole('status', { name: '最近一次校验结果' }).textContent(), { timeout: 60_000 }).toContain('校验通过：账本与存储完整');
    await check(page, 'ledger-02-verified');
    const db = new Database(join(s.home, 'catalog.db'), { readonly: true });
    const verified = db.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'vault.verified'").all();
    db.close();
    expect(verified.map((v) => (JSON.parse(v.data) as { ok: boolean }).ok)).toEqual([true]);
    expect(await page.getByRole('status', { name: '最近一次校验结果' }).textContent()).toContain('存储中的每个对象都有账本记录。');

    // A photo in the vault that no entry names (as a restore finds the footage of the lost
    // minute): the next verification still passes, and lists it for the information centre.
    const stray = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('a photo no entry names')]);
    const sha = createHash('sha256').update(stray).digest('hex');
    const strayFile = join(s.home, 'vault', 'objects', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha);
    await mkdir(dirname(strayFile), { recursive: true });
    await writeFile(strayFile, stray);
    await page.getByRole('button', { name: '立即校验' }).click();
    await expect
      .poll(() => page.getByRole('status', { name: '最近一次校验结果' }).textContent(), { timeout: 60_000 })
      .toContain(`存储中另有 1 个对象（共 ${stray.length} B）没有任何账本记录，已原样保留，未删除`);
    const result = (await page.getByRole('status', { name: '最近一次校验结果' }).textContent())!;
    expect(result).toContain('校验通过：账本与存储完整');
    expect(result).toContain(`${sha.slice(0, 16)}… · 照片`);
    await check(page, 'ledger-02b-unclaimed');
    const db2 = new Database(join(s.home, 'catalog.db'), { readonly: true });
    const again = db2.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'vault.verified' ORDER BY seq").all();
    db2.close();
    expect(again.map((v) => JSON.parse(v.data) as { ok: boolean; unclaimed: number })).toMatchObject([{ ok: true, unclaimed: 0 }, { ok: true, unclaimed: 1 }]);
    expect(await readFile(strayFile)).toEqual(stray);

    // The downloads, checked as an outsider would.
    const head = (await page.getByText('最新一条的哈希值：').textContent())!.split('：')[1]!.trim();
    const [exportDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /下载账本导出文件/ }).click()]);
    const exported = join(dir, 'ledger.jsonl');
    await exportDl.saveAs(exported);
    expect(exportDl.suggestedFilename()).toMatch(/^custody-ledger-\d{4}-\d{2}-\d{2}\.jsonl$/);
    const ok = await run(process.execPath, [SCRIPT, exported, '--head', head]);
    expect(ok.stdout).toMatch(/^OK: \d+ entries/);
    const [keyDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '下载本站公钥（检查点验证密钥）' }).click()]);
    const keyFile = join(dir, 'key.txt');
    await keyDl.saveAs(keyFile);
    const cliKey = await runCli(['ledger', 'checkpoint', '--verifier-key', '--home', s.home]);
    expect((await readFile(keyFile, 'utf8')).trim()).toBe(cliKey.stdout.trim());
    // The explanation names the script and the head hash to compare.
    expect(await page.getByRole('region', { name: '下载与外部核验' }).textContent()).toContain(`verify-ledger-export.mjs custody-ledger-….jsonl --head ${head}`);

    // An archivist reads the ledger but may not start a verification.
    const other = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(other, s.url, ARCHIVIST.name, ARCHIVIST.password);
    await other.goto(`${s.url}/ledger`);
    await expect.poll(() => other.getByText('你的角色可以查看校验结果，但不能发起校验。').count()).toBe(1);
    expect(await other.getByRole('button', { name: '立即校验' }).count()).toBe(0);
    await check(other, 'ledger-03-archivist');

    // The run's last step lists the vault against the ledger (minutes on a large S3 vault):
    // the page says so with the count listed so far, on a moving bar. The status is the
    // API's at that moment (a test vault lists too fast to catch it).
    const listing = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    listing.on('pageerror', (e) => errors.push(e.message));
    await listing.route('**/api/v1/ledger/verify', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const running = { deep: false, startedAt: '2026-12-04T08:00:00.000Z', startedBy: 'user:1', progress: { phase: 'unclaimed', done: 12000, total: 0 } };
      await route.fulfill({ json: { running, last: null, interrupted: null } });
    });
    await signIn(listing, s.url, AUDITOR.name, AUDITOR.password);
    await listing.goto(`${s.url}/ledger`);
    const runningStatus = listing.getByRole('status').filter({ hasText: '校验进行中' });
    await expect.poll(() => runningStatus.textContent()).toContain('清点存储中的全部对象，查找没有账本记录的对象（已清点 12000 个）');
    expect(await runningStatus.locator('.el-progress-bar__inner--indeterminate').count()).toBe(1);
    expect(await listing.getByRole('button', { name: '立即校验' }).isDisabled()).toBe(true);
    await check(listing, 'ledger-02a-listing');
    expect(errors).toEqual([]);
  }, 180_000);
});
