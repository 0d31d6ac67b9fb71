import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI; `npm test` builds it first. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTODY_')) env[k] = v;
  return { ...env, ...extra };
}

export function startCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  return spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Run the built CLI as a child process, with no CUSTODY_* variables but those given. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return collect(startCli(args, env));
}

/**
 * Run the built CLI on a terminal of its own (util-linux `script` gives it a
 * pseudo-terminal), as a person at the station sees it: progress lines included, stdout
 * and stderr together in `stdout`, as the terminal shows them.
 */
export function runCliOnTerminal(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const quote = (a: string): string => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return collect(spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The CLI's TypeScript source, run through tsx: for integration tests that need no build. */
export const CLI_SOURCE = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export function runCliFromSource(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return collect(spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Poll a condition (no fixed sleeps): resolves when it holds, rejects after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
