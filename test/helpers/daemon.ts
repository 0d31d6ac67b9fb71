import type { ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { startCli } from './cli.js';

/** A built `custody daemon` running as a child process, with its log lines as they come. */
export interface Daemon {
  child: ChildProcess;
  /** Every JSON log line on stdout, parsed. */
  lines: Array<Record<string, unknown>>;
  /** Everything on stdout that is not a JSON object (there should be nothing). */
  stray: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 20 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running: ChildProcess[] = [];
// Under vitest only: the browser harness is also used by npm run bench:console.
if (process.env.VITEST) {
  afterEach(() => {
    // A test that failed before stopping its daemon must not leave it running.
    for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

/**
 * Start the built daemon on `home` with these CUSTODY_* variables (and no others), and
 * 16 I/O threads as its systemd unit gives it (the command sets them itself on Node 22
 * and 24, not on Node 20, where the pool exists before it runs; with 4, reads that
 * pulled recorders never answer can hold every thread). It is killed after the test
 * that started it, unless `acrossTests` (a daemon started in beforeAll for several
 * tests): then the caller stops it in afterAll.
 */
export function startDaemon(home: string, env: Record<string, string>, opts: { acrossTests?: boolean } = {}): Daemon {
  const child = startCli(['daemon', '--home', home], { UV_THREADPOOL_SIZE: '16', ...env });
  if (!opts.acrossTests) running.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const stray: string[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        stray.push(line);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stray,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
