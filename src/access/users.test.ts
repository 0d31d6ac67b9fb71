import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { UsersService } from './users.js';

/**
 * UsersService remembers the tokens that authenticated, so a request does not look its
 * user up again while the catalog is unchanged. A change made anywhere — through this
 * connection, or by another process writing the same catalog (the CLI) — must take
 * effect on the very next request. "Another process" is a second connection here:
 * SQLite tells a connection of commits by any other, in this process or not, alike.
 */
describe('token authentication with remembered tokens', () => {
  async function twoConnections(): Promise<{ api: UsersService; cli: UsersService; clock: { t: number }; close: () => void }> {
    const dir = await tempDir();
    const file = join(dir, 'catalog.db');
    const clock = { t: Date.parse('2026-12-01T08:00:00.000Z') };
    const now = { now: () => new Date(clock.t) };
    const a = Catalog.open(file, { clock: now });
    const b = Catalog.open(file, { clock: now });
    return {
      api: new UsersService(a),
      cli: new UsersService(b),
      clock,
      close: () => {
        a.close();
        b.close();
      },
    };
  }

  const principalOf = (r: ReturnType<UsersService['authenticate']>) => (r.ok ? r.principal : r.reason);

  it('refuses a token on the next request once another connection revokes its user', async () => {
    const { api, cli, close } = await twoConnections();
    const { user, token } = cli.create({ name: 'Supervisor', role: 'supervisor', unit: 'U1', tokenExpiresAt: null }, 'test');
    // Twice: the second answer is the remembered one.
    expect(principalOf(api.authenticate(token))).toEqual({ id: user.id, name: 'Supervisor', role: 'supervisor', unit: 'U1' });
    expect(principalOf(api.authenticate(token))).toEqual({ id: user.id, name: 'Supervisor', role: 'supervisor', unit: 'U1' });
    cli.revoke(user.id, 'test');
    expect(api.authenticate(token)).toEqual({ ok: false, reason: 'revoked', userId: user.id });
    close();
  });

  it('gives the new role and unit on the next request after another connection changes them', async () => {
    const { api, cli, close } = await twoConnections();
    const { user, token } = cli.create({ name: 'Officer', role: 'supervisor', unit: 'U1', tokenExpiresAt: null }, 'test');
    expect(principalOf(api.authenticate(token))).toMatchObject({ role: 'supervisor', unit: 'U1' });
    cli.changeRole(user.id, { role: 'operator', unit: 'U2' }, 'test');
    expect(principalOf(api.authenticate(token))).toMatchObject({ role: 'operator', unit: 'U2' });
    // Widening works the same way: the unit scope removed.
    cli.changeRole(user.id, { role: 'auditor', unit: null }, 'test');
    expect(principalOf(api.authenticate(token))).toMatchObject({ role: 'auditor', unit: null });
    close();
  });

  it('retires the old token on the next request after another connection issues a new one', async () => {
    const { api, cli, close } = await twoConnections();
    const { user, token } = cli.create({ name: 'Archivist', role: 'archivist', tokenExpiresAt: null }, 'test');
    expect(api.authenticate(token).ok).toBe(true);
    const { token: fresh } = cli.reissueToken(user.id, null, 'test');
    expect(api.authenticate(token)).toEqual({ ok: false, reason: 'unknown', userId: null });
    expect(principalOf(api.authenticate(fresh))).toMatchObject({ id: user.id });
    close();
  });

  it('sees changes made through its own connection on the next request too', async () => {
    const { api, close } = await twoConnections();
    const { user, token } = api.create({ name: 'Admin', role: 'admin', tokenExpiresAt: null }, 'test');
    expect(api.authenticate(token).ok).toBe(true);
    api.changeRole(user.id, { role: 'auditor' }, 'test');
    expect(principalOf(api.authenticate(token))).toMatchObject({ role: 'auditor' });
    api.revoke(user.id, 'test');
    expect(api.authenticate(token)).toEqual({ ok: false, reason: 'revoked', userId: user.id });
    close();
  });

  it('refuses a remembered token once it expires, with nothing written meanwhile', async () => {
    const { api, cli, clock, close } = await twoConnections();
    const { user, token } = cli.create({ name: 'Auditor', role: 'auditor', tokenExpiresAt: new Date(clock.t + 60_000) }, 'test');
    expect(api.authenticate(token).ok).toBe(true);
    clock.t += 59_999;
    expect(api.authenticate(token).ok).toBe(true);
    clock.t += 1;
    expect(api.authenticate(token)).toEqual({ ok: false, reason: 'expired', userId: user.id });
    close();
  });

  it('hands out a copy: changing a principal does not change what the next request gets', async () => {
    const { api, close } = await twoConnections();
    const { token } = api.create({ name: 'Scoped', role: 'supervisor', unit: 'U1', tokenExpiresAt: null }, 'test');
    const first = api.authenticate(token);
    if (!first.ok) throw new Error('not authenticated');
    first.principal.unit = null;
    expect(principalOf(api.authenticate(token))).toMatchObject({ unit: 'U1' });
    close();
  });
});
