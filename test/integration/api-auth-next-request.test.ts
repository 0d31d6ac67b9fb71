import { describe, expect, it } from 'vitest';
import { runCliFromSource } from '../helpers/cli.js';
import { apiRig, body } from './api-fixtures.js';

/**
 * The API remembers tokens that authenticated while the catalog is unchanged
 * (UsersService). A change made by another process — the CLI writing the same catalog —
 * must still take effect on the very next request: a new unit scope, a revocation.
 */
describe('token changes made by another process, on the next request', () => {
  it('the CLI re-scoping and then revoking a user: the next search is scoped anew, then refused', async () => {
    const rig = await apiRig();
    const u1 = await rig.seed({ unit: 'U1', officer: '0417', serial: 'ZFY001' });
    const u2 = await rig.seed({ unit: 'U2', officer: '0562', serial: 'ZFY002' });
    const sup = rig.user('Supervisor', 'supervisor', 'U1');
    const ids = async (): Promise<string[]> => {
      const res = await rig.call(sup.token, { url: '/api/v1/evidence' });
      expect(res.statusCode).toBe(200);
      return body<{ items: { id: string }[] }>(res).items.map((i) => i.id);
    };
    // Twice, so the second is answered from the remembered token.
    expect(await ids()).toEqual([u1.id]);
    expect(await ids()).toEqual([u1.id]);

    const cli = (...args: string[]) => runCliFromSource(['--home', rig.home, '--log-level', 'warn', ...args]);
    const role = await cli('users', 'role', sup.id, '--role', 'supervisor', '--unit', 'U2');
    expect(role.code, role.stderr).toBe(0);
    expect(await ids()).toEqual([u2.id]);

    const revoke = await cli('users', 'revoke', sup.id);
    expect(revoke.code, revoke.stderr).toBe(0);
    const refused = await rig.call(sup.token, { url: '/api/v1/evidence' });
    expect(refused.statusCode).toBe(401);
    await rig.close();
  });
});
