import { existsSync } from 'node:fs';
import { Catalog, catalogPath } from './catalog/index.js';
import type { Config } from './config/index.js';
import { ConfigError, type Logger } from './core/index.js';
import { LedgerSealer } from './ledger/index.js';
import { type ObjectStore, openObjectStore } from './vault/index.js';

export interface StationOptions {
  /** Parsed once, frozen; nothing below reads process.env. */
  config: Config;
  log: Logger;
  /** Open the catalog read-only (commands that only read). */
  readonlyCatalog?: boolean;
}

/**
 * The station's services, each built once, on first use: a command builds only what
 * it needs (`custody ledger seal` never loads the API; a station with a filesystem
 * vault never loads the AWS SDK). The root maps the configuration to each service's
 * own options.
 */
export interface Station {
  readonly config: Config;
  readonly log: Logger;
  /** The catalog; a home that `custody init` did not set up is a ConfigError, never a new empty catalog. */
  catalog(): Catalog;
  /** The configured object store, opened (its `init()` is the caller's, with its start-up). */
  store(): Promise<ObjectStore>;
  /** Seals the ledger into the vault (ledger.segmentEntries per segment, every ledger.sealIntervalSeconds once started). */
  sealer(): Promise<LedgerSealer>;
  /** Close what was opened: the store, then the catalog. */
  close(): Promise<void>;
}

/** The composition root: see docs/architecture.md. Opens nothing until a service is asked for. */
export function buildStation(opts: StationOptions): Station {
  const { config, log } = opts;
  let catalog: Catalog | undefined;
  let store: Promise<ObjectStore> | undefined;
  let sealer: Promise<LedgerSealer> | undefined;

  const station: Station = {
    config,
    log,
    catalog() {
      if (!catalog) {
        const file = catalogPath(config.home);
        if (!existsSync(file)) throw new ConfigError(`no custody home at ${config.home} (run: custody init --home ${config.home})`);
        catalog = Catalog.open(file, { readonly: opts.readonlyCatalog ?? false });
      }
      return catalog;
    },
    store() {
      store ??= openObjectStore(config.vault, log).catch((e: unknown) => {
        store = undefined;
        throw e;
      });
      return store;
    },
    sealer() {
      sealer ??= (async () =>
        new LedgerSealer({
          catalog: station.catalog(),
          store: await station.store(),
          log: log.child({ module: 'sealer' }),
          segmentEntries: config.ledger.segmentEntries,
          sealIntervalSeconds: config.ledger.sealIntervalSeconds,
        }))();
      return sealer;
    },
    async close() {
      const s = store;
      store = undefined;
      sealer = undefined;
      try {
        if (s) await (await s.catch(() => null))?.close();
      } finally {
        catalog?.close();
        catalog = undefined;
      }
    },
  };
  return station;
}
