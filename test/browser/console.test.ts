/**
 * Issue 15: the station console in a real browser — Debian's chromium, the built daemon
 * serving the built console, recorders docked under its mount root.
 *
 * One station for the file; the flows run in order, as a shift would: sign in, watch
 * recorders dock and be collected, find their clips, ask for access and have a second
 * person (signed in in a second browser context) approve it, play a clip (the ledger
 * registers the view), and play an H.265 clip through its browser-playable proxy.
 * Each page is screenshotted (test-results/console) and checked with axe-core.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { browserProblems, launch, screenshot, signIn, station, weigh, type Station } from './harness.js';
import { check, watchErrors } from './checks.js';
import { borderOf, playAndSeek, SEEN_PROGRESS, WATCH_PROGRESS } from './in-page.js';

const problems = browserProblems();
const run = promisify(execFile);

const OPERATOR = { name: 'caiji01', role: 'operator', password: 'Caiji-2026-pw' };
const SUPERVISOR = { name: 'kezhang', role: 'supervisor', password: 'Kezhang-2026-pw' };
const AUDITOR = { name: 'shenji01', role: 'auditor', password: 'Shenji-2026-pw' };

interface Item {
  id: string;
  type: string;
  device: string;
  playback?: { kind: string; status: string; url: string | null };
}

/** A simulated recorder written beside the mount root, then moved under it in one step (a dock). */
async function dock(s: Station, serial: string, extra: string[] = [], prepare?: (root: string) => Promise<void>): Promise<void> {
  const staging = join(s.media, '..', `staging-${serial}`);
  const sim = await runCli(['simulate', 'recorder', '--out', staging, '--serial', serial, '--home', s.home, ...extra]);
  expect(sim.code, sim.stderr).toBe(0);
  if (prepare) await prepare(staging);
  await rename(staging, join(s.media, serial));
}

async function api<T>(s: Station, path: string): Promise<T> {
  const r = await fetch(s.url + path, { headers: { authorization: `Bearer ${s.token}` } });
  expect(r.status, `${path}: ${r.status}`).toBe(200);
  return (await r.json()) as T;
}

function ledger(home: string, type: string, subject: string): Array<{ actor: string; data: Record<string, unknown> }> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db
      .prepare<[string, string], { actor: string; data: string }>('SELECT actor, data FROM ledger WHERE type = ? AND subject = ? ORDER BY seq')
      .all(type, subject)
      .map((r) => ({ actor: r.actor, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}

/** Request access to one item in the page, as the requester. */
async function askFor(page: Page, s: Station, id: string, reason: string): Promise<void> {
  await page.goto(`${s.url}/evidence/${id}`);
  await expect.poll(() => page.getByText('查看该资料须经调阅审批').count()).toBe(1);
  await page.getByRole('link', { name: '申请调阅' }).click();
  await page.waitForURL((u) => u.pathname === '/requests');
  expect(await page.getByLabel('资料 ID').inputValue()).toBe(id);
  await page.getByLabel('调阅事由').fill(reason);
  await page.getByRole('button', { name: '提交申请' }).click();
  await expect.poll(() => page.getByText('申请已提交，待科室负责人审批。').count()).toBe(1);
}

/** Approve, as the supervisor, the pending request whose reason is `reason`. */
async function approve(page: Page, s: Station, requester: string, reason: string): Promise<void> {
  await page.goto(`${s.url}/requests`);
  const card = page.getByRole('article', { name: `${requester} 的调阅申请` }).filter({ hasText: reason });
  await expect.poll(() => card.count()).toBe(1);
  // The hours the requester asked for are shown, and are what the approval grants by default.
  expect(await card.textContent()).toContain('申请时长 24 小时');
  await card.getByRole('button', { name: '同意', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: '确认同意' }).click();
  await expect.poll(() => card.count()).toBe(0);
  await page.getByRole('dialog').waitFor({ state: 'hidden' });
}

if (problems.length === 0) describe('the station console in chromium (issue 15)', () => {
  let s: Station;
  let browser: Browser;
  let operator: BrowserContext;
  let page: Page;
  let errors: string[];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-console-'));
    s = await station(dir, [OPERATOR, SUPERVISOR, AUDITOR]);
    browser = await launch();
    operator = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
    page = await operator.newPage();
    errors = watchErrors(page);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('signs in with 用户名 and 密码; a wrong password is said in Chinese with its code', async () => {
    // The first load is light: at most 400 KB of gzipped scripts and styles (docs/console.md).
    const first = await weigh(page, async () => {
      await page.goto(`${s.url}/docks`);
      await page.waitForURL((u) => u.pathname === '/login');
    });
    expect(first.files.length).toBeGreaterThan(1);
    expect(first.gzip).toBeLessThanOrEqual(400 * 1024);
    await check(page, '01-login');
    await page.getByLabel('用户名').fill(OPERATOR.name);
    await page.getByLabel('密码', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: '登录' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('用户名或密码错误。（错误代码：SIGN_IN_FAILED）');
    await check(page, '02-login-failed');

    await page.getByLabel('密码', { exact: true }).fill(OPERATOR.password);
    await page.getByRole('button', { name: '登录' }).click();
    // Back to the page that was asked for.
    await page.waitForURL((u) => u.pathname === '/docks');
    await expect.poll(() => page.getByRole('heading', { name: '采集看板' }).count()).toBe(1);
  });

  it('shows recorders docking live — verdict, reasons, progress — and each ends complete', async () => {
    await expect.poll(() => page.getByRole('status').filter({ hasText: '实时更新中' }).count(), { timeout: 10_000 }).toBe(1);
    // Progress as it was shown, frame by frame (a collection can be quick).
    await page.evaluate(WATCH_PROGRESS);
    // ZFY001 is ready; ZFY002's clock is 120 s fast and its battery low: NOT READY, with both reasons.
    // 1 GiB in eight clips: its collection lasts several progress intervals (250 ms) even on
    // a fast disk (256 MiB once went by in under one, and no part-way progress was sent).
    await dock(s, 'ZFY001', ['--clips', '8', '--seconds', '1', '--clip-bytes', String(128 * 1024 * 1024), '--officer', '100001', '--unit', '350200']);
    await dock(s, 'ZFY002', ['--clips', '2', '--seconds', '1', '--clip-bytes', String(24 * 1024 * 1024), '--clock-offset', '120', '--battery', '12', '--officer', '100002', '--unit', '350200']);

    const ready = page.getByRole('article', { name: '记录仪 ZFY001' });
    const notReady = page.getByRole('article', { name: '记录仪 ZFY002' });
    await expect.poll(() => ready.getByRole('status').first().textContent(), { timeout: 30_000 }).toContain('就绪');
    await expect.poll(() => notReady.getByRole('status').first().textContent(), { timeout: 30_000 }).toContain('未就绪');
    await expect.poll(() => notReady.getByRole('list', { name: '未就绪原因' }).textContent()).toContain('设备时间快 120 秒，超出 ±30 秒');
    expect(await notReady.getByRole('list', { name: '未就绪原因' }).textContent()).toContain('电量 12%，低于 30%');
    // Officer, unit and the check's readings, from the recorder's record.
    await expect.poll(() => ready.textContent(), { timeout: 10_000 }).toContain('100001');
    expect(await ready.textContent()).toContain('350200');
    await expect.poll(() => notReady.textContent()).toContain('快 120 秒');

    await expect.poll(() => ready.locator('[data-outcome]').getAttribute('data-outcome').catch(() => null), { timeout: 60_000 }).toBe('complete');
    await expect.poll(() => notReady.locator('[data-outcome]').getAttribute('data-outcome').catch(() => null), { timeout: 60_000 }).toBe('complete');
    expect(await ready.textContent()).toContain('采集完成');
    expect(await ready.textContent()).toMatch(/已采集 \d+ 个文件（[\d.]+ [MG]B），失败 0 个/);
    const seen = (await page.evaluate(SEEN_PROGRESS)) as Array<{ serial: string; now: number }>;
    expect(seen.some((p) => p.serial === 'ZFY001' && p.now < 100), 'ZFY001 was shown part-way through').toBe(true);
    // NOT READY stands out by more than colour: an icon, the words, a thick border.
    expect(await page.evaluate(borderOf('ZFY002'))).toBeGreaterThanOrEqual(4);
    expect(await page.evaluate(borderOf('ZFY001'))).toBeLessThan(4);
    await check(page, '03-docks');
    // The board after a reload: the recently collected recorders are still there.
    await page.reload();
    await expect.poll(() => page.getByRole('article', { name: '记录仪 ZFY002' }).locator('[data-outcome]').count(), { timeout: 10_000 }).toBe(1);
  }, 180_000);

  it('shows a recorder pulled mid-collection as pulled, by more than colour', async () => {
    await dock(s, 'ZFY003', ['--clips', '6', '--seconds', '1', '--clip-bytes', String(96 * 1024 * 1024), '--officer', '100004', '--unit', '350200']);
    const card = page.getByRole('article', { name: '记录仪 ZFY003' });
    // Part-way through its collection, the recorder goes away.
    await expect
      .poll(async () => Number((await card.getByRole('progressbar').getAttribute('aria-valuenow').catch(() => null)) ?? 0), { timeout: 60_000, interval: 20 })
      .toBeGreaterThan(0);
    await rm(join(s.media, 'ZFY003'), { recursive: true, force: true });
    await expect.poll(() => card.locator('[data-outcome]').getAttribute('data-outcome').catch(() => null), { timeout: 60_000 }).toBe('pulled');
    expect(await card.textContent()).toContain('记录仪已拔出，采集未完成');
    expect(await card.textContent()).toContain('未采集的文件将在下次接入时继续采集。');
    expect(await page.evaluate(borderOf('ZFY003'))).toBeGreaterThanOrEqual(4);
    await check(page, '03b-docks-pulled');
  }, 120_000);

  it('finds the clips of a recorder, newest first, with cursor paging', async () => {
    const fromApi = await api<{ items: Item[] }>(s, '/api/v1/evidence?device=ZFY001&limit=500');
    expect(fromApi.items.length).toBeGreaterThanOrEqual(4);
    await page.getByRole('link', { name: '证据检索' }).click();
    await page.waitForURL((u) => u.pathname === '/evidence');
    await page.getByLabel('记录仪编号').fill('ZFY001');
    await page.getByRole('button', { name: '查询' }).click();
    await page.waitForURL((u) => u.searchParams.get('device') === 'ZFY001');
    const rows = page.locator('.el-table__body tr');
    await expect.poll(() => rows.count()).toBe(fromApi.items.length);
    expect(await page.getByRole('table').first().textContent()).not.toContain('ZFY002');
    await check(page, '04-evidence');

    // A bad filter is said before anything is sent, in the API schema's terms.
    await page.getByLabel('案件').fill('not-a-case');
    await page.getByRole('button', { name: '查询' }).click();
    await expect.poll(() => page.getByText('编号格式不正确').count()).toBe(1);
    await page.getByLabel('案件').fill('');
  });

  it('plays a clip once a second person approves the request, and the view is registered', async () => {
    const { items } = await api<{ items: Item[] }>(s, '/api/v1/evidence?device=ZFY001&type=video&limit=1');
    const clip = items[0]!;
    await askFor(page, s, clip.id, '当事人投诉，核查现场执法过程');
    await check(page, '05-requests');

    // The supervisor, in a second browser context (own cookies).
    const second = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
    try {
      const sup = await second.newPage();
      const supErrors = watchErrors(sup);
      await signIn(sup, s.url, SUPERVISOR.name, SUPERVISOR.password);
      // The supervisor's own request is never offered to them to decide.
      await sup.goto(`${s.url}/requests?evidence=${clip.id}`);
      await sup.getByLabel('调阅事由').fill('本科室复核');
      await sup.getByRole('button', { name: '提交申请' }).click();
      await expect.poll(() => sup.getByText('申请已提交，待科室负责人审批。').count()).toBe(1);
      await screenshot(sup, '06-requests-to-decide');
      expect(await sup.getByRole('article', { name: `${SUPERVISOR.name} 的调阅申请` }).count()).toBe(0);
      await approve(sup, s, OPERATOR.name, '当事人投诉，核查现场执法过程');
      await check(sup, '07-requests-decided');
      expect(supErrors).toEqual([]);
    } finally {
      await second.close();
    }

    await page.goto(`${s.url}/requests`);
    await expect.poll(() => page.getByRole('table').last().textContent()).toContain('已同意');
    // Granted for the 24 hours asked for.
    const db = new Database(join(s.home, 'catalog.db'), { readonly: true });
    const row = db.prepare<[], { expires_at: string; decided_at: string }>("SELECT expires_at, decided_at FROM access_requests WHERE status = 'approved'").get();
    db.close();
    expect(Math.abs(Date.parse(row!.expires_at) - Date.parse(row!.decided_at) - 24 * 3600_000)).toBeLessThan(1000);
    await page.goto(`${s.url}/evidence/${clip.id}`);
    const video = page.getByTestId('player');
    await expect.poll(() => video.count(), { timeout: 10_000 }).toBe(1);
    // It plays, and seeks (the browser asks for byte ranges).
    expect(await page.evaluate(playAndSeek(0.5))).toEqual({ error: null, duration: true, width: true });
    await check(page, '08-evidence-detail-playing');

    const viewed = ledger(s.home, 'access.viewed', clip.id);
    expect(viewed.length).toBeGreaterThan(0);
    expect(viewed.some((v) => v.data.range !== null), 'a ranged read was registered').toBe(true);
    // An auditor sees each registered view of the item: when, by whom, which bytes.
    const third = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
    try {
      const aud = await third.newPage();
      await signIn(aud, s.url, AUDITOR.name, AUDITOR.password);
      await aud.goto(`${s.url}/evidence/${clip.id}`);
      const views = aud.getByTestId('views');
      await expect.poll(() => views.textContent()).toContain('调阅登记（查看）');
      expect(await views.textContent()).toMatch(/第 \d+–\d+ 字节/);
      expect(await views.textContent()).toContain(`user:`);
      await check(aud, '08c-evidence-views-auditor');
    } finally {
      await third.close();
    }

    // Search results show a thumbnail only where the grant allows it: this clip's.
    await page.goto(`${s.url}/evidence?device=ZFY001`);
    const thumbs = page.getByRole('img', { name: '记录仪 ZFY001 的资料缩略图' });
    await expect.poll(() => thumbs.count()).toBe(1);
    await expect.poll(() => thumbs.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    expect(await page.getByText('需调阅授权').count()).toBeGreaterThan(0);
    await check(page, '08b-evidence-thumbnail');

    // The page says so too.
    await page.goto(`${s.url}/evidence/${clip.id}`);
    await expect.poll(() => page.getByTestId('access-entries').textContent()).toMatch(/调阅登记 [1-9]\d* 次/);
    expect(await page.getByRole('table').last().textContent()).toContain('采集入库');
  }, 120_000);

  it('plays an H.265 clip through its browser-playable proxy', async () => {
    // A recorder whose clip is H.265, as newer recorders write it.
    await dock(s, 'ZFY265', ['--clips', '0', '--officer', '100003', '--unit', '350200'], async (root) => {
      const dir = join(root, 'DCIM', '100HEVC');
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'ZFY265_20261201083000_0001.MP4');
      await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25:duration=2', '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1', '-pix_fmt', 'yuv420p', file]);
      const past = new Date(Date.now() - 3600_000);
      await utimes(file, past, past);
    });
    const hevc = await waitFor(
      'the H.265 clip to be ingested',
      async () => (await api<{ items: Item[] }>(s, '/api/v1/evidence?device=ZFY265&type=video')).items[0],
      60_000,
      200,
    );
    await askFor(page, s, hevc.id, '复核 H.265 录像');
    const second = await browser.newContext({ locale: 'zh-CN' });
    try {
      const sup = await second.newPage();
      await signIn(sup, s.url, SUPERVISOR.name, SUPERVISOR.password);
      await approve(sup, s, OPERATOR.name, '复核 H.265 录像');
    } finally {
      await second.close();
    }
    await page.goto(`${s.url}/evidence/${hevc.id}`);
    // 转码中 until the proxy is made; the page asks again by itself.
    const video = page.getByTestId('player');
    await expect.poll(() => video.count(), { timeout: 90_000, interval: 500 }).toBe(1);
    expect(await video.getAttribute('src')).toBe(`/api/v1/evidence/${hevc.id}/proxy`);
    expect(await page.evaluate(playAndSeek(null))).toEqual({ error: null, duration: true, width: true });
    await check(page, '09-evidence-proxy');
    expect(ledger(s.home, 'access.viewed', hevc.id).length).toBeGreaterThan(0);
  }, 180_000);

  it('speaks English when asked, and signs out', async () => {
    await page.goto(`${s.url}/docks`);
    await page.getByLabel('界面语言').selectOption('en');
    await expect.poll(() => page.getByRole('heading', { name: 'Dock board' }).count()).toBe(1);
    expect(await page.getByRole('article', { name: 'Recorder ZFY002' }).textContent()).toContain('NOT READY');
    await check(page, '10-docks-en');
    await page.getByLabel('Language').selectOption('zh-CN');
    await expect.poll(() => page.getByRole('heading', { name: '采集看板' }).count()).toBe(1);

    await page.getByRole('button', { name: '退出登录' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    // The session is over on the server too: the next page asks to sign in again.
    await page.goto(`${s.url}/requests`);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/requests');
    const db = new Database(join(s.home, 'catalog.db'), { readonly: true });
    const operatorId = db.prepare<[string], { id: string }>('SELECT id FROM users WHERE name = ?').get(OPERATOR.name)!.id;
    db.close();
    expect(ledger(s.home, 'session.signed-out', operatorId)).toHaveLength(1);
  });

  it('left no script error or refused resource in the page', () => {
    expect(errors).toEqual([]);
  });
});

if (problems.length > 0 && process.env.CI) {
  describe('the station console in chromium (issue 15)', () => {
    it('can run here (CI installs chromium and fonts-noto-cjk, and builds first)', () => {
      throw new Error(`the browser tests cannot run:\n  - ${problems.join('\n  - ')}`);
    });
  });
} else if (problems.length > 0) {
  console.warn(`[console] browser tests not run: ${problems.join('; ')}. (With CI set this is a failure.)`);
}
