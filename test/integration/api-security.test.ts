import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { contentKey } from '../../src/vault/index.js';
import { apiRig, body, type ApiRig, type InjectResponse } from './api-fixtures.js';

const rigs: ApiRig[] = [];
async function rig(env: Record<string, string> = {}): Promise<ApiRig> {
  const r = await apiRig(env);
  rigs.push(r);
  return r;
}
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

/** An answer that leaks nothing: a 4xx with the error shape, no file content, no stack. */
function refusedCleanly(res: InjectResponse, what: string): void {
  expect(res.statusCode, `${what}: ${res.body}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${what}: ${res.body}`).toBeLessThan(500);
  expect(res.headers['content-type'], what).toMatch(/application\/json/);
  const b = body<{ error: { code: string; message: string } }>(res);
  expect(Object.keys(b), what).toEqual(['error']);
  expect(res.body, what).not.toMatch(/root:|\/etc\/passwd:|at .*\(.*:\d+:\d+\)|SQLITE|sqlite|SELECT|node_modules/);
}

/** Security tests named by issue 5: each is answered correctly and changes or leaks nothing. */
describe('API security (issue 5)', () => {
  it('refuses path traversal in every path parameter', async () => {
    const r = await rig();
    const ev = await r.seed();
    const admin = r.user('Admin', 'admin');
    const attacks = [
      '..',
      '.',
      '%2e%2e',
      '..%2F..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '..%5C..%5Cwindows%5Cwin.ini',
      '%252e%252e%252f',
      '....%2F%2F....%2F%2Fetc',
      'objects%2Fsha256%2F..%2F..%2Fcatalog.db',
      `${ev.id}%00.mp4`,
      `${ev.id}%2F..%2F..`,
      '%00',
      '%C0%AE%C0%AE%2F',
      'a'.repeat(150),
    ];
    const templates = [
      (x: string) => ({ method: 'GET', url: `/api/v1/evidence/${x}` }),
      (x: string) => ({ method: 'GET', url: `/api/v1/evidence/${x}/thumbnail` }),
      (x: string) => ({ method: 'GET', url: `/api/v1/evidence/${x}/content` }),
      (x: string) => ({ method: 'GET', url: `/api/v1/access-requests/${x}` }),
      (x: string) => ({ method: 'POST', url: `/api/v1/access-requests/${x}/approve` }),
      (x: string) => ({ method: 'POST', url: `/api/v1/access-requests/${x}/deny` }),
      (x: string) => ({ method: 'GET', url: `/api/v1/devices/${x}` }),
    ];
    const before = r.snapshot();
    for (const t of templates) {
      for (const a of attacks) {
        const req = t(a);
        const res = await r.call(admin.token, req);
        refusedCleanly(res, `${req.method} ${req.url}`);
        expect([400, 404, 414], `${req.method} ${req.url}`).toContain(res.statusCode);
      }
      // Literal dot segments are not normalised into another route.
      const lit = t('../../../../etc/passwd');
      refusedCleanly(await r.call(admin.token, lit), lit.url);
    }
    expect(r.snapshot()).toEqual(before);
  });

  it('refuses oversized bodies with 413 and creates nothing', async () => {
    const r = await rig();
    const ev = await r.seed();
    const op = r.user('Op', 'operator');
    const before = r.snapshot();
    const res = await r.call(op.token, {
      method: 'POST',
      url: '/api/v1/access-requests',
      payload: JSON.stringify({ evidenceIds: [ev.id], reason: 'x'.repeat(200_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(413);
    expect(body(res)).toEqual({ error: { code: 'BODY_TOO_LARGE', message: 'the request body is too large' } });
    // Within the byte limit but over the field limit: a 400.
    const long = await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 'x'.repeat(2001) } });
    expect(long.statusCode).toBe(400);
    const many = await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: Array.from({ length: 101 }, () => ev.id), reason: 'x' } });
    expect(body(many)).toMatchObject({ error: { code: 'BAD_REQUEST', message: 'body/evidenceIds must NOT have more than 100 items' } });
    expect(r.snapshot()).toEqual(before);
  });

  it('refuses malformed JSON, other content types and prototype pollution', async () => {
    const r = await rig();
    const ev = await r.seed();
    const op = r.user('Op', 'operator');
    const before = r.snapshot();
    const post = (payload: string, type = 'application/json') =>
      r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload, headers: { 'content-type': type } });
    const cases: [string, string, number, string][] = [
      ['{"evidenceIds": [', 'application/json', 400, 'the body is not valid JSON'],
      ["{'evidenceIds': []}", 'application/json', 400, 'the body is not valid JSON'],
      ['', 'application/json', 400, 'the body is empty; send a JSON object'],
      [`{"evidenceIds":["${ev.id}"],"reason":"x","__proto__":{"admin":true}}`, 'application/json', 400, 'the body is not valid JSON'],
      [`{"evidenceIds":["${ev.id}"],"reason":"x","constructor":{"prototype":{"admin":true}}}`, 'application/json', 400, 'the body is not valid JSON'],
      ['evidenceIds=1&reason=x', 'application/x-www-form-urlencoded', 415, 'send the body as application/json'],
      ['hello', 'text/plain', 415, 'send the body as application/json'],
      ['[1,2]', 'application/json', 400, 'body must be object'],
      ['null', 'application/json', 400, 'body must be object'],
    ];
    for (const [payload, type, status, message] of cases) {
      const res = await post(payload, type);
      expect(res.statusCode, payload).toBe(status);
      refusedCleanly(res, payload);
      expect(body<{ error: { message: string } }>(res).error.message, payload).toBe(message);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(r.snapshot()).toEqual(before);
  });

  it('refuses wrong types in bodies, queries and parameters with a clear 400', async () => {
    const r = await rig();
    const ev = await r.seed();
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const auditor = r.user('Auditor', 'auditor');
    const reqId = body<{ id: string }>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 'x' } })).id;
    const before = r.snapshot();
    const cases: [string, { method?: string; url: string; payload?: unknown }, string][] = [
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: ev.id, reason: 'x' } }, 'body/evidenceIds must be array'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [42], reason: 'x' } }, 'body/evidenceIds/0 must be string'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: ['not-a-uuid'], reason: 'x' } }, 'body/evidenceIds/0 must NOT have fewer than 36 characters'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 7 } }, 'body/reason must be string'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id] } }, 'body is missing "reason"'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 'x', caseId: 'C1' } }, 'body/caseId must NOT have fewer than 36 characters'],
      [op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [], reason: 'x' } }, 'body/evidenceIds must NOT have fewer than 1 items'],
      [sup.token, { method: 'POST', url: `/api/v1/access-requests/${reqId}/approve`, payload: { expiresAt: 1893456000 } }, 'body/expiresAt must be string'],
      [sup.token, { method: 'POST', url: `/api/v1/access-requests/${reqId}/approve`, payload: { expiresAt: 'tomorrow' } }, 'body/expiresAt must match format "date-time"'],
      [auditor.token, { method: 'POST', url: '/api/v1/ledger/verify', payload: { deep: 'yes' } }, 'body/deep must be boolean'],
      [op.token, { url: '/api/v1/evidence?limit=abc' }, 'querystring/limit must be integer'],
      [op.token, { url: '/api/v1/evidence?limit=0' }, 'querystring/limit must be >= 1'],
      [op.token, { url: '/api/v1/evidence?limit=100000' }, 'querystring/limit must be <= 500'],
      [op.token, { url: '/api/v1/evidence?limit=1.5' }, 'querystring/limit must be integer'],
      [op.token, { url: '/api/v1/evidence?type=movie' }, 'querystring/type must be one of "video", "audio", "photo"'],
      [op.token, { url: '/api/v1/evidence?from=yesterday' }, 'querystring/from must match format "date-time"'],
      [op.token, { url: '/api/v1/evidence?officer=a&officer=b' }, 'querystring/officer must be string'],
      [op.token, { url: '/api/v1/evidence?oficer=0417' }, 'querystring has an unknown property "oficer"'],
      [op.token, { url: '/api/v1/evidence?cursor=!!!' }, 'querystring/cursor is not in the expected form'],
      [auditor.token, { url: '/api/v1/ledger?after=-1' }, 'querystring/after must be >= 0'],
      [auditor.token, { url: '/api/v1/ledger?type=Evil%20Type' }, 'querystring/type is not in the expected form'],
      [op.token, { url: '/api/v1/evidence/12345' }, 'params/id must NOT have fewer than 36 characters'],
    ];
    for (const [token, req, message] of cases) {
      const res = await r.call(token, req);
      expect(res.statusCode, `${req.url} ${JSON.stringify(req.payload)}`).toBe(400);
      refusedCleanly(res, req.url);
      expect(body<{ error: { code: string; message: string } }>(res).error, req.url).toEqual({ code: expect.stringMatching(/^(BAD_REQUEST|INVALID_INPUT)$/), message });
    }
    expect(r.snapshot()).toEqual(before);
  });

  it('treats SQL metacharacters in filters as plain values', async () => {
    const r = await rig();
    await r.seed({ officer: "O'Brien", unit: 'U1' });
    await r.seed({ officer: '0417', unit: 'U1' });
    const admin = r.user('Admin', 'admin');
    const before = r.snapshot();
    const nasty = [
      "' OR '1'='1",
      "0417' --",
      "x'; DROP TABLE evidence; --",
      '" OR ""="',
      '%',
      '_',
      '*',
      '0417) OR (1=1',
      "'; ATTACH DATABASE '/tmp/x.db' AS x; --",
      '\\',
    ];
    for (const v of nasty) {
      for (const field of ['officer', 'unit', 'device']) {
        const res = await r.call(admin.token, { url: `/api/v1/evidence?${field}=${encodeURIComponent(v)}` });
        if (field === 'device' && /[/\\]/.test(v)) {
          // A serial never holds a slash or backslash: refused by pattern before any lookup.
          expect(res.statusCode, `${field}=${v}`).toBe(400);
          continue;
        }
        expect(res.statusCode, `${field}=${v}`).toBe(200);
        expect(body<{ items: unknown[] }>(res).items, `${field}=${v}`).toEqual([]);
      }
      const dev = await r.call(admin.token, { url: `/api/v1/devices?officer=${encodeURIComponent(v)}` });
      expect(body<{ items: unknown[] }>(dev).items).toEqual([]);
      const stats = await r.call(admin.token, { url: `/api/v1/stats?unit=${encodeURIComponent(v)}` });
      expect(body<{ units: unknown[] }>(stats).units).toEqual([]);
    }
    // The quote is just a character of a real officer number.
    const obrien = body<{ items: { officer: string }[] }>(await r.call(admin.token, { url: `/api/v1/evidence?officer=${encodeURIComponent("O'Brien")}` }));
    expect(obrien.items.map((i) => i.officer)).toEqual(["O'Brien"]);
    // A forged cursor carrying SQL is only ever a bound value.
    const forged = Buffer.from(JSON.stringify(['evidence:recorded', "9999' OR 1=1 --", "' OR 1=1 --"])).toString('base64url');
    const page = await r.call(admin.token, { url: `/api/v1/evidence?cursor=${forged}` });
    expect(page.statusCode).toBe(200);
    const notCursor = Buffer.from('{"a":1}').toString('base64url');
    expect((await r.call(admin.token, { url: `/api/v1/evidence?cursor=${notCursor}` })).statusCode).toBe(400);
    expect(r.snapshot()).toEqual(before);
    expect(r.catalog.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'evidence'").get()).toEqual({ n: 1 });
  });

  it('refuses expired, revoked, unknown and malformed tokens alike, records them outside the ledger', async () => {
    const r = await rig();
    await r.seed();
    const expiring = r.user('Temp', 'operator', null, new Date(r.clock.t + 3600_000));
    const revoked = r.user('Gone', 'operator');
    const good = r.user('Good', 'operator');
    expect((await r.call(expiring.token, { url: '/api/v1/me' })).statusCode).toBe(200);
    r.server.context.users.revoke(revoked.id, 'test');
    r.clock.advance(3600_000);
    const ledgerBefore = r.catalog.ledger.count();

    const unknown = 'cst_' + 'A'.repeat(43);
    const answers = {
      expired: await r.call(expiring.token, { url: '/api/v1/evidence' }),
      revoked: await r.call(revoked.token, { url: '/api/v1/evidence' }),
      unknown: await r.call(unknown, { url: '/api/v1/evidence' }),
      malformed: await r.call('not-a-token', { url: '/api/v1/evidence' }),
      missing: await r.call(null, { url: '/api/v1/evidence' }),
      basic: await r.call(null, { url: '/api/v1/evidence', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
    };
    for (const [k, res] of Object.entries(answers)) {
      expect(res.statusCode, k).toBe(401);
      expect(res.headers['www-authenticate'], k).toBe('Bearer realm="custody"');
      refusedCleanly(res, k);
    }
    // Revoked, unknown and malformed tokens cannot be told apart from outside.
    expect(body(answers.revoked)).toEqual(body(answers.unknown));
    expect(body(answers.malformed)).toEqual(body(answers.unknown));
    expect(body(answers.expired)).toEqual({ error: { code: 'AUTH_REQUIRED', message: 'the token has expired; ask an administrator for a new one' } });
    expect((await r.call(good.token, { url: '/api/v1/me' })).statusCode).toBe(200);

    // Recorded with the real reason, and with the user when known; never in the ledger.
    expect(r.catalog.ledger.count()).toBe(ledgerBefore);
    const rows = r.catalog.db.prepare('SELECT reason, user_id, method, url FROM auth_failures ORDER BY id').all();
    expect(rows).toEqual([
      { reason: 'expired', user_id: expiring.id, method: 'GET', url: '/api/v1/evidence' },
      { reason: 'revoked', user_id: revoked.id, method: 'GET', url: '/api/v1/evidence' },
      { reason: 'unknown', user_id: null, method: 'GET', url: '/api/v1/evidence' },
      { reason: 'malformed', user_id: null, method: 'GET', url: '/api/v1/evidence' },
      { reason: 'missing', user_id: null, method: 'GET', url: '/api/v1/evidence' },
      { reason: 'malformed', user_id: null, method: 'GET', url: '/api/v1/evidence' },
    ]);
    const auditor = r.user('Auditor', 'auditor');
    const listed = body<{ items: { reason: string }[] }>(await r.call(auditor.token, { url: '/api/v1/auth-failures?limit=2' }));
    expect(listed.items.map((i) => i.reason)).toEqual(['malformed', 'missing']);
    // The token is never stored, not even in the failure record.
    const dump = JSON.stringify(r.catalog.db.prepare('SELECT * FROM auth_failures').all()) + JSON.stringify(r.catalog.db.prepare('SELECT * FROM users').all());
    for (const t of [expiring.token, revoked.token, good.token, unknown]) expect(dump).not.toContain(t);
  });

  it('re-issuing a token retires the old one at once; a revoked user gets no new token', async () => {
    const r = await rig();
    const u = r.user('Rotating', 'operator');
    const users = r.server.context.users;
    const { token } = users.reissueToken(u.id, new Date(r.clock.t + 86_400_000), 'test');
    expect(token).not.toBe(u.token);
    expect((await r.call(u.token, { url: '/api/v1/me' })).statusCode).toBe(401);
    expect((await r.call(token, { url: '/api/v1/me' })).statusCode).toBe(200);
    expect(r.ledgerTypes().slice(-2)).toEqual(['user.created', 'user.token-issued']);
    users.revoke(u.id, 'test');
    expect(users.revoke(u.id, 'test').changed).toBe(false);
    expect(() => users.reissueToken(u.id, null, 'test')).toThrow(/revoked/);
    expect((await r.call(token, { url: '/api/v1/me' })).statusCode).toBe(401);
    expect(r.ledgerTypes().slice(-2)).toEqual(['user.token-issued', 'user.revoked']);
  });

  it('rate-limits failed sign-ins per address, then lets the address in again after the window', async () => {
    const r = await rig({ CUSTODY_API_AUTH_FAILURE_LIMIT: '3', CUSTODY_API_AUTH_FAILURE_WINDOW_SECONDS: '60' });
    const good = r.user('Good', 'operator');
    const bad = 'cst_' + 'B'.repeat(43);
    for (let i = 0; i < 4; i++) expect((await r.call(bad, { url: '/api/v1/me' })).statusCode).toBe(401);
    const limited = await r.call(bad, { url: '/api/v1/me' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(body(limited)).toMatchObject({ error: { code: 'AUTH_RATE_LIMITED' } });
    // While blocked, the address is refused without the token even being looked at.
    expect((await r.call(good.token, { url: '/api/v1/me' })).statusCode).toBe(429);
    // Other addresses are not affected.
    const elsewhere = await r.server.app.inject({ url: '/api/v1/me', remoteAddress: '127.0.0.2', headers: { authorization: `Bearer ${good.token}` } });
    expect(elsewhere.statusCode).toBe(200);
    r.clock.advance(30_000);
    expect((await r.call(good.token, { url: '/api/v1/me' })).headers['retry-after']).toBe('30');
    r.clock.advance(30_000);
    expect((await r.call(good.token, { url: '/api/v1/me' })).statusCode).toBe(200);
    const reasons = r.catalog.db.prepare('SELECT reason FROM auth_failures ORDER BY id').all() as { reason: string }[];
    expect(reasons.map((x) => x.reason)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'rate-limited']);
    expect((await r.call(null, { url: '/metrics' })).body).toMatch(/^custody_api_auth_failures_total\{reason="rate-limited"\} 4$/m);
  });

  it('refuses approval of one\'s own request, ledgers the attempt and leaves the request pending', async () => {
    const r = await rig();
    const ev = await r.seed();
    const sup = r.user('Sup', 'supervisor');
    const id = body<{ id: string }>(await r.call(sup.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 'mine' } })).id;
    const before = r.snapshot();
    for (const action of ['approve', 'deny']) {
      const res = await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/${action}` });
      expect(res.statusCode).toBe(403);
      expect(body(res)).toEqual({ error: { code: 'ACCESS_SELF_DECISION', message: 'an access request must be decided by someone other than its requester' } });
    }
    expect(r.snapshot()).toEqual({ ...before, ledger: before.ledger + 2 });
    const last = [...r.catalog.ledger.entries(before.ledger + 1)];
    expect(last.map((e) => [e.type, e.subject, e.data.code])).toEqual([
      ['access.denied', id, 'ACCESS_SELF_DECISION'],
      ['access.denied', id, 'ACCESS_SELF_DECISION'],
    ]);
    expect(body<{ status: string }>(await r.call(sup.token, { url: `/api/v1/access-requests/${id}` })).status).toBe('pending');
    expect((await r.call(sup.token, { url: `/api/v1/evidence/${ev.id}/content` })).statusCode).toBe(403);
  });

  it('refuses a grant used for another item or by another user', async () => {
    const r = await rig();
    const granted = await r.seed();
    const other = await r.seed();
    const op = r.user('Op', 'operator');
    const colleague = r.user('Colleague', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const id = body<{ id: string }>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [granted.id], reason: 'x' } })).id;
    await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` });
    expect((await r.call(op.token, { url: `/api/v1/evidence/${granted.id}/content` })).statusCode).toBe(200);
    const before = r.snapshot();
    const wrongItem = await r.call(op.token, { url: `/api/v1/evidence/${other.id}/content`, headers: { range: 'bytes=0-99' } });
    const wrongUser = await r.call(colleague.token, { url: `/api/v1/evidence/${granted.id}/content` });
    for (const res of [wrongItem, wrongUser]) {
      expect(res.statusCode).toBe(403);
      expect(body(res)).toMatchObject({ error: { code: 'ACCESS_GRANT_REQUIRED' } });
      expect(res.rawPayload.includes(other.content.subarray(0, 16))).toBe(false);
      expect(res.rawPayload.includes(granted.content.subarray(0, 16))).toBe(false);
    }
    const added = [...r.catalog.ledger.entries(before.ledger + 1)];
    expect(added.map((e) => [e.type, e.subject, e.actor])).toEqual([
      ['access.denied', other.id, `user:${op.id}`],
      ['access.denied', granted.id, `user:${colleague.id}`],
    ]);
  });

  it('answers a range past the end with 416 and registers no view', async () => {
    const r = await rig();
    const ev = await r.seed({ bytes: 500 });
    const empty = await r.seed({ bytes: Buffer.alloc(0) });
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const id = body<{ id: string }>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id, empty.id], reason: 'x' } })).id;
    await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` });
    const before = r.snapshot();
    for (const [target, range] of [
      [ev, 'bytes=500-'],
      [ev, 'bytes=9999-10000'],
      [ev, 'bytes=-0'],
      [empty, 'bytes=0-'],
    ] as const) {
      const res = await r.call(op.token, { url: `/api/v1/evidence/${target.id}/content`, headers: { range } });
      expect(res.statusCode, range).toBe(416);
      expect(res.headers['content-range'], range).toBe(`bytes */${target.content.length}`);
      expect(body(res)).toMatchObject({ error: { code: 'RANGE_NOT_SATISFIABLE' } });
    }
    expect(r.snapshot()).toEqual(before);
    // The end clipped to the object is fine; a malformed header is ignored (whole object).
    const clipped = await r.call(op.token, { url: `/api/v1/evidence/${ev.id}/content`, headers: { range: 'bytes=400-9999' } });
    expect([clipped.statusCode, clipped.headers['content-range'], clipped.rawPayload.length]).toEqual([206, 'bytes 400-499/500', 100]);
    const ignored = await r.call(op.token, { url: `/api/v1/evidence/${ev.id}/content`, headers: { range: 'bytes=abc' } });
    expect([ignored.statusCode, ignored.rawPayload.length]).toEqual([200, 500]);
    const zero = await r.call(op.token, { url: `/api/v1/evidence/${empty.id}/content` });
    expect([zero.statusCode, zero.rawPayload.length]).toEqual([200, 0]);
  });

  it('never shows internals in a 5xx, and registers no view for bytes it could not read', async () => {
    const r = await rig();
    const ev = await r.seed();
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const id = body<{ id: string }>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [ev.id], reason: 'x' } })).id;
    await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` });
    const before = r.snapshot();

    await rm(r.store.filePath(contentKey(ev.sha256)));
    const missing = await r.call(op.token, { url: `/api/v1/evidence/${ev.id}/content` });
    expect(missing.statusCode).toBe(500);
    const m = body<{ error: { code: string; message: string; requestId: string } }>(missing);
    expect(m.error).toEqual({ code: 'VAULT_OBJECT_MISSING', message: 'the stored object for this item cannot be found; the vault needs verification', requestId: missing.headers['x-request-id'] });
    expect(missing.body).not.toContain(r.home);

    const original = r.store.get.bind(r.store);
    r.store.get = () => Promise.reject(new Error(`EIO: i/o error, open '${r.home}/vault/objects/secret'`));
    const broken = await r.call(op.token, { url: `/api/v1/evidence/${ev.id}/content` });
    r.store.get = original;
    expect(broken.statusCode).toBe(500);
    expect(body<{ error: unknown }>(broken).error).toEqual({ code: 'INTERNAL', message: 'internal error', requestId: broken.headers['x-request-id'] });
    expect(broken.body).not.toMatch(/EIO|secret|vault/);
    expect(r.snapshot()).toEqual(before);
  });

  it('answers unknown routes and methods with 404, and a HEAD on footage is not a view', async () => {
    const r = await rig();
    const ev = await r.seed();
    const admin = r.user('Admin', 'admin');
    const before = r.snapshot();
    for (const [method, url] of [
      ['GET', '/api/v1/nothing'],
      ['GET', '/api/v2/evidence'],
      ['DELETE', `/api/v1/evidence/${ev.id}`],
      ['PUT', '/api/v1/access-requests'],
      ['GET', '/etc/passwd'],
    ] as const) {
      const res = await r.call(admin.token, { method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      refusedCleanly(res, url);
    }
    // An empty id is still an id that fails its pattern.
    const empty = await r.call(admin.token, { url: '/api/v1/evidence/' });
    expect(empty.statusCode).toBe(400);
    refusedCleanly(empty, 'empty id');
    const head = await r.call(admin.token, { method: 'HEAD', url: `/api/v1/evidence/${ev.id}/content` });
    expect(head.statusCode).toBe(404);
    expect(r.snapshot()).toEqual(before);
  });
});
