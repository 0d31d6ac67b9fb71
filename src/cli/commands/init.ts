import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { catalogPath } from '../../catalog/index.js';
import { defaultConfigPath, resolveHome } from '../../config/index.js';
import { CustodyError } from '../../core/index.js';
import { ensureStationKey } from '../../vault/index.js';
import { ledgerOf, verifyVault } from '../../ledger/index.js';
import { cliStation, globals, output } from '../context.js';

const STARTER_CONFIG = `# custody configuration. Every key, with its default, is documented in
# config/custody.example.yaml; any key can also be set by an environment
# variable CUSTODY_<PATH> (e.g. CUSTODY_API_PORT=8470).
timezone: Asia/Shanghai
vault:
  kind: fs
`;

export async function initCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const home = resolveHome({ home: g.home });
  await mkdir(home, { recursive: true, mode: 0o750 });
  const configFile = g.config ?? defaultConfigPath(home);
  let configCreated = false;
  if (!g.config && !existsSync(configFile)) {
    await writeFile(configFile, STARTER_CONFIG, { flag: 'wx' });
    configCreated = true;
  }
  // The one command that creates the catalog it opens.
  const station = cliStation({ ...g, home }, { createCatalog: true });
  const { log } = station;
  try {
    const store = await station.store();
    const catalog = station.catalog();
    await store.init();
    const key = await ensureStationKey(home);
    let initialised = false;
    if (ledgerOf(catalog).count() > 0) {
      // Never build on a vault whose history does not hold together.
      const result = await verifyVault({ catalog, store, deep: false });
      if (!result.ok) {
        const first = result.problems[0];
        throw new CustodyError('VAULT_NOT_INTACT', `refusing to initialise: the existing ledger does not verify (${first ? first.message : 'unknown problem'}); run custody verify`);
      }
    } else {
      ledgerOf(catalog).append({
        type: 'station.initialized',
        actor: station.actor,
        subject: null,
        data: { vault: { kind: store.kind, location: store.location }, stationKey: { alg: 'ed25519', publicKey: key.publicKey, fingerprint: key.fingerprint } },
      });
      initialised = true;
    }
    log.info({ home, vault: store.location }, initialised ? 'custody home initialised' : 'custody home already initialised');
    output(
      g,
      { home, config: configFile, configCreated, catalog: catalogPath(home), vault: { kind: store.kind, location: store.location }, stationKey: key.fingerprint, initialised },
      `${initialised ? 'Initialised' : 'Already initialised'} custody home ${home}\n  config:  ${configFile}${configCreated ? ' (created)' : ''}\n  catalog: ${catalogPath(home)}\n  vault:   ${store.kind} ${store.location}\n  station key: ${key.fingerprint.slice(0, 16)}…`,
    );
  } finally {
    await station.close();
  }
}
