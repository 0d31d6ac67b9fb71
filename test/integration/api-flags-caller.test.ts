import { afterEach, describe, expect, it } from 'vitest';
import { apiRig, body, type ApiRig } from './api-fixtures.js';

/**
 * Issue 19: a flag says whether it is about the caller's own officer number, so the
 * console does not offer a resolution the API refuses (FLAG_SELF_APPROVAL).
 */
let rig: ApiRig;
afterEach(async () => rig?.close());

describe('flags: aboutCaller (issue 19)', () => {
  it('is true only for the user linked to the officer the flag is about, and the API still refuses that user', async () => {
    rig = await apiRig();
    const officerSup = rig.user('officer-sup', 'supervisor', 'U1');
    const chief = rig.user('chief', 'supervisor', 'U1');
    const { compliance } = rig.server.context;
    compliance.assignments.upsertOfficer({ number: '0417', name: 'Li Wei', unit: 'U1', userId: officerSup.id }, 'test');
    const seen = { delayHours: 30, deadlineHours: 24, file: 'a.MP4', fileCount: 1 };
    const flag = compliance.flags.raise({ rule: 'late-upload', key: 'late-upload:t1', officer: '0417', recorderSerial: 'ZFY001', unit: 'U1', seen, summary: 'late' }, 'test')!;
    const other = compliance.flags.raise({ rule: 'late-upload', key: 'late-upload:t2', officer: '0418', recorderSerial: 'ZFY002', unit: 'U1', seen, summary: 'late' }, 'test')!;

    const list = async (token: string) => body<{ items: Array<{ id: string; aboutCaller: boolean }> }>(await rig.call(token, { url: '/api/v1/flags' })).items;
    expect(Object.fromEntries((await list(officerSup.token)).map((f) => [f.id, f.aboutCaller]))).toEqual({ [flag.id]: true, [other.id]: false });
    expect((await list(chief.token)).every((f) => !f.aboutCaller)).toBe(true);
    expect(body<{ aboutCaller: boolean }>(await rig.call(officerSup.token, { url: `/api/v1/flags/${flag.id}` })).aboutCaller).toBe(true);

    const self = await rig.call(officerSup.token, { method: 'POST', url: `/api/v1/flags/${flag.id}/resolve`, payload: { reason: '本人说明' } });
    expect(self.statusCode).toBe(403);
    expect(body<{ error: { code: string } }>(self).error.code).toBe('FLAG_SELF_APPROVAL');
    const ok = await rig.call(chief.token, { method: 'POST', url: `/api/v1/flags/${flag.id}/resolve`, payload: { reason: '设备故障，已补传' } });
    expect(ok.statusCode).toBe(200);
    expect(body(ok)).toMatchObject({ state: 'resolved', approvedBy: chief.id, aboutCaller: false });
  });
});
