/**
 * The configuration's validation: the CUSTODY_* environment overrides laid over the file's
 * document, then the schema (zod) over the whole, every problem reported at once. Loaded
 * by load.ts only when its cache of validated configurations misses (zod's import is
 * about half of a short command's start); importing this module installs it there.
 */
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/index.js';
import { ENV_PREFIX, installConfigValidator } from './load.js';
import { configSchema, type Config } from './schema.js';

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

/**
 * The validated configuration (before the home and secrets are filled in) of a file's
 * document and the environment's overrides; a ConfigError naming every problem otherwise.
 * `raw` is changed in place.
 */
export function validateConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined): Config {
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
  return result.data as Config;
}

installConfigValidator(validateConfig);
