import type { Command } from 'commander';
import { once } from 'node:events';
import type { ApiServer } from '../../api/index.js';
import { createLogger, UsageError } from '../../core/index.js';
import type { LedgerSealer } from '../../ledger/index.js';
import { globals, openRuntime, output } from '../context.js';

interface ServeOpts {
  host?: string;
  port?: string;
}

function portOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new UsageError(`--port must be 0..65535, got "${raw}"`);
  return Number(raw);
}

/**
 * `custody serve`: the HTTP API alone, in the foreground, without device detection or
 * ingest (the daemon serves the same API alongside them). SIGTERM or SIGINT stops it
 * cleanly: no new requests, event streams ended, requests in flight finished, the
 * ledger tail sealed, the catalog closed; exit 0.
 */
export async function serveCommand(opts: ServeOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const port = portOption(opts.port);
  // Listen for the stop signal before anything slow, so an early SIGTERM is clean too.
  const signals = new AbortController();
  const stopped = Promise.race([once(process, 'SIGTERM', { signal: signals.signal }), once(process, 'SIGINT', { signal: signals.signal })]).then(
    ([sig]) => sig as string,
    () => 'aborted',
  );
  let rt;
  try {
    // A long-running command logs at the configured level (to stderr: stdout is for the address).
    rt = await openRuntime(g, {
      logFor: (c) => createLogger({ level: g.logLevel ?? c.log.level, destination: 2 }),
      // What the API's services do on their own (a compliance scan) is the API's, as in the daemon it is the daemon's.
      actor: 'custody:api',
      // --host and --port over api.host and api.port.
      adjust: (c) => ({ ...c, api: { ...c.api, ...(opts.host !== undefined ? { host: opts.host } : {}), ...(port !== undefined ? { port } : {}) } }),
    });
  } catch (e) {
    signals.abort();
    throw e;
  }
  const { log, station } = rt;
  let server: ApiServer | undefined;
  let sealer: LedgerSealer | undefined;
  try {
    // The job runner is not started: the API reads only its queue depth, for /metrics.
    sealer = await station.sealer();
    server = await station.api();
    const addr = await server.start();
    sealer.start();
    const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
    const url = `http://${host}:${addr.port}`;
    const consoleUrl = server.hasConsole ? `${url}/` : null;
    output(
      g,
      { listening: addr, url, docs: `${url}/docs`, console: consoleUrl },
      `custody API listening on ${url} (reference: ${url}/docs)${consoleUrl ? `\nconsole: ${consoleUrl}` : '\nconsole: not built (npm run build)'}`,
    );
    const sig = await stopped;
    log.info({ signal: sig }, 'stopping');
  } finally {
    signals.abort();
    await server?.stop();
    await sealer?.stop().catch((e: unknown) => log.error({ err: e }, 'could not seal the ledger tail; it will be sealed later'));
    await (await station.jobs()).stop().catch((e: unknown) => log.error({ err: e }, 'job runner did not close cleanly'));
    await rt.close();
    log.flush();
  }
}
