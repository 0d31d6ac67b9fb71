import type { Command } from 'commander';
import { createLogger } from '../../core/index.js';
import { runDaemon } from '../../daemon.js';
import { globals, loadCliConfig } from '../context.js';

export async function daemonCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const config = loadCliConfig(g);
  // The daemon logs JSON to stdout (journald keeps it) at log.level unless --log-level says otherwise.
  const log = createLogger({ level: g.logLevel ?? config.log.level, destination: 1 });
  process.exitCode = await runDaemon({ config, log });
  // Everything is closed; should a library still hold the event loop, do not hang
  // the service manager: exit after a moment regardless (the timer itself holds nothing).
  setTimeout(() => {
    log.warn('something still held the process after a clean stop; exiting');
    process.exit(process.exitCode ?? 0);
  }, 3000).unref();
}
