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
