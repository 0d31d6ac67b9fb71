/**
 * What the two benchmark scripts share: running each measured step in its own child
 * process (so its peak RSS is its own, not the generator's), timing shell baselines
 * with their CPU, dropping the page cache when asked, and printing a table plus one
 * JSON line.
 *
 * Benchmarks print figures; nothing here asserts a time. Tests never do either.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** One measured step: wall time and CPU of exactly the measured work, and the process peak RSS. */
export interface Measured {
  wallS: number;
  /** User + system CPU seconds of the measured work. */
  cpuS: number;
  /** The system (kernel) share of cpuS: copying through the page cache, page faults, fsync. */
  sysS: number;
  /** Peak resident set of the process that ran the step (includes the runtime itself). */
  maxRssMiB: number | null;
  /** Resident set just before the step began: the runtime's own share of maxRssMiB. */
  startRssMiB: number | null;
}

/** Run fn and report what it cost this process. */
export async function measure<T>(fn: () => Promise<T> | T): Promise<{ value: T; m: Measured }> {
  const startRss = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    value,
    m: {
      wallS,
      cpuS: (cpu.user + cpu.system) / 1e6,
      sysS: cpu.system / 1e6,
      // resourceUsage().maxRSS is in KiB.
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      startRssMiB: startRss / MiB,
    },
  };
}

let hz: number | undefined;
/** Clock ticks per second of /proc times (read once: getconf is itself a child). */
function clockTicks(): number {
  hz ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return hz;
}

/**
 * CPU seconds used by this process's terminated, waited-for children (and theirs),
 * from /proc/self/stat cutime + cstime. Null off Linux. libuv reaps children, so a
 * delta around one spawn is that command's CPU.
 */
function childrenCpuSeconds(): { user: number; sys: number } | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Field 2 (comm) may hold spaces; the fields after its closing parenthesis start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[13]) / clockTicks(); // field 16, cutime
    const sys = Number(fields[14]) / clockTicks(); // field 17, cstime
    return Number.isFinite(user + sys) ? { user, sys } : null;
  } catch {
    return null;
  }
}

/** Run a shell command line (a baseline), inheriting stderr, and time it. */
export async function timeShell(script: string, opts: { cwd?: string } = {}): Promise<Measured> {
  clockTicks();
  const cpu0 = childrenCpuSeconds();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'], cwd: opts.cwd });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`baseline failed (${signal ?? `exit ${code}`}): ${script}`));
    });
  });
  const wallS = (performance.now() - t0) / 1000;
  const cpu1 = childrenCpuSeconds();
  const known = cpu0 !== null && cpu1 !== null;
  return {
    wallS,
    cpuS: known ? cpu1.user + cpu1.sys - cpu0.user - cpu0.sys : Number.NaN,
    sysS: known ? cpu1.sys - cpu0.sys : Number.NaN,
    maxRssMiB: null,
    startRssMiB: null,
  };
}

/** Single-quote for bash. */
export function sh(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Flush every dirty page, so one step's writeback is not charged to the next. */
export function syncAll(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

const DROP_CACHES = '/proc/sys/vm/drop_caches';

/** Write back and drop the page cache (root on Linux only); throws when not allowed. */
export function dropCaches(): void {
  syncAll();
  writeFileSync(DROP_CACHES, '3\n');
}

/** Whether --cold can work here; checked up front so a long run does not fail half-way. */
export function canDropCaches(): boolean {
  try {
    dropCaches();
    return true;
  } catch {
    return false;
  }
}

/** Before each measured step: write back everything, and drop the cache when cold. */
export function settle(cold: boolean): void {
  if (cold) dropCaches();
  else syncAll();
}

/**
 * Child protocol: the parent runs `<script> --child <step> --args <json>`; the child
 * prints one JSON line as its last line of stdout. Progress goes to stderr.
 */
export async function runChild<T>(script: string, step: string, args: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // execArgv carries tsx's loader, so the child runs the same TypeScript.
    const child = spawn(process.execPath, [...process.execArgv, script, '--child', step, '--args', JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`benchmark step ${step} failed (${signal ?? `exit ${code}`})`));
        return;
      }
      const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n');
      try {
        resolve(JSON.parse(lines[lines.length - 1]!) as T);
      } catch (e) {
        reject(new Error(`benchmark step ${step} printed no result: ${String(e)}`));
      }
    });
  });
}

/** In a child: run the named step and print its result as the last stdout line. */
export async function childMain(argv: string[], steps: Record<string, (args: never) => Promise<unknown>>): Promise<boolean> {
  const i = argv.indexOf('--child');
  if (i < 0) return false;
  const step = argv[i + 1]!;
  const args = JSON.parse(argv[argv.indexOf('--args') + 1] ?? '{}') as never;
  const fn = steps[step];
  if (!fn) throw new Error(`unknown benchmark step ${step}`);
  const result = await fn(args);
  process.stdout.write(JSON.stringify(result) + '\n');
  return true;
}

/** A temp folder for one run, removed at exit (also on Ctrl-C) unless kept. */
export async function benchDir(prefix: string, opts: { parent?: string | undefined; keep: boolean; log: (s: string) => void }): Promise<{ dir: string; cleanup(): void }> {
  // A --dir that does not exist yet is made (its own removal is left to the user).
  if (opts.parent) await mkdir(opts.parent, { recursive: true });
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), prefix));
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    if (opts.keep) opts.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { dir, cleanup };
}

/** Facts about the machine that make figures comparable (or not). */
export interface Machine {
  cpus: number;
  cpuModel: string | null;
  memGiB: number;
  node: string;
  kernel: string;
  loadavg1m: number;
}

export function machine(): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? null,
    memGiB: Math.round(totalmem() / GiB),
    node: process.version,
    kernel: release(),
    loadavg1m: Number(loadavg()[0]!.toFixed(2)),
  };
}

/**
 * A warning when something else was using the machine: load is sampled before and
 * after the run. The benchmark itself raises the later figure by a few (its copies
 * wait on the disk in libuv's threadpool), so only a high one counts.
 */
export function busyWarning(loadBefore: number, loadAfter: number): string | null {
  const cpus = availableParallelism();
  if (loadBefore <= cpus * 0.5 && loadAfter <= cpus * 3) return null;
  return `the machine was busy (1-minute load ${loadBefore} before, ${loadAfter} after, on ${cpus} CPUs): figures are unreliable, run again when it is idle`;
}

export const mb = (bytes: number): number => bytes / 1e6;
export const round = (n: number | null, digits = 2): number | null => (n === null || !Number.isFinite(n) ? null : Number(n.toFixed(digits)));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A plain text table: first row is the header; numbers right-aligned. */
export function table(rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '—' : typeof c === 'number' ? String(c) : c)));
  const widths = cells[0]!.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const isNum = (j: number): boolean => rows.slice(1).every((r) => r[j] === null || typeof r[j] === 'number');
  const line = (r: string[]): string => r.map((c, j) => (isNum(j) ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** parseArgs, with a one-line message instead of a stack for a bad option. */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    return usage(`${(e as Error).message} (--help lists the options)`);
  }
}

/** Exit with a message for bad options (no stack). */
export function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/**
 * src/ of the checkout at `repo` built with its own tsc into `.bench/<tag>-<pid>` there
 * (gitignored, so the build's imports find that checkout's node_modules): a step runs
 * from it as the installed package runs, not through tsx, which transpiles each module
 * the first time it is imported (in every worker thread again). Null, with the reason
 * logged, when tsc emits no `probe` (a file of the build); the step then runs the source.
 */
export function tscBuild(repo: string, tag: string, probe: string, log: (s: string) => void): string | null {
  const out = join(repo, '.bench', `${tag}-${process.pid}`);
  log(`building ${join(repo, 'src')} (tsc) …`);
  // Type errors elsewhere in a working tree do not stop tsc's output.
  spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.json'), '--outDir', out], { stdio: 'ignore' });
  if (!existsSync(join(out, probe))) {
    log(`  tsc gave no ${probe}: running the source through tsx instead`);
    return null;
  }
  return out;
}
