import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_CACHE_FILE } from '../../src/config/index.js';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Issue 13: the CLI answers at once. Commands are registered from a light table and
 * their modules load only when they run, so `--version` and `--help` load commander
 * and a handful of custody's own files, and `verify` loads what verifying needs and
 * none of the daemon's, the API's or the recorders' dependencies.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RECORDER = fileURLToPath(new URL('../helpers/record-imports.mjs', import.meta.url));

/** Run the built CLI and return what it printed and every module it resolved. */
async function runRecorded(args: string[], file: string): Promise<CliResult & { modules: string[] }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTODY_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', RECORDER, CLI, ...args], { env: { ...env, RECORD_IMPORTS_FILE: file }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const urls = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  // As paths relative to the checkout (node: builtins as they are), without duplicates.
  const modules = [...new Set(urls.map((u) => (u.startsWith('file:') ? relative(ROOT, fileURLToPath(u)) : u)))];
  return { code, stdout, stderr, modules };
}

/** The packages among the modules: `node_modules/<name>` or `node_modules/@scope/<name>`. */
function packages(modules: string[]): string[] {
  const names = modules.flatMap((m) => {
    const at = m.lastIndexOf('node_modules/');
    if (at < 0) return [];
    const parts = m.slice(at + 'node_modules/'.length).split('/');
    return [parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!];
  });
  return [...new Set(names)].sort();
}

const own = (modules: string[]): string[] => modules.filter((m) => m.startsWith('dist/')).sort();

/** What building the program and printing its help or version may load of custody itself. */
const LIGHT = ['dist/cli/commands/index.js', 'dist/cli/exit-codes.js', 'dist/cli/main.js', 'dist/cli/program.js'];

describe('custody starts at once (issue 13)', () => {
  it('--version, --help and a command\'s --help load commander and the command table, nothing else', async () => {
    const dir = await tempDir();
    for (const [i, args] of [['--version'], ['--help'], ['verify', '--help'], ['ledger', 'proof', '--help'], ['cases', 'hold', '--help'], ['export', '--help']].entries()) {
      const r = await runRecorded(args, join(dir, `imports-${i}.txt`));
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout.length, args.join(' ')).toBeGreaterThan(0);
      expect(packages(r.modules), args.join(' ')).toEqual(['commander']);
      expect(own(r.modules), args.join(' ')).toEqual(LIGHT);
    }
  });

  it('verify on a new station loads the catalog and the vault, not the daemon, the API, the recorders or the S3 client', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const init = await runCli(['init', '--home', home]);
    expect(init.code, init.stderr).toBe(0);
    const r = await runRecorded(['verify', '--home', home], join(dir, 'imports.txt'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Vault intact/);
    const pkgs = packages(r.modules);
    expect(pkgs).toContain('better-sqlite3'); // the recording sees what verify really loads
    // yaml: the configuration is read with js-yaml (one module); yaml is for the files custody writes.
    for (const heavy of ['@aws-sdk/client-s3', 'fastify', 'sharp', 'usb', 'bullmq', 'ioredis', 'chokidar', 'cli-progress', '@ffmpeg-installer/ffmpeg', 'yaml', 'luxon', 'uuid']) {
      expect(pkgs, heavy).not.toContain(heavy);
    }
    const mine = own(r.modules);
    // Nor the services a verify does not use (the station imports each on first use; the access module only for a command acting as a user).
    for (const folder of ['dist/api/', 'dist/devices/', 'dist/ingest/', 'dist/jobs/', 'dist/media/', 'dist/proof/', 'dist/archive/', 'dist/access/', 'dist/compliance/', 'dist/retention/', 'dist/daemon.js']) {
      expect(mine.filter((m) => m.startsWith(folder)), folder).toEqual([]);
    }
    // Only the verify command's module of the table was loaded.
    expect(mine.filter((m) => m.startsWith('dist/cli/commands/'))).toEqual(['dist/cli/commands/index.js', 'dist/cli/commands/verify.js']);

    // The first run validated the configuration (zod) and cached it in the home; the next
    // takes it from there. Neither appends, so neither loads the entry types' schemas.
    expect(mine).toContain('dist/config/validate.js');
    expect((await stat(join(home, CONFIG_CACHE_FILE))).mode & 0o777).toBe(0o600);
    const again = await runRecorded(['verify', '--home', home], join(dir, 'imports-again.txt'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Vault intact/);
    expect(packages(again.modules)).not.toContain('zod');
    for (const m of [...mine, ...own(again.modules)]) expect(m).not.toBe('dist/ledger/entry-types.js');
    expect(own(again.modules)).not.toContain('dist/config/validate.js');
  });
});
