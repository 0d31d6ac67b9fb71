import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Flag } from '../../compliance/index.js';
import { UsageError } from '../../core/index.js';
import { FolderDriver } from '../../devices/index.js';
import type { SessionReport } from '../../ingest/index.js';
import type { Config } from '../../config/index.js';
import { globals, withRuntime, EXIT_PROBLEM, type GlobalOptions, type Runtime } from '../context.js';
import { IngestProgressBars } from '../progress.js';


interface IngestOpts {
  serial?: string;
  officer?: string;
  unit?: string;
  model?: string;
  wipe?: boolean;
  followUp: boolean;
}

const STOP_GRACE_MS = 60_000;

function toJson(r: SessionReport, flags: Flag[]): unknown {
  return {
    ingested: r.ingested,
    skipped: r.skipped,
    failed: r.failed,
    bytes: r.bytes,
    status: r.status,
    sessionId: r.sessionId,
    serial: r.serial,
    items: r.items.map(({ evidenceId, sha256, path, size, recordedAt, wiped }) => ({ evidenceId, sha256, path, size, recordedAt, wiped })),
    errors: r.error && !r.errors.some((e) => e.code === r.error!.code) ? [...r.errors, r.error] : r.errors,
    flags: flags.map(({ id, rule, summary }) => ({ id, rule, summary })),
  };
}

function human(r: SessionReport, dir: string, flags: Flag[]): string {
  const lines = [
    `${dir}: recorder ${r.serial ?? '?'}: ${r.ingested} ingested, ${r.skipped} skipped, ${r.failed} failed, ${(r.bytes / 1e6).toFixed(1)} MB (${r.status})`,
  ];
  for (const e of r.errors) lines.push(`  failed ${e.path}: ${e.message}`);
  if (r.error) lines.push(`  session stopped: ${r.error.message}`);
  for (const f of flags) lines.push(`  flagged ${f.rule} ${f.id}: ${f.summary}`);
  return lines.join('\n');
}

export async function ingestCommand(dir: string, opts: IngestOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const root = resolve(dir);
  const st = await stat(root).catch(() => null);
  if (!st || !st.isDirectory()) throw new UsageError(`not a folder: ${dir}`);
  // --wipe overrides ingest.wipeAfterIngest for this run.
  const runtime = opts.wipe ? { adjust: (c: Config): Config => ({ ...c, ingest: { ...c.ingest, wipeAfterIngest: true } }) } : {};
  await withRuntime(g, (rt) => ingestFolder(rt, g, root, dir, opts), runtime);
}

async function ingestFolder(rt: Runtime, g: GlobalOptions, root: string, dir: string, opts: IngestOpts): Promise<void> {
  const driver = new FolderDriver({
    root,
    identity: {
      ...(opts.serial ? { serial: opts.serial } : {}),
      ...(opts.officer ? { officer: opts.officer } : {}),
      ...(opts.unit ? { unit: opts.unit } : {}),
      ...(opts.model ? { model: opts.model } : {}),
    },
  });
  const followUps = await rt.station.followUps();
  try {
    const service = await rt.station.ingest();
    const bars = new IngestProgressBars(Boolean(process.stderr.isTTY) && !g.json);
    const { session, done } = service.start(driver, { actor: rt.station.actor });
    session.on('progress', (p) => bars.update(p));
    // SIGTERM/SIGINT: stop taking files; copies in flight finish (or roll back
    // after the grace period), then the report is printed as usual.
    const onSignal = (): void => {
      rt.log.warn('stopping: letting copies in flight finish');
      void service.stop(STOP_GRACE_MS);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const report = await done.finally(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
    bars.stop();
    // As the daemon does after a dock (issue 13): one late-upload flag per recorder and
    // officer for what this session brought in late, and its attribution conflicts.
    const flags = (await rt.station.compliance()).rules.checkSession(report.sessionId);
    if (flags.length > 0) rt.log.info({ sessionId: report.sessionId, flags: flags.map((f) => f.rule) }, 'flagged at ingest');
    // A one-shot command's clean shutdown: seal what it added, so the vault alone
    // can rebuild and check the ledger. A failure here loses nothing (the entries
    // are in the catalog and are sealed by the next run or the daemon).
    try {
      await (await rt.station.sealer()).seal({ partial: true });
    } catch (e) {
      rt.log.error({ err: e }, 'could not seal the ledger into the vault; it will be sealed later');
    }
    // The report comes as soon as the footage is safe (issue 18); probes, thumbnails and
    // proxies follow it, or are left queued for the daemon's sweep with --no-follow-up.
    if (g.json) process.stdout.write(JSON.stringify(toJson(report, flags)) + '\n');
    else process.stdout.write(human(report, dir, flags) + '\n');
    if (report.failed > 0 || report.status !== 'complete') process.exitCode = EXIT_PROBLEM;
    if (opts.followUp && report.ingested > 0) {
      if (!g.json && process.stderr.isTTY) process.stderr.write('making thumbnails and reading media details …\n');
      await followUps.drain();
      // Seal what the follow-ups added (their evidence.analysed entries) as well.
      try {
        await (await rt.station.sealer()).seal({ partial: true });
      } catch (e) {
        rt.log.error({ err: e }, 'could not seal the ledger into the vault; it will be sealed later');
      }
    }
  } finally {
    await followUps.close();
  }
}
