import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/access/index.js';
import { createApiServer } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { apiRig, body, type ApiRig, type InjectResponse } from './api-fixtures.js';

/**
 * The console's sign-in (issue 15): passwords, the session cookie, its expiry, the
 * CSRF defence, and that a session is a caller like a token in every other respect.
 */

const ORIGIN = 'http://localhost:80';
let rig: ApiRig;
afterEach(async () => rig?.close());

async function withPassword(name: string, role: string, password: string, unit: string | null = null): Promise<{ id: string; token: string }> {
  const u = rig.user(name, role, unit);
  rig.server.context.users.setPassword(u.id, await hashPassword(password), 'test', { reset: false });
  return u;
}

function signIn(username: string, password: string, headers: Record<string, string> = {}): Promise<InjectResponse> {
  return rig.call(null, { method: 'POST', url: '/api/v1/session', payload: { username, password }, headers: { origin: ORIGIN, ...headers } });
}

function cookieOf(res: InjectResponse): string {
  const c = res.cookies.find((x) => x.name === 'custody_session');
  if (!c) throw new Error(`no session cookie (status ${res.statusCode}: ${res.body})`);
  return c.value;
}

/** A request as the console makes it: the cookie, and for a change the CSRF header and the page's origin. */
function asConsole(cookie: string, opts: { method?: string; url: string; payload?: unknown; headers?: Record<string, string> }): Promise<InjectResponse> {
  const method = opts.method ?? 'GET';
  const change = method !== 'GET' && method !== 'HEAD';
  return rig.call(null, {
    ...opts,
    method,
    headers: { cookie: `custody_session=${cookie}`, ...(change ? { 'x-custody-csrf': '1', origin: ORIGIN } : {}), ...opts.headers },
  });
}

describe('console sign-in (issue 15)', () => {
  it('signs in with a name and password: an httpOnly SameSite=Strict cookie, the user and permissions, a ledgered sign-in', async () => {
    rig = await apiRig();
    const sup = await withPassword('王科长', 'supervisor', 'correct horse 42', 'U1');
    const res = await signIn('王科长', 'correct horse 42', { 'user-agent': 'Chromium test' });
    expect(res.statusCode).toBe(200);
    const c = res.cookies.find((x) => x.name === 'custody_session')!;
    expect(c).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(c.secure).toBeFalsy();
    expect(c.value).toMatch(/^css_[A-Za-z0-9_-]{43}$/);
    const b = body<{ user: { id: string; name: string; role: string; unit: string; permissions: string[] }; idleExpiresAt: string; expiresAt: string }>(res);
    expect(b.user).toMatchObject({ id: sup.id, name: '王科长', role: 'supervisor', unit: 'U1' });
    expect(b.user.permissions).toContain('access.decide');
    expect(Date.parse(b.idleExpiresAt) - rig.clock.t).toBe(30 * 60_000);
    expect(Date.parse(b.expiresAt) - rig.clock.t).toBe(12 * 3_600_000);
    // The catalog keeps only the hash of the secret.
    const rows = rig.catalog.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id_hash).not.toContain(c.value);
    expect(JSON.stringify(rig.catalog.db.prepare('SELECT * FROM sessions').all())).not.toContain(c.value.slice(4));
    const entry = [...rig.catalog.ledger.entries()].find((e) => e.type === 'session.signed-in')!;
    expect(entry).toMatchObject({ actor: `user:${sup.id}`, subject: sup.id });
    expect(entry.data).toMatchObject({ ip: '127.0.0.1', userAgent: 'Chromium test' });
    expect(JSON.stringify(entry)).not.toContain(c.value);

    const me = await asConsole(c.value, { url: '/api/v1/session' });
    expect(me.statusCode).toBe(200);
    expect(body<{ user: { id: string } }>(me).user.id).toBe(sup.id);
  });

  it('a wrong password, an unknown name and a user without a password get one and the same answer, recorded as refused sign-ins', async () => {
    rig = await apiRig();
    await withPassword('alice', 'operator', 'alice-secret-1');
    rig.user('bob', 'operator');
    const answers = [await signIn('alice', 'wrong-password'), await signIn('nobody', 'whatever-1'), await signIn('bob', 'whatever-1')];
    for (const r of answers) {
      expect(r.statusCode).toBe(401);
      expect(body(r)).toEqual({ error: { code: 'SIGN_IN_FAILED', message: 'the user name or password is wrong' } });
      expect(r.cookies).toHaveLength(0);
    }
    const failures = rig.server.context.audit.authFailures(null, 10);
    expect(failures.map((f) => f.reason)).toEqual(['bad-password', 'bad-password', 'bad-password']);
    expect(JSON.stringify(failures)).not.toContain('wrong-password');
    expect(rig.ledgerTypes()).not.toContain('session.signed-in');
  });

  it('failed sign-ins are rate-limited per address like bad tokens, and a right password does not get through while blocked', async () => {
    rig = await apiRig({ CUSTODY_API_AUTH_FAILURE_LIMIT: '3' });
    await withPassword('alice', 'operator', 'alice-secret-1');
    for (let i = 0; i < 4; i++) expect((await signIn('alice', `guess-${i}-xx`)).statusCode).toBe(401);
    const blocked = await signIn('alice', 'alice-secret-1');
    expect(blocked.statusCode).toBe(429);
    expect(body<{ error: { code: string } }>(blocked).error.code).toBe('AUTH_RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    rig.clock.advance(61_000);
    expect((await signIn('alice', 'alice-secret-1')).statusCode).toBe(200);
  });

  it('a change from a session needs the CSRF header and the station origin; a bearer token needs neither', async () => {
    rig = await apiRig();
    const op = await withPassword('alice', 'operator', 'alice-secret-1', 'U1');
    const ev = await rig.seed({ unit: 'U1' });
    const cookie = cookieOf(await signIn('alice', 'alice-secret-1'));
    const ask = { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: '复核案件' } };
    const attempts: Record<string, string>[] = [
      { 'x-custody-csrf': '', origin: ORIGIN }, // no header
      { 'x-custody-csrf': '1', origin: 'http://evil.example' }, // another origin
      { 'x-custody-csrf': '1', origin: ORIGIN, 'sec-fetch-site': 'cross-site' }, // the browser says another site
      { 'x-custody-csrf': '1', origin: '' }, // no origin
    ];
    const before = rig.snapshot().access_requests;
    for (const h of attempts) {
      const headers = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== ''));
      const res = await rig.call(null, { ...ask, headers: { cookie: `custody_session=${cookie}`, ...headers } });
      expect(res.statusCode, JSON.stringify(h)).toBe(403);
      expect(body<{ error: { code: string } }>(res).error.code).toBe('CSRF_REFUSED');
    }
    expect(rig.snapshot().access_requests).toBe(before);
    // Refusals of an identified user are ledgered (coalesced).
    rig.server.context.denials.flush(true);
    expect(rig.ledgerTypes()).toContain('access.denied');

    expect((await asConsole(cookie, ask)).statusCode).toBe(201);
    expect((await rig.call(op.token, ask)).statusCode).toBe(201);
  });

  it('a session ends after the idle time, after the absolute limit, and at sign-out; an ended cookie is refused', async () => {
    rig = await apiRig();
    await withPassword('alice', 'operator', 'alice-secret-1');
    const idle = cookieOf(await signIn('alice', 'alice-secret-1'));
    rig.clock.advance(29 * 60_000);
    expect((await asConsole(idle, { url: '/api/v1/session' })).statusCode).toBe(200); // activity moves the idle expiry on
    rig.clock.advance(29 * 60_000);
    expect((await asConsole(idle, { url: '/api/v1/session' })).statusCode).toBe(200);
    rig.clock.advance(31 * 60_000);
    const gone = await asConsole(idle, { url: '/api/v1/session' });
    expect(gone.statusCode).toBe(401);
    expect(body<{ error: { code: string } }>(gone).error.code).toBe('AUTH_REQUIRED');

    // Busy all day: every 25 minutes a request, so never idle; it still ends 12 hours after sign-in.
    const busy = cookieOf(await signIn('alice', 'alice-secret-1'));
    for (let i = 1; i <= 28; i++) {
      rig.clock.advance(25 * 60_000);
      expect((await asConsole(busy, { url: '/api/v1/session' })).statusCode, `after ${i * 25} min`).toBe(200);
    }
    rig.clock.advance(25 * 60_000);
    expect((await asConsole(busy, { url: '/api/v1/session' })).statusCode).toBe(401);

    const out = cookieOf(await signIn('alice', 'alice-secret-1'));
    const bye = await asConsole(out, { method: 'DELETE', url: '/api/v1/session' });
    expect(bye.statusCode).toBe(204);
    expect(bye.cookies.find((c) => c.name === 'custody_session')?.value).toBe('');
    expect((await asConsole(out, { url: '/api/v1/session' })).statusCode).toBe(401);
    expect(rig.ledgerTypes().filter((t) => t.startsWith('session.'))).toEqual(['session.signed-in', 'session.signed-in', 'session.signed-in', 'session.signed-out']);
  });

  it("changing one's password needs the current one and ends the other sessions; an admin's reset ends them all", async () => {
    rig = await apiRig();
    const alice = await withPassword('alice', 'operator', 'alice-secret-1');
    const admin = rig.user('root-admin', 'admin');
    const here = cookieOf(await signIn('alice', 'alice-secret-1'));
    const other = cookieOf(await signIn('alice', 'alice-secret-1'));
    const change = (current: string, next: string) =>
      asConsole(here, { method: 'POST', url: '/api/v1/session/password', payload: { currentPassword: current, newPassword: next } });
    const wrong = await change('not-it-at-all', 'alice-secret-2');
    expect(wrong.statusCode).toBe(400);
    expect(rig.server.context.audit.authFailures(null, 1)[0]!.reason).toBe('bad-password');
    const weak = await change('alice-secret-1', 'short');
    expect(weak.statusCode).toBe(400);
    expect(body<{ error: { message: string } }>(weak).error.message).toMatch(/at least 8 characters/);
    expect((await change('alice-secret-1', 'alice-secret-2')).statusCode).toBe(204);
    expect((await asConsole(here, { url: '/api/v1/session' })).statusCode).toBe(200);
    expect((await asConsole(other, { url: '/api/v1/session' })).statusCode).toBe(401);
    expect((await signIn('alice', 'alice-secret-1')).statusCode).toBe(401);
    expect((await signIn('alice', 'alice-secret-2')).statusCode).toBe(200);

    // The reset: an administrator's token; the new password is in the answer only.
    const reset = await rig.call(admin.token, { method: 'POST', url: `/api/v1/users/${alice.id}/password-reset` });
    expect(reset.statusCode).toBe(200);
    const { password } = body<{ password: string }>(reset);
    expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
    expect((await asConsole(here, { url: '/api/v1/session' })).statusCode).toBe(401);
    expect((await signIn('alice', password)).statusCode).toBe(200);
    const entries = [...rig.catalog.ledger.entries()].filter((e) => e.type === 'user.password-set');
    expect(entries.map((e) => e.data)).toEqual([
      { reset: false, sessionsEnded: 0 }, // the test's own first password
      { reset: false, sessionsEnded: 1 },
      { reset: true, sessionsEnded: 2 },
    ]);
    expect(JSON.stringify([...rig.catalog.ledger.entries()])).not.toContain(password);
    // Only an unscoped administrator resets; an operator is refused.
    expect((await rig.call(rig.user('op2', 'operator').token, { method: 'POST', url: `/api/v1/users/${alice.id}/password-reset` })).statusCode).toBe(403);
    const open = await rig.call(admin.token, { url: '/api/v1/sessions' });
    expect(open.statusCode, open.body).toBe(200);
    expect(body<{ sessions: { userName: string }[] }>(open).sessions.map((s) => s.userName)).toEqual(['alice']);
  });

  it('a password someone else set must be changed first: until then the session may only see who it is, change it or sign out', async () => {
    rig = await apiRig();
    const alice = await withPassword('alice', 'operator', 'alice-secret-1');
    const admin = rig.user('root-admin', 'admin');
    // Her own password: nothing asked.
    const own = await signIn('alice', 'alice-secret-1');
    expect(body<{ mustChangePassword: boolean }>(own).mustChangePassword).toBe(false);
    expect((await asConsole(cookieOf(own), { url: '/api/v1/evidence' })).statusCode).toBe(200);

    const { password } = body<{ password: string }>(await rig.call(admin.token, { method: 'POST', url: `/api/v1/users/${alice.id}/password-reset` }));
    const given = await signIn('alice', password);
    expect(given.statusCode).toBe(200);
    expect(body<{ mustChangePassword: boolean }>(given).mustChangePassword).toBe(true);
    const c = cookieOf(given);
    expect(body<{ mustChangePassword: boolean }>(await asConsole(c, { url: '/api/v1/session' })).mustChangePassword).toBe(true);
    for (const req of [{ url: '/api/v1/evidence' }, { url: '/api/v1/flags' }, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: ['x'], reason: 'r', hours: 1 } }]) {
      const res = await asConsole(c, req);
      expect(res.statusCode, req.url).toBe(403);
      expect(body<{ error: { code: string } }>(res).error.code, req.url).toBe('PASSWORD_CHANGE_REQUIRED');
    }
    // Not to the same password; then to her own, and the session is a whole one.
    const same = await asConsole(c, { method: 'POST', url: '/api/v1/session/password', payload: { currentPassword: password, newPassword: password } });
    expect(same.statusCode).toBe(400);
    expect(body<{ error: { message: string } }>(same).error.message).toMatch(/differ/);
    expect((await asConsole(c, { method: 'POST', url: '/api/v1/session/password', payload: { currentPassword: password, newPassword: 'alice-secret-3' } })).statusCode).toBe(204);
    expect(body<{ mustChangePassword: boolean }>(await asConsole(c, { url: '/api/v1/session' })).mustChangePassword).toBe(false);
    expect((await asConsole(c, { url: '/api/v1/evidence' })).statusCode).toBe(200);
    expect(rig.server.context.users.get(alice.id)!.passwordMustChange).toBe(false);
    // A new user added with a one-time password is asked too; a bearer token never is.
    const added = body<{ user: { id: string }; password: string }>(
      await rig.call(admin.token, { method: 'POST', url: '/api/v1/users', payload: { name: '新来的', role: 'operator', unit: 'U1' } }),
    );
    expect(body<{ mustChangePassword: boolean }>(await signIn('新来的', added.password)).mustChangePassword).toBe(true);
    expect((await rig.call(admin.token, { url: '/api/v1/evidence' })).statusCode).toBe(200);
    // Signing out is allowed before the change.
    const again = cookieOf(await signIn('新来的', added.password));
    expect((await asConsole(again, { method: 'DELETE', url: '/api/v1/session' })).statusCode).toBe(204);
  });

  it('a revoked user’s session stops at once', async () => {
    rig = await apiRig();
    const alice = await withPassword('alice', 'operator', 'alice-secret-1');
    const cookie = cookieOf(await signIn('alice', 'alice-secret-1'));
    rig.server.context.users.revoke(alice.id, 'test');
    expect((await asConsole(cookie, { url: '/api/v1/session' })).statusCode).toBe(401);
    expect((await signIn('alice', 'alice-secret-1')).statusCode).toBe(401);
  });

  it('a session is scoped like a token: another unit’s item is missing, footage needs a grant', async () => {
    rig = await apiRig();
    await withPassword('alice', 'operator', 'alice-secret-1', 'U1');
    const mine = await rig.seed({ unit: 'U1' });
    const theirs = await rig.seed({ unit: 'U2' });
    const cookie = cookieOf(await signIn('alice', 'alice-secret-1'));
    expect((await asConsole(cookie, { url: `/api/v1/evidence/${mine.id}` })).statusCode).toBe(200);
    const hidden = await asConsole(cookie, { url: `/api/v1/evidence/${theirs.id}` });
    expect(hidden.statusCode).toBe(404);
    const content = await asConsole(cookie, { url: `/api/v1/evidence/${mine.id}/content` });
    expect(content.statusCode).toBe(403);
    expect(body<{ error: { code: string } }>(content).error.code).toBe('ACCESS_GRANT_REQUIRED');
  });

  it('a bearer token wins over a cookie, and a forged cookie is refused and recorded', async () => {
    rig = await apiRig();
    const op = await withPassword('alice', 'operator', 'alice-secret-1');
    const forged = await rig.call(null, { url: '/api/v1/session', headers: { cookie: 'custody_session=css_' + 'A'.repeat(43) } });
    expect(forged.statusCode).toBe(401);
    expect(rig.server.context.audit.authFailures(null, 1)[0]!.reason).toBe('unknown');
    const both = await rig.call(op.token, { url: '/api/v1/session', headers: { cookie: 'custody_session=garbage' } });
    expect(both.statusCode).toBe(200);
  });

  it("tells the console the station's preview policy, so a list shows a video's frame without a grant only where the station allows it", async () => {
    rig = await apiRig();
    await withPassword('alice', 'operator', 'alice-secret-1');
    expect(body<{ previews: string }>(await signIn('alice', 'alice-secret-1')).previews).toBe('none');
    await rig.close();
    rig = await apiRig({ CUSTODY_API_PREVIEWS: 'video-frames' });
    await withPassword('alice', 'operator', 'alice-secret-1');
    const cookie = cookieOf(await signIn('alice', 'alice-secret-1'));
    expect(body<{ previews: string }>(await asConsole(cookie, { url: '/api/v1/session' })).previews).toBe('video-frames');
  });

  it('user names are unique among active users (a name is what a person signs in with)', async () => {
    rig = await apiRig();
    rig.user('alice', 'operator');
    expect(() => rig.user('alice', 'auditor')).toThrow(/already named "alice"/);
  });
});

describe('the console is served at / (issue 15)', () => {
  it('serves the built app with its security headers, answers page addresses with it, and keeps API 404s as JSON', async () => {
    rig = await apiRig();
    const dir = join(rig.dir, 'console');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><html lang="zh-CN"><title>执法记录仪数据管理</title><script type="module" src="/assets/index-AbCdEf12.js"></script></html>');
    writeFileSync(join(dir, 'assets', 'index-AbCdEf12.js'), 'console.log(1)');
    writeFileSync(join(dir, '.env'), 'SECRET=1');
    const config = loadConfig({ home: rig.home, env: { CUSTODY_API_PORT: '0' } });
    const server = createApiServer({ config, catalog: rig.catalog, store: rig.store, log: silentLogger, activity: rig.activity, services: rig.server.context, consoleDir: dir });
    try {
      const html = { accept: 'text/html,application/xhtml+xml' };
      const root = await server.app.inject({ url: '/', headers: html });
      expect(root.statusCode).toBe(200);
      expect(root.headers['content-type']).toMatch(/text\/html/);
      expect(root.body).toContain('执法记录仪数据管理');
      expect(root.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(root.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(root.headers['cache-control']).toBe('no-cache');
      for (const page of ['/login', '/docks', '/evidence', '/evidence/0190c2f6-0000-7000-8000-000000000001', '/requests']) {
        const r = await server.app.inject({ url: page, headers: html });
        expect(r.statusCode, page).toBe(200);
        expect(r.body, page).toContain('执法记录仪数据管理');
        expect(r.headers['x-frame-options']).toBe('DENY');
      }
      const asset = await server.app.inject({ url: '/assets/index-AbCdEf12.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toMatch(/immutable/);
      expect((await server.app.inject({ url: '/.env', headers: html })).body).not.toContain('SECRET');
      const api = await server.app.inject({ url: '/api/v1/nothing-here', headers: html });
      expect(api.statusCode).toBe(404);
      expect(body<{ error: { code: string } }>(api).error.code).toBe('NOT_FOUND');
      const script = await server.app.inject({ url: '/no-such-file.js', headers: { accept: '*/*' } });
      expect(script.statusCode).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it('without a built console, / is a plain 404 and the API works', async () => {
    rig = await apiRig();
    const config = loadConfig({ home: rig.home, env: { CUSTODY_API_PORT: '0' } });
    const server = createApiServer({ config, catalog: rig.catalog, store: rig.store, log: silentLogger, activity: rig.activity, services: rig.server.context, consoleDir: join(rig.dir, 'none') });
    try {
      expect((await server.app.inject({ url: '/', headers: { accept: 'text/html' } })).statusCode).toBe(404);
      expect((await server.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
