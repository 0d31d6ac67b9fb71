import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/ledger/index.js';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

interface AccessRequestBody {
  id: string;
  status: string;
  requester: { id: string; name: string };
  decidedBy: { id: string; name: string } | null;
  expiresAt: string | null;
  expiredAt: string | null;
  evidenceIds: string[];
}

const rigs: ApiRig[] = [];
async function rig(env: Record<string, string> = {}): Promise<ApiRig> {
  const r = await apiRig(env);
  rigs.push(r);
  return r;
}
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const HOUR = 3600_000;

function entriesSince(r: ApiRig, seq: number): LedgerEntry[] {
  return [...r.catalog.ledger.entries(seq + 1)];
}

/** Art. 13: retrieval needs the supervising leader's consent and a registration record. */
describe('access requests, grants and registered viewing (issue 5)', () => {
  it('requests, approves, then streams footage whole and by range, each answer ledgered as access.viewed', async () => {
    const r = await rig();
    const a = await r.seed({ bytes: 10_000, unit: 'U1' });
    const b = await r.seed({ bytes: 3000, unit: 'U1', name: 'REC.WAV', type: 'audio' });
    const op = r.user('Operator Wang', 'operator', 'U1');
    const sup = r.user('Supervisor Li', 'supervisor', 'U1');

    // Without a grant: 403 saying a request is needed, and the refusal is ledgered.
    const refused = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` });
    expect(refused.statusCode).toBe(403);
    expect(body(refused)).toMatchObject({ error: { code: 'ACCESS_GRANT_REQUIRED', message: expect.stringMatching(/needs an approved access request/) } });

    const mark = r.catalog.ledger.count();
    const created = await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id, b.id, a.id], reason: 'complaint 2026-117: the subject disputes the stop' } });
    expect(created.statusCode).toBe(201);
    const req = body<AccessRequestBody>(created);
    expect(created.headers.location).toBe(`/api/v1/access-requests/${req.id}`);
    expect(req).toMatchObject({ status: 'pending', requester: { id: op.id, name: 'Operator Wang' }, decidedBy: null, expiresAt: null });
    expect(req.evidenceIds.sort()).toEqual([a.id, b.id].sort());

    // Still no viewing while pending. (A minute later, so this refusal is not a repeat
    // of the first one, which would be coalesced into one entry with its count.)
    r.clock.advance(61_000);
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(403);

    const toDecide = body<{ items: AccessRequestBody[] }>(await r.call(sup.token, { url: '/api/v1/access-requests?view=to-decide' }));
    expect(toDecide.items.map((i) => i.id)).toEqual([req.id]);
    // The requester does not see their own request among those to decide (and may not decide at all).
    expect((await r.call(op.token, { url: '/api/v1/access-requests?view=to-decide' })).statusCode).toBe(403);

    const approved = await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${req.id}/approve`, payload: { note: 'approved for the review board' } });
    expect(approved.statusCode).toBe(200);
    expect(body(approved)).toMatchObject({
      status: 'approved',
      decidedBy: { id: sup.id, name: 'Supervisor Li' },
      expiresAt: new Date(r.clock.t + 24 * HOUR).toISOString(),
      decisionNote: 'approved for the review board',
    });

    const whole = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` });
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.equals(a.content)).toBe(true);
    expect(whole.headers).toMatchObject({ 'content-type': 'video/mp4', 'content-length': '10000', 'accept-ranges': 'bytes', etag: `"${a.sha256}"`, 'cache-control': 'private, no-store' });
    expect(whole.headers['content-disposition']).toBe(`inline; filename="${a.id}.mp4"`);

    const part = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content`, headers: { range: 'bytes=1000-1999' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 1000-1999/10000');
    expect(part.rawPayload.equals(a.content.subarray(1000, 2000))).toBe(true);
    const tail = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content`, headers: { range: 'bytes=-500' } });
    expect(tail.statusCode).toBe(206);
    expect(tail.rawPayload.equals(a.content.subarray(9500))).toBe(true);
    // If-Range with another validator: the whole object, as the RFC asks.
    const stale = await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content`, headers: { range: 'bytes=0-9', 'if-range': '"something-else"' } });
    expect(stale.statusCode).toBe(200);
    expect(stale.rawPayload.length).toBe(10_000);
    const audio = await r.call(op.token, { url: `/api/v1/evidence/${b.id}/content` });
    expect(audio.headers['content-type']).toBe('audio/wav');

    // The detail shows the caller's grant.
    expect(body(await r.call(op.token, { url: `/api/v1/evidence/${a.id}` }))).toMatchObject({ grant: { requestId: req.id, expiresAt: expect.any(String) }, accessEntries: expect.any(Number) });

    const log = entriesSince(r, mark);
    expect(log.map((e) => e.type)).toEqual([
      'access.request.created',
      'access.denied', // content while pending
      'access.denied', // the operator asking for requests to decide
      'access.request.approved',
      'access.viewed',
      'access.viewed',
      'access.viewed',
      'access.viewed',
      'access.viewed',
    ]);
    expect(log[0]).toMatchObject({ actor: `user:${op.id}`, subject: req.id, data: { requester: op.id, reason: 'complaint 2026-117: the subject disputes the stop' } });
    expect(log[1]!.data).toMatchObject({ code: 'ACCESS_GRANT_REQUIRED', route: '/api/v1/evidence/:id/content' });
    expect(log[2]!.data).toMatchObject({ code: 'FORBIDDEN', route: '/api/v1/access-requests' });
    expect(log[3]).toMatchObject({ actor: `user:${sup.id}`, subject: req.id, data: { requester: op.id, expiresAt: expect.any(String), note: 'approved for the review board' } });
    const views = log.filter((e) => e.type === 'access.viewed');
    expect(views.map((v) => [v.subject, v.data.range, v.data.bytes])).toEqual([
      [a.id, null, 10_000],
      [a.id, { start: 1000, end: 1999 }, 1000],
      [a.id, { start: 9500, end: 9999 }, 500],
      [a.id, null, 10_000],
      [b.id, null, 3000],
    ]);
    expect(views[0]).toMatchObject({ actor: `user:${op.id}`, data: { sha256: a.sha256, size: 10_000, grant: req.id, ip: '127.0.0.1' } });
    const metrics = (await r.call(null, { url: '/metrics' })).body;
    expect(metrics).toMatch(/^custody_access_views_total 5$/m);
    expect(metrics).toMatch(/^custody_access_view_bytes_total 24500$/m);
  });

  it('ends a grant at its expiry; the sweep records the expiry in the ledger', async () => {
    const r = await rig();
    const a = await r.seed();
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const req = body<AccessRequestBody>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id], reason: 'review' } }));
    const expiresAt = new Date(r.clock.t + 2 * HOUR).toISOString();
    const approved = body<AccessRequestBody>(await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${req.id}/approve`, payload: { expiresAt } }));
    expect(approved.expiresAt).toBe(expiresAt);
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(200);

    r.clock.advance(2 * HOUR); // exactly at the expiry: no longer valid
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(403);
    expect(body<AccessRequestBody>(await r.call(op.token, { url: `/api/v1/access-requests/${req.id}` })).status).toBe('approved');

    const mark = r.catalog.ledger.count();
    expect(r.server.context.access.expireDue()).toBe(1);
    expect(r.server.context.access.expireDue()).toBe(0);
    const after = body<AccessRequestBody>(await r.call(op.token, { url: `/api/v1/access-requests/${req.id}` }));
    expect(after).toMatchObject({ status: 'expired', expiredAt: new Date(r.clock.t).toISOString() });
    expect(entriesSince(r, mark).map((e) => [e.type, e.subject, e.data.expiresAt])).toEqual([['access.request.expired', req.id, expiresAt]]);
  });

  it('limits expiries: not in the past, not beyond api.grantMaxHours; the default comes from the config', async () => {
    const r = await rig({ CUSTODY_API_GRANT_DEFAULT_HOURS: '2', CUSTODY_API_GRANT_MAX_HOURS: '8' });
    const a = await r.seed();
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const create = async (): Promise<string> =>
      body<AccessRequestBody>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id], reason: 'r' } })).id;
    const id = await create();
    const past = await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve`, payload: { expiresAt: '2020-01-01T00:00:00Z' } });
    expect(body(past)).toEqual({ error: { code: 'INVALID_INPUT', message: 'expiresAt must be in the future' } });
    const far = await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve`, payload: { expiresAt: new Date(r.clock.t + 9 * HOUR).toISOString() } });
    expect(far.statusCode).toBe(400);
    expect(body(far)).toMatchObject({ error: { message: expect.stringMatching(/at most 8 hours/) } });
    expect(body<AccessRequestBody>(await r.call(op.token, { url: `/api/v1/access-requests/${id}` })).status).toBe('pending');
    const ok = body<AccessRequestBody>(await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` }));
    expect(ok.expiresAt).toBe(new Date(r.clock.t + 2 * HOUR).toISOString());
  });

  it('denies: the request is closed, ledgered, and gives no access; a decided request cannot be decided again', async () => {
    const r = await rig();
    const a = await r.seed();
    const op = r.user('Op', 'operator');
    const sup = r.user('Sup', 'supervisor');
    const admin = r.user('Admin', 'admin');
    const id = body<AccessRequestBody>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id], reason: 'curiosity' } })).id;
    const denied = await r.call(sup.token, { method: 'POST', url: `/api/v1/access-requests/${id}/deny`, payload: { note: 'no case' } });
    expect(body(denied)).toMatchObject({ status: 'denied', decisionNote: 'no case', expiresAt: null });
    expect((await r.call(op.token, { url: `/api/v1/evidence/${a.id}/content` })).statusCode).toBe(403);
    const again = await r.call(admin.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` });
    expect(again.statusCode).toBe(409);
    expect(body(again)).toEqual({ error: { code: 'ACCESS_REQUEST_DECIDED', message: `access request ${id} is already denied` } });
    expect(r.ledgerTypes().filter((t) => t.startsWith('access.request.'))).toEqual(['access.request.created', 'access.request.denied']);
  });

  it('keeps requests and decisions within units', async () => {
    const r = await rig();
    const u1 = await r.seed({ unit: 'U1' });
    const u2 = await r.seed({ unit: 'U2' });
    const op1 = r.user('Op U1', 'operator', 'U1');
    const sup1 = r.user('Sup U1', 'supervisor', 'U1');
    const sup2 = r.user('Sup U2', 'supervisor', 'U2');
    const admin = r.user('Admin', 'admin');

    // Asking for another unit's item: as if it did not exist; nothing is created.
    const before = r.snapshot();
    const foreign = await r.call(op1.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [u1.id, u2.id], reason: 'x' } });
    expect(foreign.statusCode).toBe(404);
    expect(body(foreign)).toEqual({ error: { code: 'NOT_FOUND', message: `evidence not found: ${u2.id}` } });
    expect(r.snapshot()).toEqual({ ...before, ledger: before.ledger + 1 });
    expect(r.ledgerTypes().at(-1)).toBe('access.denied');

    const id = body<AccessRequestBody>(await r.call(op1.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [u1.id], reason: 'x' } })).id;
    // The supervisor of another unit neither sees nor decides it.
    expect(body<{ items: unknown[] }>(await r.call(sup2.token, { url: '/api/v1/access-requests?view=to-decide' })).items).toEqual([]);
    expect((await r.call(sup2.token, { url: `/api/v1/access-requests/${id}` })).statusCode).toBe(404);
    const blocked = await r.call(sup2.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` });
    expect(blocked.statusCode).toBe(404);
    expect(body(blocked)).toEqual({ error: { code: 'NOT_FOUND', message: `access request not found: ${id}` } });
    expect(body<AccessRequestBody>(await r.call(admin.token, { url: `/api/v1/access-requests/${id}` })).status).toBe('pending');
    // Its own unit's supervisor and an unscoped admin do.
    expect(body<{ items: { id: string }[] }>(await r.call(sup1.token, { url: '/api/v1/access-requests?view=to-decide' })).items.map((i) => i.id)).toEqual([id]);
    expect(body<{ items: { id: string }[] }>(await r.call(admin.token, { url: '/api/v1/access-requests?view=to-decide' })).items.map((i) => i.id)).toEqual([id]);
    expect((await r.call(sup1.token, { method: 'POST', url: `/api/v1/access-requests/${id}/approve` })).statusCode).toBe(200);
  });

  it('lists my requests newest first, in pages', async () => {
    const r = await rig();
    const a = await r.seed();
    const op = r.user('Op', 'operator');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      r.clock.advance(1000);
      ids.push(body<AccessRequestBody>(await r.call(op.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id], reason: `r${i}` } })).id);
    }
    const seen: string[] = [];
    let url = '/api/v1/access-requests?limit=2';
    for (;;) {
      const page = body<{ items: { id: string }[]; next: string | null }>(await r.call(op.token, { url }));
      seen.push(...page.items.map((i) => i.id));
      if (!page.next) break;
      url = `/api/v1/access-requests?limit=2&cursor=${page.next}`;
    }
    expect(seen).toEqual([...ids].reverse());
    // Another user's list is theirs alone.
    const other = r.user('Other', 'operator');
    expect(body<{ items: unknown[] }>(await r.call(other.token, { url: '/api/v1/access-requests' })).items).toEqual([]);
    expect((await r.call(other.token, { url: `/api/v1/access-requests/${ids[0]}` })).statusCode).toBe(404);
  });

  it('the database itself refuses a decision by the requester', async () => {
    const r = await rig();
    const a = await r.seed();
    const sup = r.user('Sup', 'supervisor');
    const id = body<AccessRequestBody>(await r.call(sup.token, { method: 'POST', url: '/api/v1/access-requests', payload: { evidenceIds: [a.id], reason: 'x' } })).id;
    expect(() =>
      r.catalog.db.prepare("UPDATE access_requests SET status = 'approved', decided_by = requester_id, decided_at = 't', expires_at = 't' WHERE id = ?").run(id),
    ).toThrow(/CHECK constraint failed/);
  });
});
