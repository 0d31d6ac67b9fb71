import { afterEach, describe, expect, it } from 'vitest';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

/**
 * Issue 19: users for administrators through the API — list, add with a one-time
 * password, revoke, and a user's sign-ins — each change ledgered; nobody else may.
 */

const ORIGIN = 'http://localhost:80';
let rig: ApiRig;
afterEach(async () => rig?.close());

interface UserOut {
  id: string;
  name: string;
  role: string;
  unit: string | null;
  revokedAt: string | null;
  hasPassword: boolean;
}

function entries(type: string, subject: string): Array<{ actor: string; data: Record<string, unknown> }> {
  return [...rig.catalog.ledger.entries()].filter((e) => e.type === type && e.subject === subject).map((e) => ({ actor: e.actor, data: e.data }));
}

async function signIn(username: string, password: string) {
  return rig.call(null, { method: 'POST', url: '/api/v1/session', payload: { username, password }, headers: { origin: ORIGIN, 'user-agent': 'Chromium test' } });
}

describe('users API (issue 19)', () => {
  it('an admin adds a user with role and unit and a one-time password the user signs in with; ledgered user.created and user.password-set', async () => {
    rig = await apiRig();
    const admin = rig.user('admin', 'admin');
    const res = await rig.call(admin.token, { method: 'POST', url: '/api/v1/users', payload: { name: '李四', role: 'supervisor', unit: '执法一科' } });
    expect(res.statusCode, res.body).toBe(201);
    const out = body<{ user: UserOut; password: string }>(res);
    expect(out.user).toMatchObject({ name: '李四', role: 'supervisor', unit: '执法一科', revokedAt: null, hasPassword: true });
    expect(res.headers.location).toBe(`/api/v1/users/${out.user.id}`);
    expect(out.password.length).toBeGreaterThanOrEqual(8);
    expect(res.body).not.toContain('cst_');

    expect(entries('user.created', out.user.id)).toEqual([{ actor: `user:${admin.id}`, data: { name: '李四', role: 'supervisor', unit: '执法一科', tokenExpiresAt: expect.any(String) } }]);
    const set = entries('user.password-set', out.user.id);
    expect(set).toEqual([{ actor: `user:${admin.id}`, data: { reset: true, sessionsEnded: 0 } }]);
    expect(JSON.stringify([...rig.catalog.ledger.entries()])).not.toContain(out.password);

    const signed = await signIn('李四', out.password);
    expect(signed.statusCode, signed.body).toBe(200);
    expect(body<{ user: { id: string; permissions: string[] } }>(signed).user).toMatchObject({ id: out.user.id });

    const list = body<{ items: UserOut[] }>(await rig.call(admin.token, { url: '/api/v1/users' }));
    expect(list.items.map((u) => u.name)).toEqual(['admin', '李四']);
    expect(JSON.stringify(list)).not.toMatch(/token_hash|password_hash|scrypt/);
  });

  it('refuses a bad new user with a clear error and adds nothing', async () => {
    rig = await apiRig();
    const admin = rig.user('admin', 'admin');
    rig.user('taken', 'operator');
    const before = rig.snapshot();
    const bad = [
      { name: 'x', role: 'chief' },
      { name: '', role: 'operator' },
      { name: 'x', role: 'operator', extra: 1 },
      { name: 'a\u202eb', role: 'operator' },
      { name: 'taken', role: 'operator' },
    ];
    for (const payload of bad) {
      const r = await rig.call(admin.token, { method: 'POST', url: '/api/v1/users', payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(body<{ error: { code: string } }>(r).error.code).toMatch(/^(BAD_REQUEST|INVALID_INPUT)$/);
    }
    expect(rig.snapshot()).toEqual(before);
  });

  it('revokes a user: their sessions end, the token stops working, ledgered; an admin cannot revoke themselves', async () => {
    rig = await apiRig();
    const admin = rig.user('admin', 'admin');
    const added = body<{ user: UserOut; password: string }>(await rig.call(admin.token, { method: 'POST', url: '/api/v1/users', payload: { name: 'op1', role: 'operator' } }));
    const cookie = (await signIn('op1', added.password)).cookies.find((c) => c.name === 'custody_session')!.value;
    expect((await rig.call(null, { url: '/api/v1/session', headers: { cookie: `custody_session=${cookie}` } })).statusCode).toBe(200);

    const r = await rig.call(admin.token, { method: 'POST', url: `/api/v1/users/${added.user.id}/revoke` });
    expect(r.statusCode, r.body).toBe(200);
    expect(body<{ user: UserOut; changed: boolean }>(r)).toMatchObject({ changed: true, user: { id: added.user.id, revokedAt: expect.any(String) } });
    expect(entries('user.revoked', added.user.id)).toEqual([{ actor: `user:${admin.id}`, data: { name: 'op1', role: 'operator', unit: null } }]);
    expect((await rig.call(null, { url: '/api/v1/session', headers: { cookie: `custody_session=${cookie}` } })).statusCode).toBe(401);
    expect((await signIn('op1', added.password)).statusCode).toBe(401);
    // Again: nothing changes, nothing more is ledgered.
    expect(body<{ changed: boolean }>(await rig.call(admin.token, { method: 'POST', url: `/api/v1/users/${added.user.id}/revoke` })).changed).toBe(false);
    expect(entries('user.revoked', added.user.id)).toHaveLength(1);
    // Listed only with all=true.
    expect(body<{ items: UserOut[] }>(await rig.call(admin.token, { url: '/api/v1/users' })).items.map((u) => u.name)).toEqual(['admin']);
    expect(body<{ items: UserOut[] }>(await rig.call(admin.token, { url: '/api/v1/users?all=true' })).items.map((u) => u.name)).toEqual(['admin', 'op1']);

    const self = await rig.call(admin.token, { method: 'POST', url: `/api/v1/users/${admin.id}/revoke` });
    expect(self.statusCode).toBe(409);
    expect(body<{ error: { code: string } }>(self).error.code).toBe('USER_SELF_REVOKE');
    expect(entries('user.revoked', admin.id)).toEqual([]);
    const missing = await rig.call(admin.token, { method: 'POST', url: '/api/v1/users/01900000-0000-7000-8000-000000000000/revoke' });
    expect(missing.statusCode).toBe(404);
  });

  it("lists a user's sign-ins, newest first, with each session's state", async () => {
    rig = await apiRig();
    const admin = rig.user('admin', 'admin');
    const added = body<{ user: UserOut; password: string }>(await rig.call(admin.token, { method: 'POST', url: '/api/v1/users', payload: { name: 'op2', role: 'operator', unit: 'U1' } }));
    const first = (await signIn('op2', added.password)).cookies.find((c) => c.name === 'custody_session')!.value;
    await rig.call(null, { method: 'DELETE', url: '/api/v1/session', headers: { cookie: `custody_session=${first}`, 'x-custody-csrf': '1', origin: ORIGIN } });
    rig.clock.advance(60_000);
    expect((await signIn('op2', added.password)).statusCode).toBe(200);

    const r = await rig.call(admin.token, { url: `/api/v1/users/${added.user.id}/sign-ins` });
    expect(r.statusCode, r.body).toBe(200);
    const items = body<{ items: Array<{ at: string; ip: string; userAgent: string | null; state: string; endReason: string | null }> }>(r).items;
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ state: 'open', ip: '127.0.0.1', userAgent: 'Chromium test', endReason: null });
    expect(items[1]).toMatchObject({ state: 'ended', endReason: 'signed-out' });
    expect(items[0]!.at > items[1]!.at).toBe(true);
    expect(r.body).not.toContain(first);
  });

  it('only an unscoped admin may manage users; others are refused and nothing changes', async () => {
    rig = await apiRig();
    const scopedAdmin = rig.user('unit-admin', 'admin', 'U1');
    const sup = rig.user('sup', 'supervisor');
    const target = rig.user('target', 'operator');
    const before = rig.snapshot();
    for (const who of [scopedAdmin, sup]) {
      for (const req of [
        { url: '/api/v1/users' },
        { method: 'POST', url: '/api/v1/users', payload: { name: 'x1', role: 'operator' } },
        { method: 'POST', url: `/api/v1/users/${target.id}/revoke` },
        { url: `/api/v1/users/${target.id}/sign-ins` },
      ]) {
        const r = await rig.call(who.token, req);
        expect(r.statusCode, `${req.url}`).toBe(403);
      }
    }
    expect(rig.snapshot().users).toBe(before.users);
    expect(rig.snapshot().ledger - before.ledger).toBeGreaterThanOrEqual(0);
    expect(entries('user.revoked', target.id)).toEqual([]);
  });
});
