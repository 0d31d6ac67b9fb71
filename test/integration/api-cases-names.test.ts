import { afterEach, describe, expect, it } from 'vitest';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

/**
 * Issue 19: a case and its holds name the users who made, asked and approved them, so
 * the console shows names, not ledger actor ids; an actor that is no user (the CLI)
 * stays as it is.
 */
let rig: ApiRig;
afterEach(async () => rig?.close());

interface HoldOut {
  id: string;
  placedBy: string;
  releaseRequestedBy: string | null;
  releasedBy: string | null;
  names: Record<string, string>;
}

describe('case and hold names (issue 19)', () => {
  it('gives the names of the users behind createdBy, placedBy, releaseRequestedBy and releasedBy', async () => {
    rig = await apiRig();
    const chief = rig.user('王科长', 'supervisor');
    const deputy = rig.user('李副科长', 'supervisor');
    const created = await rig.call(chief.token, { method: 'POST', url: '/api/v1/cases', payload: { number: 'A-1', name: '案件一' } });
    expect(created.statusCode, created.body).toBe(201);
    const kase = body<{ id: string; createdBy: string; createdByName: string | null }>(created);
    expect(kase).toMatchObject({ createdBy: `user:${chief.id}`, createdByName: '王科长' });

    const placed = body<HoldOut>(await rig.call(chief.token, { method: 'POST', url: `/api/v1/cases/${kase.id}/holds`, payload: { reason: 'dispute', text: '异议' } }));
    expect(placed.names).toEqual({ [`user:${chief.id}`]: '王科长' });
    const asked = body<HoldOut>(await rig.call(chief.token, { method: 'POST', url: `/api/v1/cases/${kase.id}/holds/${placed.id}/release-request`, payload: { reason: '复议终结' } }));
    expect(asked.names).toEqual({ [`user:${chief.id}`]: '王科长' });
    const released = body<HoldOut>(await rig.call(deputy.token, { method: 'POST', url: `/api/v1/cases/${kase.id}/holds/${placed.id}/release` }));
    expect(released).toMatchObject({ releasedBy: `user:${deputy.id}`, names: { [`user:${chief.id}`]: '王科长', [`user:${deputy.id}`]: '李副科长' } });

    const detail = body<{ holds: HoldOut[]; createdByName: string }>(await rig.call(deputy.token, { url: `/api/v1/cases/${kase.id}` }));
    expect(detail.createdByName).toBe('王科长');
    expect(detail.holds[0]!.names).toEqual(released.names);

    // A case made on the command line names no user.
    const cli = rig.server.context.cases.create({ number: 'A-2', name: '案件二', unit: null }, 'cli:root');
    expect(body<{ createdBy: string; createdByName: string | null }>(await rig.call(chief.token, { url: `/api/v1/cases/${cli.id}` }))).toMatchObject({ createdBy: 'cli:root', createdByName: null });
  });
});
