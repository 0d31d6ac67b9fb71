import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
// js-yaml, not the yaml package custody uses for the files it writes: the configuration
// is read by every command, and js-yaml is one module where yaml is some sixty (issue 13:
// about 30 ms of each command's start). CORE_SCHEMA is YAML 1.2's core schema, as yaml
// reads it: no timestamps or other implicit types beyond null, booleans and numbers.
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { ConfigError, errorMessage } from '../core/index.js';
import type { Config } from './schema.js';

export const ENV_PREFIX = 'CUSTODY_';

export interface LoadOptions {
  /** --home, else CUSTODY_HOME, else ~/.custody */
  home?: string | undefined;
  /** --config; else <home>/custody.yaml when it exists; else defaults only. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export function resolveHome(opts: { home?: string | undefined; env?: NodeJS.ProcessEnv }): string {
  const env = opts.env ?? process.env;
  return resolve(opts.home ?? env.CUSTODY_HOME ?? join(homedir(), '.custody'));
}

export function defaultConfigPath(home: string): string {
  return join(home, 'custody.yaml');
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${errorMessage(e)}`, [], { cause: e });
  }
}

function parseConfigText(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = loadYaml(text, { schema: CORE_SCHEMA, filename: file });
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${errorMessage(e)}`, [], { cause: e });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must be a mapping of keys`);
  return doc as Record<string, unknown>;
}

type ConfigValidator = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined) => Config;
let validator: ConfigValidator | undefined;

/** Called by validate.ts when it loads (see loadConfig). */
export function installConfigValidator(v: ConfigValidator): void {
  validator = v;
}

function validate(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined): Config {
  validator ??= (createRequire(import.meta.url)('./validate.js') as { validateConfig: ConfigValidator }).validateConfig;
  return validator(raw, env, file);
}

/** The cache of validated configurations, in the home (one entry: the last one). */
export const CONFIG_CACHE_FILE = '.config-cache.json';
const CACHE_FORMAT = 1;

/**
 * What a validated configuration depends on: the file's text, every CUSTODY_* variable,
 * the validating code itself (validate and schema, as this build has them) and Node (its
 * time-zone data). Undefined when the code's own files cannot be read: then no cache.
 */
function cacheKey(text: string, env: NodeJS.ProcessEnv): string | undefined {
  const h = createHash('sha256').update(`custody-config-cache ${CACHE_FORMAT} ${process.version}\n`);
  for (const name of ['validate', 'schema']) {
    const source = ['js', 'ts'].map((ext) => new URL(`./${name}.${ext}`, import.meta.url)).find((u) => existsSync(u));
    if (!source) return undefined;
    h.update(readFileSync(source)).update('\0');
  }
  h.update(text).update('\0');
  for (const name of Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX)).sort()) h.update(`${name}=${env[name]}\0`);
  return h.digest('hex');
}

function readCache(home: string, key: string): Config | undefined {
  try {
    const entry = JSON.parse(readFileSync(join(home, CONFIG_CACHE_FILE), 'utf8')) as { key?: unknown; config?: unknown };
    return entry.key === key && entry.config && typeof entry.config === 'object' ? (entry.config as Config) : undefined;
  } catch {
    return undefined; // none, unreadable or damaged: validate, as without a cache
  }
}

/**
 * Best effort, and only in a station's home (its catalog there): a home not made yet (a
 * restore's or init's target stays untouched), or not writable by this user, keeps no
 * cache. Never a configuration that holds a secret (an S3 key given inline or through the
 * environment).
 */
function writeCache(home: string, key: string, config: Config): void {
  if (config.vault.s3?.secretAccessKey !== undefined || !existsSync(join(home, 'catalog.db'))) return;
  const file = join(home, CONFIG_CACHE_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify({ key, config }), { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // nothing was written
    }
  }
}

/**
 * Load the configuration once: file (if any), then CUSTODY_* environment overrides,
 * validated as a whole so every problem is reported at once. The result is frozen.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const home = resolveHome({ home: opts.home, env });
  const file = opts.configFile ? resolve(opts.configFile) : existsSync(defaultConfigPath(home)) ? defaultConfigPath(home) : undefined;
  const text = file ? readConfigText(file) : '';

  // Validation needs zod (about half of a short command's start): a configuration
  // validated before, from the same file text, environment and code, is taken from the
  // cache in the home instead (issue 13). A bad one is never cached, so it is refused the
  // same way every time.
  const key = cacheKey(text, env);
  let c = key ? readCache(home, key) : undefined;
  if (!c) {
    c = validate(file ? parseConfigText(text, file) : {}, env, file);
    if (key) writeCache(home, key, c);
  }
  const s3 = c.vault.s3;
  if (s3 && s3.secretAccessKey === undefined && s3.secretAccessKeyFile !== undefined) {
    try {
      s3.secretAccessKey = readFileSync(resolve(home, s3.secretAccessKeyFile), 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`cannot read vault.s3.secretAccessKeyFile: ${errorMessage(e)}`, [], { cause: e });
    }
  }
  const config = {
    ...c,
    home,
    vault: { ...c.vault, fs: { ...c.vault.fs, path: resolve(home, c.vault.fs.path ?? 'vault') } },
  } as Config;
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The configuration with secrets replaced, for printing. */
export function redactConfig(c: Config): unknown {
  return JSON.parse(
    JSON.stringify(c, (k, v: unknown) => (k === 'secretAccessKey' && typeof v === 'string' ? '***' : v)),
  ) as unknown;
}
