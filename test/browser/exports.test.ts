/**
 * Issue 19: 归档 /exports in Debian's chromium against the built daemon. A case is held,
 * an archivist asks for it and a supervisor approves (set up through the API: the
 * 案件 page has its own flow); the archivist then exports it from the page to two
 * destinations of archive.destinationRoots, follows both copies to 已回读校验, finds the
 * job again after a reload, prints both disc labels and the handover sheet to PDF
 * (their text read back with pdfjs), and records the check of a re-mounted copy.
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitFor } from '../helpers/cli.js';
import { ARTIFACTS, browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check, watchErrors } from './checks.js';

const problems = browserProblems();

const ARCHIVIST = { name: 'dangan', role: 'archivist', password: 'Dangan-2026-pw' };
const NUMBER = '厦执罚〔2026〕207号';
const NAME = '陈某某阻碍执法案';

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

/** Text as pdfText gives it: NFKC, no white space. */
const flat = (s: string): string => s.normalize('NFKC').replace(/\s+/g, '');

/** The text of every page of a PDF, and each page's size in millimetres. */
async function pdfText(pdf: Buffer): Promise<{ text: string; pages: Array<{ w: number; h: number }> }> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, isEvalSupported: false }).promise;
  let text = '';
  const pages: Array<{ w: number; h: number }> = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const p = await doc.getPage(i);
    const vp = p.getViewport({ scale: 1 });
    pages.push({ w: Math.round((vp.width / 72) * 25.4), h: Math.round((vp.height / 72) * 25.4) });
    const content = await p.getTextContent();
    text += content.items.map((it) => ('str' in it ? it.str : '')).join('') + '\n';
  }
  await doc.destroy();
  // NFKC: a CJK font may map a glyph to its Kangxi radical (⼈ for 人).
  return { text: flat(text), pages };
}

if (problems.length === 0) describe('归档 /exports in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let dir: string;
  let burnerA: string;
  let burnerB: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-exports-'));
    burnerA = join(dir, 'burner-a');
    burnerB = join(dir, 'burner-b');
    await mkdir(burnerA);
    await mkdir(burnerB);
    s = await station(dir, [ARCHIVIST], { CUSTODY_ARCHIVE_DESTINATION_ROOTS: `${burnerA},${burnerB}` });
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('exports a held, requested and approved case to two destinations; both labels and the handover sheet print; a re-mounted copy is checked', async () => {
    // Footage, a case holding it, protected (the API, as the 案件 page would).
    const staging = join(s.media, '..', 'staging-ZFYEXP1');
    const sim = await runCli(['simulate', 'recorder', '--out', staging, '--serial', 'ZFYEXP1', '--clips', '2', '--seconds', '1', '--officer', '100002', '--unit', '350200', '--home', s.home]);
    expect(sim.code, sim.stderr).toBe(0);
    await rename(staging, join(s.media, 'ZFYEXP1'));
    const auth = { authorization: `Bearer ${s.token}` };
    const clips = await waitFor(
      'the recorder to be collected',
      async () => {
        const items = ((await (await fetch(`${s.url}/api/v1/evidence?device=ZFYEXP1&limit=100`, { headers: auth })).json()) as { items: Array<{ id: string }> }).items;
        const docks = ((await (await fetch(`${s.url}/api/v1/docks`, { headers: auth })).json()) as { items: unknown[] }).items;
        return items.length > 0 && docks.length === 0 ? items : undefined;
      },
      60_000,
      250,
    );
    const boss = JSON.parse((await runCli(['users', 'add', '--name', 'kezhang', '--role', 'supervisor', '--json', '--home', s.home])).stdout) as { token: string };
    const asBoss = { authorization: `Bearer ${boss.token}`, 'content-type': 'application/json' };
    const created = await fetch(`${s.url}/api/v1/cases`, { method: 'POST', headers: asBoss, body: JSON.stringify({ number: NUMBER, name: NAME, unit: '350200' }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const caseId = ((await created.json()) as { id: string }).id;
    expect((await fetch(`${s.url}/api/v1/cases/${caseId}/evidence`, { method: 'POST', headers: asBoss, body: JSON.stringify({ evidenceIds: clips.map((c) => c.id) }) })).status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/cases/${caseId}/holds`, { method: 'POST', headers: asBoss, body: JSON.stringify({ reason: 'obstruction' }) })).status).toBe(201);

    const page = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    const errors = watchErrors(page, [409]);
    await signIn(page, s.url, ARCHIVIST.name, ARCHIVIST.password);
    // The archivist's own request for the case (with the session, as the 调阅申请 page sends it), approved by the supervisor.
    const asked = await page.request.post(`${s.url}/api/v1/access-requests`, { headers: { 'X-Custody-CSRF': '1', origin: s.url }, data: { caseId, reason: '长期保存归档' } });
    expect(asked.status(), await asked.text()).toBe(201);
    const requestId = ((await asked.json()) as { id: string }).id;
    expect((await fetch(`${s.url}/api/v1/access-requests/${requestId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${boss.token}` } })).status).toBe(200);

    await page.getByRole('link', { name: '刻录归档' }).click();
    await page.waitForURL((u) => u.pathname === '/exports');
    await expect.poll(() => page.getByRole('checkbox', { name: burnerA }).count()).toBe(1);
    await check(page, 'exports-01-start');

    // Nothing chosen: said, nothing sent.
    await page.getByRole('button', { name: '开始归档' }).click();
    await expect.poll(() => page.getByText('请选择案件').count()).toBe(1);
    expect(await page.getByText('请选择 2 个刻录位置').count()).toBe(1);

    await page.getByRole('combobox', { name: '案件' }).click();
    await page.getByRole('option', { name: `${NUMBER} ${NAME}` }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: `该案件已采取保全措施，关联 ${clips.length} 份资料。` }).count()).toBe(1);
    await page.getByText(burnerA, { exact: true }).click();
    await page.getByText(burnerB, { exact: true }).click();
    expect(await page.getByRole('checkbox', { name: burnerB }).isChecked()).toBe(true);
    expect(await page.getByLabel('制作人').inputValue()).toBe(ARCHIVIST.name);
    await page.getByLabel('制作人').fill('档案员 陈');
    await page.getByRole('button', { name: '开始归档' }).click();
    await page.waitForURL((u) => u.pathname === '/exports' && u.searchParams.has('job'));
    const exportId = new URL(page.url()).searchParams.get('job')!;

    // Both copies written and read back, each shown with its bars and result.
    await expect.poll(() => page.getByRole('status', { name: '状态' }).textContent(), { timeout: 60_000 }).toContain('已完成，两份副本均校验通过');
    for (const n of [1, 2]) {
      const copy = page.getByRole('article', { name: `第 ${n} 份` });
      expect(await copy.getByRole('status').first().textContent()).toContain('已回读校验，完整');
      expect(await copy.getByRole('progressbar', { name: `第 ${n} 份写入进度` }).getAttribute('aria-valuenow')).toBe('100');
      expect(await copy.getByRole('progressbar', { name: `第 ${n} 份回读校验进度` }).getAttribute('aria-valuenow')).toBe('100');
      expect(await copy.getByText('副本完整：已回读校验通过').count()).toBe(1);
    }
    await check(page, 'exports-02-done');
    // A reload finds the job again.
    await page.reload();
    await expect.poll(() => page.getByRole('status', { name: '状态' }).textContent()).toContain('已完成');
    // The table of recent exports is its own request, which may answer after the job's.
    await expect.poll(() => page.getByRole('row').filter({ hasText: NUMBER }).count()).toBe(1);

    const view = (await (await page.request.get(`${s.url}/api/v1/exports/${exportId}`)).json()) as {
      job: { result: { copies: Array<{ dir: string; tagManifestSha256: string }> } };
      record: { checkpoint: { size: number; root: string } };
    };
    const created2 = ledger(s.home, 'export.created');
    expect(created2.map((e) => [e.subject, e.data.exportId, e.data.maker, e.data.ok])).toEqual([[caseId, exportId, '档案员 陈', true]]);

    // Each copy's disc label, printed to PDF at its own size, with Art. 12's fields.
    for (const n of [1, 2]) {
      await page.getByRole('link', { name: `打印第 ${n} 份光盘标签` }).click();
      await page.waitForURL((u) => u.pathname === `/exports/${exportId}/label/${n}`);
      await expect.poll(() => page.getByRole('region', { name: `第 ${n} 份光盘标签` }).count()).toBe(1);
      await check(page, `exports-03-label-${n}`);
      const pdf = await page.pdf({ path: join(ARTIFACTS, `exports-label-${n}.pdf`), preferCSSPageSize: true, printBackground: true });
      const { text, pages } = await pdfText(pdf);
      expect(pages).toEqual([{ w: 130, h: 130 }]);
      for (const want of [NAME, NUMBER, '制作单位', '350200', '制作人', '档案员陈', '制作时间', `第${n}份，共2份`, `${clips.length}份资料`, view.job.result.copies[n - 1]!.tagManifestSha256.slice(0, 16)]) {
        expect(text, `label ${n}`).toContain(flat(want));
      }
      expect(text).not.toContain('返回刻录归档');
      await page.goBack();
      await page.waitForURL((u) => u.pathname === '/exports');
      await expect.poll(() => page.getByRole('link', { name: '打印移交单' }).count()).toBe(1);
    }

    // The handover sheet, on A4.
    await page.getByRole('link', { name: '打印移交单' }).click();
    await page.waitForURL((u) => u.pathname === `/exports/${exportId}/handover`);
    await expect.poll(() => page.getByRole('article', { name: '归档光盘移交单' }).count()).toBe(1);
    await check(page, 'exports-04-handover');
    const sheet = await pdfText(await page.pdf({ path: join(ARTIFACTS, 'exports-handover.pdf'), preferCSSPageSize: true, printBackground: true }));
    expect(sheet.pages).toEqual([{ w: 210, h: 297 }]);
    for (const want of ['归档光盘移交单', NAME, NUMBER, '350200', '档案员陈', `${clips.length}份资料`, `账本前${view.record.checkpoint.size}条`, view.record.checkpoint.root, ...view.job.result.copies.map((c) => c.tagManifestSha256), '移交人', '接收人']) {
      expect(sheet.text, 'handover').toContain(flat(want));
    }

    // Copy 2, re-mounted: checked on the station and recorded against the export.
    await page.goto(`${s.url}/exports?job=${exportId}`);
    await page.getByLabel('副本目录（本站上的完整路径）').fill(view.job.result.copies[1]!.dir);
    await page.getByRole('button', { name: '校验并登记' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: '第 2 份复核完整，已登记。' }).count()).toBe(1);
    await expect.poll(() => page.getByRole('region', { name: '复核记录' }).getByRole('row').filter({ hasText: '控制台' }).count()).toBe(1);
    await check(page, 'exports-05-checked');
    expect(ledger(s.home, 'export.verified').map((e) => [e.subject, e.data.exportId, e.data.copy, e.data.ok, e.data.via])).toEqual([[caseId, exportId, 2, true, 'api']]);

    expect(errors).toEqual([]);
  }, 180_000);
});
