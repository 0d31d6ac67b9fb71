/**
 * Issue 19: 用户 /users in Debian's chromium against the built daemon. An administrator
 * adds a user with a role and unit; the one-time password is shown once and the user
 * signs in with it in another browser; the administrator sees that sign-in, resets the
 * password (the user's session ends) and revokes the user. Each change is ledgered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserProblems, launch, signIn, station, type Station } from './harness.js';
import { check, watchErrors } from './checks.js';

const problems = browserProblems();
/** A condition the page reaches, given time: the station shares its cores with other work. */
const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number; interval?: number } = {}) => expect.poll(fn, { timeout: 20_000, ...opts });

const ADMIN = { name: 'xitong', role: 'admin', password: 'Xitong-2026-pw' };
const NEW = { name: '张三', unit: '350200' };

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

function userId(home: string, name: string): string {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db.prepare<[string], { id: string }>('SELECT id FROM users WHERE name = ? ORDER BY created_at DESC').get(name)!.id;
  } finally {
    db.close();
  }
}

/** Sign in through the API as the page does; the status only. */
async function signInStatus(s: Station, username: string, password: string): Promise<number> {
  const r = await fetch(`${s.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custody-csrf': '1', origin: s.url }, body: JSON.stringify({ username, password }) });
  return r.status;
}

if (problems.length === 0) describe('用户 /users in chromium (issue 19)', () => {
  let s: Station;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-users-'));
    s = await station(dir, [ADMIN]);
    browser = await launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('an admin adds a user who then signs in with the one-time password; sees the sign-in, resets the password and revokes the user', async () => {
    const admin = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    const errors = watchErrors(admin);
    await signIn(admin, s.url, ADMIN.name, ADMIN.password);
    await admin.getByRole('link', { name: '用户' }).click();
    await admin.waitForURL((u) => u.pathname === '/users');
    const list = admin.getByRole('region', { name: '用户列表' });
    await poll(() => list.getByRole('row').filter({ hasText: ADMIN.name }).count()).toBe(1);
    // Nobody revokes themselves here: not offered.
    expect(await list.getByRole('button', { name: `停用：${ADMIN.name}` }).count()).toBe(0);
    await check(admin, 'users-01-list');

    // A name and a role are needed.
    await admin.getByRole('button', { name: '新增用户' }).click();
    await poll(() => admin.getByText('请填写用户名').count()).toBe(1);
    expect(await admin.getByText('请选择角色').count()).toBe(1);
    await admin.getByLabel('用户名').fill(NEW.name);
    await admin.getByRole('radio', { name: '采集员' }).check({ force: true });
    await admin.getByLabel('所属科室').fill(NEW.unit);
    await admin.getByRole('button', { name: '新增用户' }).click();
    const shown = admin.getByRole('dialog', { name: '临时密码' });
    await poll(() => shown.count()).toBe(1);
    const password = (await admin.getByTestId('one-time-password').textContent())!.trim();
    expect(password.length).toBeGreaterThanOrEqual(8);
    expect(await shown.textContent()).toContain('该密码仅显示这一次');
    await check(admin, 'users-02-password-once');
    await shown.getByRole('button', { name: '已记下，关闭' }).click();
    await shown.waitFor({ state: 'hidden' });
    // Shown once: the page no longer holds it.
    expect(await admin.content()).not.toContain(password);
    const row = list.getByRole('row').filter({ hasText: NEW.name });
    await poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('采集员');
    expect(await row.textContent()).toContain(NEW.unit);

    const id = userId(s.home, NEW.name);
    const adminActor = `user:${userId(s.home, ADMIN.name)}`;
    expect(ledger(s.home, 'user.created', id)).toEqual([{ actor: adminActor, data: expect.objectContaining({ name: NEW.name, role: 'operator', unit: NEW.unit }) }]);
    expect(ledger(s.home, 'user.password-set', id)).toEqual([{ actor: adminActor, data: { reset: true, sessionsEnded: 0 } }]);

    // The new user signs in, in their own browser.
    const user = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    await signIn(user, s.url, NEW.name, password);
    // A password someone else set: the user sets their own before anything else.
    await user.waitForURL((u) => u.pathname === '/password');
    // The page loads on demand after the address changes: wait for its words.
    await user.getByText('您使用的是管理员设置的临时密码').waitFor();
    expect(await user.getByRole('link', { name: '采集看板' }).count()).toBe(0);
    await user.goto(`${s.url}/evidence`);
    await user.waitForURL((u) => u.pathname === '/password');
    await user.getByLabel('当前密码').waitFor();
    await check(user, 'users-02b-must-change');
    await user.getByLabel('当前密码').fill(password);
    await user.getByLabel('新密码', { exact: true }).fill('Zhang-own-pw-2026');
    await user.getByLabel('再次输入新密码').fill('Zhang-own-pw-2026');
    await user.getByRole('button', { name: '确认修改' }).click();
    await user.getByRole('status').filter({ hasText: '密码已修改' }).waitFor();
    await user.getByRole('button', { name: '继续' }).click();
    await user.waitForURL((u) => u.pathname === '/evidence');
    expect(ledger(s.home, 'user.password-set', id).map((e) => e.data)).toEqual([{ reset: true, sessionsEnded: 0 }, { reset: false, sessionsEnded: 0 }]);
    await user.goto(`${s.url}/docks`);
    await user.waitForURL((u) => u.pathname === '/docks');
    // The header's user line comes with the session's own request, after the page.
    await expect.poll(() => user.getByText(`${NEW.name} · 采集员 · ${NEW.unit}`).count()).toBe(1);
    // Not an admin: no 用户 page.
    expect(await user.getByRole('link', { name: '用户' }).count()).toBe(0);

    // The admin sees that sign-in.
    await list.getByRole('button', { name: `登录记录：${NEW.name}` }).click();
    const signIns = admin.getByRole('dialog', { name: `${NEW.name} 的登录记录` });
    await poll(() => signIns.getByRole('row').filter({ hasText: '仍在登录中' }).count()).toBe(1);
    expect(await signIns.textContent()).toContain('127.0.0.1');
    await check(admin, 'users-03-sign-ins');
    await signIns.getByRole('button', { name: '关闭此对话框' }).or(signIns.getByLabel('Close this dialog')).first().click();
    await signIns.waitFor({ state: 'hidden' });

    // A reset: a new one-time password; the user's session ends, the old password no longer works.
    await list.getByRole('button', { name: `重置密码：${NEW.name}` }).click();
    await admin.getByRole('dialog', { name: '重置密码' }).getByRole('button', { name: '确认重置' }).click();
    const fresh = async (): Promise<string> => ((await admin.getByTestId('one-time-password').textContent()) ?? '').trim();
    await poll(async () => { const p = await fresh(); return p.length >= 8 && p !== password; }).toBe(true);
    const second = await fresh();
    await admin.getByRole('dialog', { name: '临时密码' }).getByRole('button', { name: '已记下，关闭' }).click();
    expect(ledger(s.home, 'user.password-set', id).map((e) => e.data)).toEqual([{ reset: true, sessionsEnded: 0 }, { reset: false, sessionsEnded: 0 }, { reset: true, sessionsEnded: 1 }]);
    await user.goto(`${s.url}/evidence`);
    await user.waitForURL((u) => u.pathname === '/login');
    expect(await signInStatus(s, NEW.name, password)).toBe(401);

    // Revoked: gone from the list, and the new password does not work either.
    await list.getByRole('button', { name: `停用：${NEW.name}` }).click();
    await admin.getByRole('dialog', { name: '停用用户' }).getByRole('button', { name: '确认停用' }).click();
    await poll(() => row.count()).toBe(0);
    expect(ledger(s.home, 'user.revoked', id)).toEqual([{ actor: adminActor, data: { name: NEW.name, role: 'operator', unit: NEW.unit } }]);
    expect(await signInStatus(s, NEW.name, second)).toBe(401);
    await admin.getByText('显示已停用的用户').click();
    await poll(() => list.getByRole('row').filter({ hasText: NEW.name }).textContent()).toContain('停用');
    await check(admin, 'users-04-revoked');
    expect(errors).toEqual([]);
  }, 180_000);
});

if (problems.length > 0 && process.env.CI) {
  describe('用户 /users in chromium (issue 19)', () => {
    it('can run here (CI installs chromium and fonts-noto-cjk, and builds first)', () => {
      throw new Error(`the browser tests cannot run:\n  - ${problems.join('\n  - ')}`);
    });
  });
} else if (problems.length > 0) {
  console.warn(`[users] browser tests not run: ${problems.join('; ')}. (With CI set this is a failure.)`);
}
