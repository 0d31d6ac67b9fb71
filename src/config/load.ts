import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
// js-yaml, not the yaml package custody uses for the files it writes: the configuration
// is read by every command, and js-yaml is one module where yaml is some sixty (issue 13:
// about 30 ms of each command's start). CORE_SCHEMA is YAML 1.2's core schema, as yaml
// reads it: no timestamps or other implicit types beyond null, booleans and numbers.
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/index.js';
import { configSchema, type Config } from './schema.js';

export const ENV_PREFIX = 'CUSTODY_';

type Leaf = { path: string[]; env: string; kind: 'boolean' | 'number' | 'array' | 'string' };

/** The schema inside its optional, default, prefault and nullable wrappers (zod's public unwrap()). */
function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodNullable) {
    cur = cur.unwrap() as z.ZodType;
  }
  return cur;
}

function toUpperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf key of the schema with its CUSTODY_ environment variable name. */
export function configLeaves(schema: z.ZodType = configSchema, path: string[] = []): Leaf[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => configLeaves(v, [...path, k]));
  }
  const kind = s instanceof z.ZodBoolean ? 'boolean' : s instanceof z.ZodNumber ? 'number' : s instanceof z.ZodArray ? 'array' : 'string';
  return [{ path, env: ENV_PREFIX + path.map(toUpperSnake).join('_'), kind }];
}

/** Keys that were renamed, and what to write instead: an old config file gets a hint, not just "unrecognized". */
const RENAMED_KEYS: Record<string, string> = {
  'api.trustProxy':
    'api.trustProxy was replaced by api.trustedProxies, a list of the proxies\' addresses or CIDRs (e.g. [127.0.0.1]); X-Forwarded-For is believed only from those',
};

function parseEnvValue(leaf: Leaf, raw: string, problems: string[]): unknown {
  switch (leaf.kind) {
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      problems.push(`${leaf.env}: expected true or false, got "${raw}"`);
      return undefined;
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) {
        problems.push(`${leaf.env}: expected a number, got "${raw}"`);
        return undefined;
      }
      return n;
    }
    case 'array':
      return raw.trim().startsWith('[') ? (JSON.parse(raw) as unknown) : raw.split(',').map((x) => x.trim()).filter(Boolean);
    default:
      return raw;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined || next === null || typeof next !== 'object') cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

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

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${errorMessage(e)}`, [], { cause: e });
  }
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

/**
 * Load the configuration once: file (if any), then CUSTODY_* environment overrides,
 * validated as a whole so every problem is reported at once. The result is frozen.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const home = resolveHome({ home: opts.home, env });
  const file = opts.configFile ? resolve(opts.configFile) : existsSync(defaultConfigPath(home)) ? defaultConfigPath(home) : undefined;
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};

  const problems: string[] = [];
  const leaves = configLeaves();
  for (const leaf of leaves) {
    const v = env[leaf.env];
    if (v === undefined) continue;
    try {
      const parsed = parseEnvValue(leaf, v, problems);
      if (parsed !== undefined) setPath(raw, leaf.path, parsed);
    } catch (e) {
      problems.push(`${leaf.env}: ${errorMessage(e)}`);
    }
  }
  for (const name of Object.keys(env)) {
    // CUSTODY_HOME picks the home; CUSTODY_TOKEN is the credential of the custody user a
    // command acts as (src/cli/context.ts): neither is a configuration key.
    if (name.startsWith(ENV_PREFIX) && name !== 'CUSTODY_HOME' && name !== 'CUSTODY_TOKEN' && !leaves.some((l) => l.env === name)) {
      problems.push(`${name}: not a configuration key`);
    }
  }

  // Parsed once per process: zod's just-in-time compiled object parsers would cost more
  // to build than this one parse takes without them (issue 13, CLI start-up).
  const result = configSchema.safeParse(raw, { jitless: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const where = issue.path.length ? issue.path.join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const key = [...issue.path, k].join('.');
          problems.push(RENAMED_KEYS[key] ?? `${where}: not a configuration key: "${k}"`);
        }
      } else problems.push(`${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    const source = file ? `config ${file}` : 'configuration';
    throw new ConfigError(`invalid ${source}: ${problems.join('; ')}`, problems);
  }
  const c = result.data;
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
