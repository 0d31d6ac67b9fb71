import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { CONFIG_CACHE_FILE, loadConfig, redactConfig } from './load.js';
import { configLeaves } from './validate.js';

function home(): string {
  return mkdtempSync(join(tmpdir(), 'custody-config-'));
}

describe('loadConfig', () => {
  it('uses the defaults when there is no file', () => {
    const h = home();
    const c = loadConfig({ home: h, env: {} });
    expect(c.timezone).toBe('Asia/Shanghai');
    expect(c.vault.kind).toBe('fs');
    expect(c.vault.fs.path).toBe(join(h, 'vault'));
    expect(c.api.host).toBe('127.0.0.1');
    expect(Object.isFrozen(c.vault)).toBe(true);
  });

  it('reads <home>/custody.yaml and lets CUSTODY_* variables override any key', () => {
    const h = home();
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  port: 9000\ningest:\n  concurrency: 3\n');
    const c = loadConfig({ home: h, env: { CUSTODY_API_PORT: '8471', CUSTODY_INGEST_WIPE_AFTER_INGEST: 'true', CUSTODY_TIMEZONE: 'Europe/Berlin' } });
    expect(c.api.port).toBe(8471);
    expect(c.ingest.concurrency).toBe(3);
    expect(c.ingest.wipeAfterIngest).toBe(true);
    expect(c.timezone).toBe('Europe/Berlin');
  });

  it('takes every IANA zone Node.js knows, canonical names and aliases alike, and only those', () => {
    const h = home();
    for (const tz of ['Asia/Shanghai', 'UTC', 'Asia/Calcutta', 'Asia/Chongqing', 'asia/shanghai']) {
      expect(loadConfig({ home: h, env: { CUSTODY_TIMEZONE: tz } }).timezone, tz).toBe(tz);
    }
    for (const tz of ['Mars/Olympus', 'Asia/Shanghai ', '']) {
      expect(() => loadConfig({ home: h, env: { CUSTODY_TIMEZONE: tz } }), JSON.stringify(tz)).toThrow(/timezone/);
    }
  });

  it('tells an old config file what a renamed key is now called (api.trustProxy), beside other problems', () => {
    const h = home();
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  trustProxy: true\n  nonsense: 1\n');
    const e = (() => {
      try {
        loadConfig({ home: h, env: {} });
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    const problems = (e as ConfigError).problems.join('\n');
    expect(problems).toContain('api.trustProxy was replaced by api.trustedProxies');
    expect(problems).toContain('api: not a configuration key: "nonsense"');
  });

  it('names every environment variable after the upper-snake key path', () => {
    const names = configLeaves().map((l) => l.env);
    expect(names).toContain('CUSTODY_API_PORT');
    expect(names).toContain('CUSTODY_VAULT_S3_FORCE_PATH_STYLE');
    expect(names).toContain('CUSTODY_VAULT_FS_PATH');
  });

  // Issue 13: through zod's public API (unwrap()), not its internals.
  it('sees through optional, default, prefault and nullable wrappers to each leaf and its kind', () => {
    const kind = (env: string) => configLeaves().find((l) => l.env === env)?.kind;
    expect(kind('CUSTODY_API_PORT')).toBe('number'); // a default inside a prefaulted object
    expect(kind('CUSTODY_VAULT_FS_FSYNC')).toBe('boolean');
    expect(kind('CUSTODY_VAULT_S3_FORCE_PATH_STYLE')).toBe('boolean'); // inside an optional object
    expect(kind('CUSTODY_DEVICES_MOUNT_ROOTS')).toBe('array');
    expect(kind('CUSTODY_COMPLIANCE_MAX_FILE_NUMBER_JUMP')).toBe('number');
    expect(kind('CUSTODY_TIMEZONE')).toBe('string'); // a default with a refinement
    // No wrapper is taken for a leaf: every leaf is a key of the example file's kind.
    expect(configLeaves().every((l) => ['boolean', 'number', 'array', 'string'].includes(l.kind))).toBe(true);
    expect(configLeaves().some((l) => l.env === 'CUSTODY_VAULT_S3')).toBe(false);
    // And the kinds are what loading uses.
    const c = loadConfig({ home: '/nonexistent-custody-home', env: { CUSTODY_VAULT_FS_FSYNC: 'off', CUSTODY_COMPLIANCE_MAX_FILE_NUMBER_JUMP: '50', CUSTODY_DEVICES_MOUNT_ROOTS: '/a, /b' } });
    expect([c.vault.fs.fsync, c.compliance.maxFileNumberJump, c.devices.mountRoots]).toEqual([false, 50, ['/a', '/b']]);
  });

  it('reports every problem at once', () => {
    const h = home();
    const f = join(h, 'bad.yaml');
    writeFileSync(f, 'api:\n  port: "x"\n  colour: blue\ntimezone: Mars/Olympus\nvault:\n  kind: s3\n');
    let err: unknown;
    try {
      loadConfig({ home: h, configFile: f, env: { CUSTODY_INGEST_CONCURRENCY: 'many', CUSTODY_NOPE: '1' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/api\.port/);
    expect(problems).toMatch(/colour/);
    expect(problems).toMatch(/timezone/);
    expect(problems).toMatch(/vault\.s3: required/);
    expect(problems).toMatch(/CUSTODY_INGEST_CONCURRENCY/);
    expect(problems).toMatch(/CUSTODY_NOPE: not a configuration key/);
  });

  it('rejects a file that is not YAML or not a mapping, naming the file', () => {
    const h = home();
    const f = join(h, 'c.yaml');
    writeFileSync(f, 'api: [unclosed');
    expect(() => loadConfig({ home: h, configFile: f, env: {} })).toThrow(/c\.yaml is not valid YAML/);
    writeFileSync(f, '- a\n- b\n');
    expect(() => loadConfig({ home: h, configFile: f, env: {} })).toThrow(/must be a mapping/);
    expect(() => loadConfig({ home: h, configFile: join(h, 'missing.yaml'), env: {} })).toThrow(/cannot read config file/);
  });

  it('reads the S3 secret from a file and never prints it', () => {
    const h = home();
    writeFileSync(join(h, 'secret'), 'hunter2\n');
    writeFileSync(join(h, 'custody.yaml'), 'vault:\n  kind: s3\n  s3:\n    bucket: evidence\n    accessKeyId: AK\n    secretAccessKeyFile: secret\n');
    const c = loadConfig({ home: h, env: {} });
    expect(c.vault.s3?.secretAccessKey).toBe('hunter2');
    expect(JSON.stringify(redactConfig(c))).not.toContain('hunter2');
  });
});

describe('the cache of validated configurations (issue 13: a short command need not load zod)', () => {
  /** A station's home: the cache is kept only where a catalog is. */
  function station(): string {
    const h = home();
    writeFileSync(join(h, 'catalog.db'), '');
    return h;
  }
  const cacheFile = (h: string) => join(h, CONFIG_CACHE_FILE);

  it('keeps the validated configuration in a station\'s home, readable by its owner only, and gives the same back', () => {
    const h = station();
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  port: 9000\n');
    const first = loadConfig({ home: h, env: { CUSTODY_INGEST_CONCURRENCY: '3' } });
    expect(statSync(cacheFile(h)).mode & 0o777).toBe(0o600);
    const second = loadConfig({ home: h, env: { CUSTODY_INGEST_CONCURRENCY: '3' } });
    expect(second).toEqual(first);
    expect(Object.isFrozen(second.vault)).toBe(true);
    expect(second.api.port).toBe(9000);
    expect(second.ingest.concurrency).toBe(3);
  });

  it('validates again when the file or a CUSTODY_ variable changes: a bad edit is refused though a good one was cached', () => {
    const h = station();
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  port: 9000\n');
    loadConfig({ home: h, env: {} });
    expect(loadConfig({ home: h, env: { CUSTODY_API_PORT: '9001' } }).api.port).toBe(9001);
    expect(() => loadConfig({ home: h, env: { CUSTODY_API_PORT: 'x' } })).toThrow(ConfigError);
    expect(() => loadConfig({ home: h, env: { CUSTODY_NO_SUCH_KEY: '1' } })).toThrow(/not a configuration key/);
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  port: 70000\n');
    expect(() => loadConfig({ home: h, env: {} })).toThrow(/api\.port/);
    writeFileSync(join(h, 'custody.yaml'), 'api:\n  port: 9002\n');
    expect(loadConfig({ home: h, env: {} }).api.port).toBe(9002);
  });

  it('never takes an entry made for other inputs, nor a damaged file', () => {
    const h = station();
    loadConfig({ home: h, env: {} });
    const entry = JSON.parse(readFileSync(cacheFile(h), 'utf8')) as { key: string; config: { api: { port: number } } };
    // Someone's (or an old build's) entry under another key: not used.
    writeFileSync(cacheFile(h), JSON.stringify({ key: 'f'.repeat(64), config: { ...entry.config, api: { ...entry.config.api, port: 1 } } }));
    expect(loadConfig({ home: h, env: {} }).api.port).toBe(8470);
    writeFileSync(cacheFile(h), '{ not json');
    expect(loadConfig({ home: h, env: {} }).api.port).toBe(8470);
  });

  it('keeps nothing for a home without a catalog, nor a configuration holding a secret', () => {
    const fresh = home();
    loadConfig({ home: fresh, env: {} });
    expect(existsSync(cacheFile(fresh))).toBe(false);
    const h = station();
    const s3 = { CUSTODY_VAULT_KIND: 's3', CUSTODY_VAULT_S3_BUCKET: 'evidence', CUSTODY_VAULT_S3_ENDPOINT: 'http://127.0.0.1:9', CUSTODY_VAULT_S3_ACCESS_KEY_ID: 'id', CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: 'secret' };
    expect(loadConfig({ home: h, env: s3 }).vault.s3?.secretAccessKey).toBe('secret');
    expect(existsSync(cacheFile(h))).toBe(false);
  });
});
