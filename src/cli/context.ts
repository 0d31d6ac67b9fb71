import type { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { Catalog, catalogPath } from '../catalog/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { ConfigError } from '../core/errors.js';
import { openObjectStore } from '../vault/open.js';
import type { ObjectStore } from '../vault/store.js';
import { existsSync } from 'node:fs';

export interface GlobalOptions {
  home?: string;
  config?: string;
  json?: boolean;
  logLevel?: LevelWithSilent;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function loadCliConfig(g: GlobalOptions): Config {
  return loadConfig({ home: g.home, configFile: g.config });
}

/**
 * Logs of one-shot commands go to stderr, so stdout stays for results; only
 * warnings and errors unless --log-level asks for more (the daemon uses log.level).
 */
export function cliLogger(g: GlobalOptions, _config?: Config): Logger {
  return createLogger({ level: g.logLevel ?? 'warn', destination: 2 });
}

export interface Runtime {
  config: Config;
  log: Logger;
  catalog: Catalog;
  store: ObjectStore;
  close(): Promise<void>;
}

/**
 * Open what most commands need: config, logger, catalog and object store. The home
 * must have been set up by `custody init` (the catalog is not created implicitly,
 * so a mistyped --home is an error, not a new empty vault).
 */
export async function openRuntime(g: GlobalOptions, opts: { readonlyCatalog?: boolean } = {}): Promise<Runtime> {
  const config = loadCliConfig(g);
  const log = cliLogger(g, config);
  const file = catalogPath(config.home);
  if (!existsSync(file)) {
    throw new ConfigError(`no custody home at ${config.home} (run: custody init --home ${config.home})`);
  }
  const catalog = Catalog.open(file, { readonly: opts.readonlyCatalog ?? false });
  const store = await openObjectStore(config, log);
  try {
    await store.init();
  } catch (e) {
    catalog.close();
    throw e;
  }
  return {
    config,
    log,
    catalog,
    store,
    async close() {
      await store.close();
      catalog.close();
    },
  };
}

export async function withRuntime<T>(g: GlobalOptions, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime(g);
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/** Print a result: JSON on stdout with --json, else the human text. */
export function output(g: GlobalOptions, json: unknown, human: string): void {
  if (g.json) process.stdout.write(JSON.stringify(json) + '\n');
  else if (human) process.stdout.write(human.endsWith('\n') ? human : human + '\n');
}

// In their own light module, so the program can name them without loading the runtime.
export { EXIT_PROBLEM, EXIT_USAGE } from './exit-codes.js';
