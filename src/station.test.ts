import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog, catalogPath } from './catalog/index.js';
import { loadConfig } from './config/index.js';
import { silentLogger } from './core/index.js';
import { ledgerOf } from './ledger/index.js';
import { buildStation } from './station.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function home(init: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'custody-station-'));
  dirs.push(dir);
  const h = join(dir, 'home');
  if (init) Catalog.open(catalogPath(h)).close();
  return h;
}

describe('buildStation, the composition root (issue 13)', () => {
  it('opens nothing until a service is asked for, and refuses a home that was never set up', async () => {
    const station = buildStation({ config: loadConfig({ home: await home(false), env: {} }), log: silentLogger, actor: 'test' });
    expect(() => station.catalog()).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('custody init') }));
    await station.close();
  });

  it('builds each service once and closes what it opened', async () => {
    const station = buildStation({ config: loadConfig({ home: await home(true), env: {} }), log: silentLogger, actor: 'test' });
    const catalog = station.catalog();
    expect(station.catalog()).toBe(catalog);
    const [a, b] = await Promise.all([station.store(), station.store()]);
    expect(a).toBe(b);
    const sealer = await station.sealer();
    expect(await station.sealer()).toBe(sealer);
    await a.init();
    ledgerOf(catalog).append({ type: 'station.initialized', actor: 'test' });
    expect((await sealer.seal({ partial: true })).map((s) => [s.firstSeq, s.lastSeq])).toEqual([[1, 1]]);
    await station.close();
    expect(catalog.db.open).toBe(false);
  });
});

describe('buildStation: one of each service, each with its own options (issue 13)', () => {
  it('builds every service once and hands the same ones on: the API, the follow-ups and the ingest service take the station\'s', async () => {
    const config = loadConfig({ home: await home(true), env: { CUSTODY_COMPLIANCE_UPLOAD_DEADLINE_HOURS: '36', CUSTODY_API_PORT: '0' } });
    const station = buildStation({ config, log: silentLogger, actor: 'custody:test' });
    try {
      const [compliance, again] = await Promise.all([station.compliance(), station.compliance()]);
      expect(again).toBe(compliance);
      const retention = await station.retention();
      expect(await station.retention()).toBe(retention);
      // The root maps the configuration to the service's own options.
      expect(compliance.report({ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' }).uploadDeadlineHours).toBe(36);

      const followUps = await station.followUps();
      expect(followUps.runner).toBe(await station.jobs());
      expect(await station.ingest()).toBe(await station.ingest());

      const checkpoints = { latest: async () => null };
      const api = await station.api({ checkpoints });
      expect(await station.api()).toBe(api);
      const ctx = api.context;
      expect(ctx.compliance.flags).toBe(compliance.flags);
      expect(ctx.compliance.rules).toBe(compliance.rules);
      expect(ctx.purge).toBe(retention.purge);
      expect(ctx.cases).toBe(retention.cases);
      expect(ctx.users).toBe((await station.access()).users);
      expect(ctx.checkpoints).toBe(checkpoints);
      await api.stop();
      await followUps.close();
    } finally {
      await station.close();
    }
  });

  it('checks the recorder profiles before it opens anything', async () => {
    const h = await home(false);
    const station = buildStation({ config: loadConfig({ home: h, env: { CUSTODY_DEVICES_DROP_PROFILE: 'no-such-profile' } }), log: silentLogger, actor: 'custody:test' });
    // Not "no custody home": the profiles are refused first, and no catalog was made.
    await expect(station.devices()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('devices.dropProfile') });
    expect(existsSync(catalogPath(h))).toBe(false);
    await station.close();
  });

  it('uses a catalog and store handed in, and leaves closing them to their owner', async () => {
    const h = await home(true);
    const config = loadConfig({ home: h, env: {} });
    const catalog = Catalog.open(catalogPath(h));
    const other = buildStation({ config, log: silentLogger, actor: 'custody:test' });
    const store = await other.store();
    const station = buildStation({ config, log: silentLogger, actor: 'custody:test', catalog, store });
    expect(station.catalog()).toBe(catalog);
    expect(await station.store()).toBe(store);
    await station.close();
    expect(catalog.db.open).toBe(true);
    catalog.close();
    await other.close();
  });
});
