/**
 * Issue 19: the 合规报表 page in a real browser — Debian's chromium, the built daemon
 * serving the built console, recorders docked under its mount root.
 *
 * Three recorders of two units hand in footage: one on time, one 30 hours after it was
 * recorded (late, Art. 9) with its clock 90 s fast and its battery low, one of another
 * unit. The page's figures — per unit, per officer, device health — equal what
 * GET /api/v1/reports/compliance answers for the same period; its three charts are
 * drawn; its CSV opens in Excel (UTF-8 with a byte-order mark, Chinese headers) and holds
 * the same figures. Each view is screenshotted (test-results/console) and checked with axe.
 */
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check } from './checks.js';

const problems = browserProblems();

const SUPERVISOR = { name: 'kezhang02', role: 'supervisor', password: 'Kezhang-2026-pw' };
const H = 3_600_000;

async function dock(s: Station, serial: string, extra: string[]): Promise<void> {
  const staging = join(s.media, '..', `staging-${serial}`);
  const sim = await runCli(['simulate', 'recorder', '--out', staging, '--serial', serial, '--clips', '2', '--seconds', '2', '--home', s.home, ...extra]);
  expect(sim.code, sim.stderr).toBe(0);
  await rename(staging, join(s.media, serial));
}

async function api<T>(s: Station, path: string): Promise<T> {
  const r = await fetch(s.url + path, { headers: { authorization: `Bearer ${s.token}` } });
  expect(r.status, `${path}: ${r.status}`).toBe(200);
  return (await r.json()) as T;
}

interface Figures {
  unit: string | null;
  officer?: string | null;
  assignments: number;
  clips: number;
  hoursRecorded: number;
  onTimeRate: number | null;
  uploadDelay: { medianHours: number | null; worstHours: number | null };
  openFlags: Record<string, number>;
}
interface Report {
  units: Figures[];
  officers: Figures[];
  devices: Array<{ serial: string; docks: number; verdicts: { ready: number; notReady: number; unchecked: number }; battery: { first: number | null; min: number | null }; clockDrift: { overLimit: number } }>;
}

/** A canvas as far as INK reads it (these tests are compiled without the DOM's types). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
/** How many pixels of a canvas are not transparent (run in the page). */
const INK = (c: Canvas): number => {
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) ink++;
  return ink;
};

const percent = (r: number | null): string => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);
const hours = (h: number | null): string => (h === null ? '—' : h.toFixed(2));

/** The cells of the one row of a table region that holds `text`. */
async function cells(region: Locator, text: string): Promise<string[]> {
  const row = region.getByRole('row').filter({ hasText: text });
  await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
  return (await row.getByRole('cell').allTextContents()).map((c) => c.trim());
}

if (problems.length === 0) describe('合规报表 in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let page: Page;
  let dir: string;
  // The page's period: the last 30 days in the bureau's zone, both days included.
  const today = new Date(Date.now() + 8 * H).toISOString().slice(0, 10);
  const first = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 24 * H).toISOString().slice(0, 10);
  const after = new Date(Date.parse(`${today}T00:00:00Z`) + 24 * H).toISOString().slice(0, 10);
  const query = `from=${encodeURIComponent(`${first}T00:00:00+08:00`)}&to=${encodeURIComponent(`${after}T00:00:00+08:00`)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-reports-'));
    s = await station(dir, [SUPERVISOR]);
    const ago = (h: number) => new Date(Date.now() - h * H).toISOString();
    await dock(s, 'ZFYR01', ['--officer', '300001', '--unit', '执法一科', '--recorded-at', ago(2)]);
    await dock(s, 'ZFYR02', ['--officer', '300002', '--unit', '执法一科', '--recorded-at', ago(30), '--clock-offset', '90', '--battery', '35']);
    await dock(s, 'ZFYR03', ['--officer', '300003', '--unit', '执法二科', '--recorded-at', ago(5)]);
    await waitFor('three recorders collected', async () => {
      const d = await api<{ items: Array<{ lastDock: { sessionStatus: string | null } | null }> }>(s, '/api/v1/devices');
      return d.items.filter((x) => x.lastDock?.sessionStatus === 'complete').length === 3 ? true : undefined;
    }, 90_000);
    // The late dock's flag is raised when its session has ended.
    await waitFor('the late-upload flag', async () => {
      const f = await api<{ items: unknown[] }>(s, '/api/v1/flags?rule=late-upload');
      return f.items.length > 0 ? true : undefined;
    }, 30_000);
    browser = await launch();
    const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("shows the API's figures per unit and officer, and device health, with its three charts", async () => {
    await signIn(page, s.url, SUPERVISOR.name, SUPERVISOR.password);
    await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '合规报表' }).click();
    await page.waitForURL((u) => u.pathname === '/reports');
    const report = await api<Report>(s, `/api/v1/reports/compliance?${query}`);
    expect(report.units.map((u) => u.unit)).toEqual(['执法一科', '执法二科']);
    const u1 = report.units[0]!;
    expect(u1.onTimeRate).toBe(0.5);
    expect(u1.openFlags['late-upload']).toBe(1);

    const units = page.getByRole('region', { name: '各科室' });
    for (const u of report.units) {
      const c = await cells(units, u.unit!);
      expect(c.slice(0, 7), u.unit!).toEqual([u.unit, String(u.assignments), String(u.clips), hours(u.hoursRecorded), percent(u.onTimeRate), hours(u.uploadDelay.medianHours), hours(u.uploadDelay.worstHours)]);
    }
    expect((await cells(units, '执法一科'))[7]).toContain('逾期上传 1');
    const officers = page.getByRole('region', { name: '各执法人员' });
    expect(report.officers.length).toBe(3);
    for (const o of report.officers) {
      const c = await cells(officers, o.officer!);
      expect(c.slice(0, 9), o.officer!).toEqual([o.unit, o.officer, '—', String(o.assignments), String(o.clips), hours(o.hoursRecorded), percent(o.onTimeRate), hours(o.uploadDelay.medianHours), hours(o.uploadDelay.worstHours)]);
    }

    const health = page.getByRole('region', { name: '记录仪状况' });
    for (const d of report.devices) {
      const c = await cells(health, d.serial);
      expect(c.join(' ')).toContain(`就绪 ${d.verdicts.ready} 次，未就绪 ${d.verdicts.notReady} 次，未检测 ${d.verdicts.unchecked} 次`);
      expect(c.join(' ')).toContain(`首次 ${d.battery.first}%`);
    }
    const late = report.devices.find((d) => d.serial === 'ZFYR02')!;
    expect(late).toMatchObject({ docks: 1, verdicts: { notReady: 1 }, clockDrift: { overLimit: 1 } });
    expect((await cells(health, 'ZFYR02')).join(' ')).toMatch(/最近 快 9\d 秒/);

    // The charts: named pictures with their figures in words, drawn on a canvas.
    for (const name of ['按时上传率（按日、按科室）', '上传时延分布', '未处理预警（按类型）']) {
      const chart = page.getByRole('img', { name: new RegExp(`^${name.replace(/[()（）]/g, '.')}：`) });
      await expect.poll(() => chart.count()).toBe(1);
      // Pixels with ink on the chart's canvas (text run in the page: these tests have no DOM types).
      const drawn = await chart.locator('canvas').evaluate(INK);
      expect(drawn, name).toBeGreaterThan(500);
    }
    expect(await page.getByRole('img', { name: /^按时上传率/ }).getAttribute('aria-label')).toContain('执法一科按时上传率 50.0%');
    expect(await page.getByRole('img', { name: /^未处理预警/ }).getAttribute('aria-label')).toContain('逾期上传 1');
    await check(page, 'reports-01');
  }, 120_000);

  it('downloads the report as a CSV Excel opens: UTF-8 with a byte-order mark, Chinese headers, the same figures', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '导出报表' }).click()]);
    expect(download.suggestedFilename()).toBe(`合规报表-${first}-${today}.csv`);
    const bytes = await readFile((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).split('\r\n');
    expect(lines[1]).toBe('统计层级,科室,执法证号,姓名,领用次数,资料数,录制时长（小时）,按时上传率,上传时延中位数（小时）,最长上传时延（小时）,逾期上传,未上传,文件编号不连续,录像中断,时间偏差,逾期未送修,归属冲突');
    const report = await api<Report>(s, `/api/v1/reports/compliance?${query}`);
    const u1 = report.units[0]!;
    expect(lines[2]).toBe(
      ['科室', '执法一科', '', '', u1.assignments, u1.clips, u1.hoursRecorded.toFixed(2), (u1.onTimeRate! * 100).toFixed(1), u1.uploadDelay.medianHours!.toFixed(2), u1.uploadDelay.worstHours!.toFixed(2), 1, 0, 0, 0, u1.openFlags['clock-drift'], 0, 0].join(','),
    );
    expect(lines.filter((l) => l.startsWith('执法人员,'))).toHaveLength(3);
    expect(lines.some((l) => l.startsWith('ZFYR02,执法一科,在用,1,0,1,0,35,35,35,'))).toBe(true);
  }, 60_000);

  it('keeps the period in the address, and says a period the wrong way round in Chinese', async () => {
    await page.goto(`${s.url}/reports?from=2026-01-01&to=2026-01-31`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: '统计期间' }).textContent(), { timeout: 10_000 }).toContain('2026-01-01 00:00 至 2026-02-01 00:00');
    expect(await page.getByRole('region', { name: '各科室' }).textContent()).toContain('该期间没有数据');
    await page.goto(`${s.url}/reports?from=2026-02-01&to=2026-01-01`);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('开始日期不能晚于结束日期。');
    await check(page, 'reports-02-bad-period');
  }, 60_000);
});

if (problems.length > 0 && process.env.CI) {
  describe('合规报表 in chromium (issue 19)', () => {
    it('can run here (CI installs chromium and fonts-noto-cjk, and builds first)', () => {
      throw new Error(`the browser tests cannot run:\n  - ${problems.join('\n  - ')}`);
    });
  });
} else if (problems.length > 0) {
  console.warn(`[reports] browser tests not run: ${problems.join('; ')}. (With CI set this is a failure.)`);
}
