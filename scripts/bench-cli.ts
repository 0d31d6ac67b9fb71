/**
 * CLI start-up benchmark (issue 13): `npm run bench:cli [-- options]`.
 *
 * Wall time of `node -e 0` and of the built CLI for `custody --version`, `custody
 * --help` and `custody verify` on an empty, freshly initialised station (a temp
 * CUSTODY_HOME), each the median of --runs runs after one warm-up run, in alternation
 * so that a busy moment of the machine falls on every command alike. Prints each
 * median (with the fastest and slowest run) and its ratio to `node -e 0` against the
 * targets: --version and --help within 1.5×, verify within 3×. `--json` prints one
 * JSON line only. Exit 0 whatever the figures: this is for people, not CI.
 *
 * Options: --runs N (7), --cli FILE (dist/cli/main.js; another build to compare),
 * --keep (leave the temp station).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Case {
  name: string;
  args: string[];
  /** Ratio to `node -e 0` that the issue asks for; null for the baseline itself. */
  target: number | null;
}

export interface CliBenchRow {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  ratio: number;
  target: number | null;
  met: boolean | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One run: wall milliseconds from spawn to exit. The command must succeed. */
function timeOnce(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return ms;
}

export async function benchCli(opts: { runs: number; cli: string; keep?: boolean }): Promise<CliBenchRow[]> {
  if (!existsSync(opts.cli)) throw new Error(`${opts.cli} is missing: run npm run build`);
  const dir = await mkdtemp(join(tmpdir(), 'custody-bench-cli-'));
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTODY_') && !k.startsWith('npm_')) env[k] = v;
    env.CUSTODY_HOME = join(dir, 'home');
    timeOnce([opts.cli, 'init'], env);

    const cases: Case[] = [
      { name: 'node -e 0', args: ['-e', '0'], target: null },
      { name: 'custody --version', args: [opts.cli, '--version'], target: 1.5 },
      { name: 'custody --help', args: [opts.cli, '--help'], target: 1.5 },
      { name: 'custody verify (empty station)', args: [opts.cli, 'verify'], target: 3 },
    ];
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (const c of cases) timeOnce(c.args, env); // warm-up: page cache, not counted
    for (let i = 0; i < opts.runs; i++) {
      for (const c of cases) times.get(c.name)!.push(timeOnce(c.args, env));
      process.stderr.write(`run ${i + 1}/${opts.runs}\r`);
    }
    process.stderr.write('\n');
    const base = median(times.get('node -e 0')!);
    return cases.map((c) => {
      const t = times.get(c.name)!;
      const m = median(t);
      const ratio = m / base;
      return { name: c.name, medianMs: m, minMs: Math.min(...t), maxMs: Math.max(...t), ratio, target: c.target, met: c.target === null ? null : ratio <= c.target };
    });
  } finally {
    if (opts.keep) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

function table(rows: CliBenchRow[], runs: number): string {
  const head = ['command', `median ms (${runs} runs)`, 'min–max ms', '× node -e 0', 'target'];
  const body = rows.map((r) => [
    r.name,
    r.medianMs.toFixed(0),
    `${r.minMs.toFixed(0)}–${r.maxMs.toFixed(0)}`,
    r.ratio.toFixed(2),
    r.target === null ? '' : `≤ ${r.target} ${r.met ? 'met' : 'NOT met'}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '7' }, cli: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive whole number');
  const cli = resolve(values.cli ?? fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
  const rows = await benchCli({ runs, cli, keep: values.keep });
  if (!values.json) process.stdout.write(`${table(rows, runs)}\n`);
  process.stdout.write(JSON.stringify({ runs, cli, rows }) + '\n');
}
