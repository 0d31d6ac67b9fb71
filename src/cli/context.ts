import type { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import type { LevelWithSilent } from 'pino';
import type { Principal } from '../access/index.js';
import { loadConfig, type Config } from '../config/index.js';
import type { Catalog } from '../catalog/index.js';
import { createLogger, CustodyError, type Logger, UsageError } from '../core/index.js';
import { buildStation, type Station } from '../station.js';
import { cliActor } from './actor.js';
import type { ObjectStore } from '../vault/index.js';

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
  /** The composition root the catalog and store came from; every further service is taken from it. */
  station: Station;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  readonlyCatalog?: boolean;
  /** Create the catalog when there is none (see StationOptions.createCatalog). */
  createCatalog?: boolean;
  /** The logger for this configuration; default: warnings and errors to stderr. */
  logFor?: (config: Config) => Logger;
  /** The configuration as this command runs with it (a command line option over a configured value). */
  adjust?: (config: Config) => Config;
  /** Who the station's own services act as; default `cli:<os-user>`. */
  actor?: string;
}

/**
 * The station a command runs on: the configuration, a logger, and the composition root
 * (src/station.ts), which builds each service the command asks for, once. What the
 * station does on its own behalf is the OS account's (`cli:<os-user>`) unless told otherwise.
 */
export function cliStation(g: GlobalOptions, opts: RuntimeOptions = {}): Station {
  const loaded = loadCliConfig(g);
  const config = opts.adjust ? opts.adjust(loaded) : loaded;
  const log = opts.logFor?.(config) ?? cliLogger(g, config);
  return buildStation({ config, log, actor: opts.actor ?? cliActor(),
    ...(opts.readonlyCatalog !== undefined ? { readonlyCatalog: opts.readonlyCatalog } : {}),
    ...(opts.createCatalog !== undefined ? { createCatalog: opts.createCatalog } : {}),
  });
}

/**
 * Open what most commands need: config, logger, catalog and object store, from the
 * station (src/station.ts). The home must have been set up by `custody init` (the
 * catalog is not created implicitly, so a mistyped --home is an error, not a new
 * empty vault).
 */
export async function openRuntime(g: GlobalOptions, opts: RuntimeOptions = {}): Promise<Runtime> {
  const station = cliStation(g, opts);
  const { config, log } = station;
  let catalog: Catalog;
  let store: ObjectStore;
  try {
    catalog = station.catalog();
    store = await station.store();
    await store.init();
  } catch (e) {
    await station.close().catch(() => undefined);
    throw e;
  }
  return { config, log, catalog, store, station, close: () => station.close() };
}

export async function withRuntime<T>(g: GlobalOptions, fn: (rt: Runtime) => Promise<T>, opts: RuntimeOptions = {}): Promise<T> {
  const rt = await openRuntime(g, opts);
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

// Characters a terminal acts on rather than shows: C0 and C1 controls, DEL, and the
// bidirectional overrides that make text read other than it is stored.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- the same, but a line break or tab of the layout itself stays
const CONTROL_INLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Text from users (reasons, names, notes) as the CLI prints it: every control
 * character escaped as \uXXXX, line breaks too, so stored text can neither drive the
 * terminal (escape sequences) nor fake a line of custody's own output (issue 14).
 */
export function printable(text: string): string {
  return text.replace(CONTROL_ALL, escapeChar);
}

/**
 * Print a result: JSON on stdout with --json, else the human text. Control characters
 * are escaped in both (JSON leaves DEL, C1 and bidi controls raw; the human text keeps
 * only its own line breaks and tabs).
 */
export function output(g: GlobalOptions, json: unknown, human: string): void {
  if (g.json) process.stdout.write(JSON.stringify(json).replace(CONTROL_ALL, escapeChar) + '\n');
  else if (human) {
    const safe = human.replace(CONTROL_INLINE, escapeChar);
    process.stdout.write(safe.endsWith('\n') ? safe : safe + '\n');
  }
}

/** Options of commands that act as a custody user. */
export interface ActingOptions {
  tokenFile?: string;
}

/**
 * The custody user a command acts as (issue 14: the second person is a person). The
 * user proves who they are with their own token — from `--token-file FILE` (readable by
 * its owner only) or the `CUSTODY_TOKEN` environment variable — never with a typed
 * name. A refused token is recorded like a refused sign-in on the API (auth_failures).
 */
export async function actingUser(rt: Runtime, opts: ActingOptions, command: string): Promise<Principal> {
  let token: string | undefined;
  if (opts.tokenFile !== undefined) {
    const st = await stat(opts.tokenFile).catch(() => null);
    if (!st?.isFile()) throw new UsageError(`--token-file ${opts.tokenFile} is not a readable file`);
    if ((st.mode & 0o077) !== 0) throw new UsageError(`--token-file ${opts.tokenFile} may be read by others: make it readable by its owner only (chmod 600)`);
    token = (await readFile(opts.tokenFile, 'utf8')).trim();
  } else {
    token = process.env.CUSTODY_TOKEN?.trim();
  }
  if (!token) {
    throw new UsageError(`custody ${command} is done as a custody user: give your own token in CUSTODY_TOKEN or --token-file FILE (custody users add prints it once)`);
  }
  const { users, audit } = await rt.station.access();
  const r = users.authenticate(token);
  if (r.ok) return r.principal;
  // The access module is loaded only by commands that act as a user (custody verify never does).
  const { AuthenticationError } = await import('../access/index.js');
  audit.authFailure({ ip: 'local', reason: r.reason, method: 'CLI', url: `custody ${command}`, userId: r.userId });
  throw new AuthenticationError(r.reason, r.reason === 'expired' ? 'the token has expired; ask an administrator for a new one (custody users token)' : 'the token is not valid');
}

/** Codes of a refusal: an identified user asked for something they may not do. */
const REFUSALS: ReadonlySet<string> = new Set([
  'FORBIDDEN',
  'ACCESS_GRANT_REQUIRED',
  'ACCESS_SELF_DECISION',
  'HOLD_SELF_APPROVAL',
  'FLAG_SELF_APPROVAL',
  'EXPORT_DESTINATION_FORBIDDEN',
  'EXPORT_CASE_NOT_PROTECTED',
  'EXPORT_GRANT_REQUIRED',
  'EXPORT_APPROVER_INVALID',
]);

/**
 * Run what a custody user asked for; a refusal is ledgered as `access.denied`, as on
 * the API (route: the command), then reported as usual.
 */
export async function asUser<T>(rt: Runtime, p: Principal, command: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const { HiddenError } = await import('../access/index.js');
    if (e instanceof CustodyError && (e instanceof HiddenError || REFUSALS.has(e.code))) {
      try {
        (await rt.station.access()).audit.denied({
          principal: p,
          code: e instanceof HiddenError ? 'OUT_OF_SCOPE' : e.code,
          message: e.message,
          subject: typeof (e as { subject?: unknown }).subject === 'string' ? (e as unknown as { subject: string }).subject : null,
          method: 'CLI',
          route: `custody ${command}`,
          ip: 'local',
        });
      } catch (le) {
        rt.log.error({ err: le }, 'could not ledger a refused command');
      }
    }
    throw e;
  }
}

// In their own light module, so the program can name them without loading the runtime.
export { EXIT_PROBLEM, EXIT_USAGE } from './exit-codes.js';
