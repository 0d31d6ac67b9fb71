import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { generatePassword, hashPassword } from '../../access/index.js';
import { loadConfig } from '../../config/index.js';
import { CustodyError, UsageError, errorMessage } from '../../core/index.js';
import { createDaemon, type Daemon } from '../../daemon.js';
import { simulateRecorder, type DockOutcome } from '../../devices/index.js';
import { verifyVault } from '../../ledger/index.js';
import { EXIT_PROBLEM, globals } from '../context.js';
import { IngestProgressBars } from '../progress.js';

interface DemoOpts {
  exit?: boolean;
  clips: string;
}

/** One simulated recorder of the demo and how it reaches the station. */
interface DemoRecorder {
  serial: string;
  officer: string;
  unit: string;
  story: string;
  via: 'mount' | 'drop';
  battery: number;
  clockOffsetSeconds: number;
  /** How long before now its first recording started. */
  recordedAgoHours: number;
}

const RECORDERS: DemoRecorder[] = [
  { serial: 'DEMO-A01', officer: '100101', unit: '350203000000', story: 'an ordinary end of shift', via: 'mount', battery: 86, clockOffsetSeconds: 2, recordedAgoHours: 3 },
  { serial: 'DEMO-B02', officer: '100102', unit: '350203000000', story: 'battery almost flat', via: 'mount', battery: 12, clockOffsetSeconds: -1, recordedAgoHours: 2 },
  { serial: 'DEMO-C03', officer: '100103', unit: '350206000000', story: 'clock 7 minutes fast', via: 'mount', battery: 71, clockOffsetSeconds: 420, recordedAgoHours: 5 },
  { serial: 'DEMO-D04', officer: '100104', unit: '350206000000', story: 'footage 3 days old, copied by hand into the drop folder', via: 'drop', battery: 64, clockOffsetSeconds: 0, recordedAgoHours: 72 },
];

const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
const DAY_MS = 24 * 3600_000;

function demoConfig(home: string): string {
  return `# custody demo configuration (written by custody demo)
devices:
  mountRoots: [${JSON.stringify(join(home, 'media'))}]
  dropFolders: [${JSON.stringify(join(home, 'drop'))}]
  dropSettleSeconds: 1
  mountWaitSeconds: 2
  rescanSeconds: 5
  # The simulated recorders are folders, not USB devices.
  usb: false
ledger:
  sealIntervalSeconds: 10
api:
  # Any free port, so the demo runs beside a station that uses 8470.
  port: 0
`;
}

/** `custody init` as its own process: the demo sets up its home exactly as an operator would. */
function runInit(home: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'init', '--home', home], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new CustodyError('DEMO_INIT_FAILED', `custody init exited with ${code}`))));
  });
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

interface Result {
  rec: DemoRecorder;
  outcome: DockOutcome;
  seconds: number;
  late: number;
}

function summary(results: Result[]): string {
  const lines = ['', 'Pre-duty check and ingest, per recorder:', ''];
  for (const r of results) {
    const o = r.outcome;
    const rep = o.report;
    const rate = rep && r.seconds > 0 ? `${(rep.bytes / 1e6 / r.seconds).toFixed(1)} MB/s` : '-';
    const verdict = o.assessment.verdict === 'ready' ? 'READY' : 'NOT READY';
    lines.push(
      `  ${pad(r.rec.serial, 9)} ${pad(verdict, 9)} ${rep ? `${rep.ingested} files, ${mb(rep.bytes)}, ${rate}` : `not ingested: ${o.skipped ?? '?'}`}  (${r.rec.story}; via ${r.rec.via === 'drop' ? 'the drop folder' : 'a mount'})`,
    );
    for (const reason of o.assessment.reasons) lines.push(`              - ${reason.message}`);
    const h = o.health;
    lines.push(
      `              battery ${h?.batteryPercent ?? '?'} %, free ${h?.storageFreeBytes != null ? `${(h.storageFreeBytes / 1e9).toFixed(1)} GB` : '?'}, clock ${h?.clockDriftMs != null ? `${h.clockDriftMs >= 0 ? '+' : ''}${Math.round(h.clockDriftMs / 1000)} s` : '?'}${o.clockSyncedAt ? ' -> set to station time after ingest' : ''}`,
    );
    if (r.late > 0) lines.push(`              ${r.late} file(s) handed in more than 24 h after recording (Art. 9: late)`);
  }
  return lines.join('\n');
}

export async function demoCommand(opts: DemoOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const clips = Number(opts.clips);
  if (!Number.isInteger(clips) || clips < 0 || clips > 50) throw new UsageError('--clips must be a whole number from 0 to 50');
  const interactive = !opts.exit && Boolean(process.stdin.isTTY);
  const say = (s: string): void => void process.stdout.write(s + '\n');

  const home = g.home ? resolve(g.home) : await mkdtemp(join(tmpdir(), 'custody-demo-'));
  // Never write the demo's configuration over a real station's.
  if (existsSync(join(home, 'catalog.db')) || existsSync(join(home, 'custody.yaml'))) {
    throw new UsageError(`${home} already holds a custody home; the demo needs a new or empty folder`);
  }
  await mkdir(home, { recursive: true });
  for (const d of ['media', 'drop', 'staging']) await mkdir(join(home, d), { recursive: true });
  await writeFile(join(home, 'custody.yaml'), demoConfig(home));
  say(`custody demo: a station in ${home}`);
  await runInit(home);

  const config = loadConfig({ home });
  const logFile = join(home, 'daemon.log');
  const log = pino(
    { level: g.logLevel ?? 'info', base: { app: 'custody' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: logFile, sync: true }),
  );
  const daemon: Daemon = await createDaemon({ config, log });
  const bars = new IngestProgressBars(Boolean(process.stderr.isTTY) && !g.json);
  const results: Result[] = [];
  const started = new Map<string, number>();
  const ended = new Map<string, { outcome: DockOutcome; at: number }>();
  const waiters: Array<() => void> = [];
  daemon.activity.subscribe((e) => {
    if (e.type === 'progress') {
      bars.update({ ...e.progress, sessionId: e.progress.dockId });
    } else if (e.type === 'dock' && e.dock.sessionId === null && !process.stderr.isTTY) {
      say(`  docked ${e.dock.serial ?? '?'}: ${e.dock.verdict === 'ready' ? 'ready for duty' : `NOT ready (${e.dock.reasons.join('; ')})`}`);
    }
  });
  daemon.docks.on('docked', (o: DockOutcome) => started.set(o.dockId, Date.now()));
  daemon.docks.on('ended', (o: DockOutcome) => {
    ended.set(o.identity?.serial ?? o.location, { outcome: o, at: Date.now() });
    if (!process.stderr.isTTY && o.report) say(`  ingested ${o.report.serial ?? '?'}: ${o.report.ingested} files, ${mb(o.report.bytes)} (${o.report.status})`);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (cond: () => boolean, what: string, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new CustodyError('DEMO_TIMEOUT', `timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 500).unref();
      });
    }
  };

  let exitCode = 0;
  await daemon.start();
  try {
    // The console first (issue 15): a newcomer opens the board and watches it fill up.
    const consoleUrl = daemon.apiAddress()?.url;
    if (consoleUrl) {
      const users = (await daemon.station.access()).users;
      const { user } = users.create({ name: 'demo', role: 'supervisor', unit: null, tokenExpiresAt: new Date(Date.now() + DAY_MS) }, 'custody:demo');
      const password = generatePassword();
      // The person at this terminal is the demo user: not a password someone else gave them.
      users.setPassword(user.id, await hashPassword(password), 'custody:demo', { reset: false });
      say('');
      say(`The console (采集看板, 证据检索, 调阅申请): ${consoleUrl}/docks`);
      say(`  sign in as: demo   password: ${password}`);
      if (interactive) {
        say('Open it in a browser, then press Enter to dock the recorders.');
        await new Promise<void>((r) => process.stdin.once('data', () => r()));
        process.stdin.pause();
      }
      say('');
    }
    say(`daemon started (JSON logs in ${logFile}); making ${RECORDERS.length} simulated recorders:`);
    const media = await daemon.station.media();
    const now = Date.now();
    for (const rec of RECORDERS) {
      const staged = join(home, 'staging', rec.serial);
      await simulateRecorder({
        out: staged,
        media,
        serial: rec.serial,
        officer: rec.officer,
        unit: rec.unit,
        model: 'SIM-DSJ-1',
        clips,
        seconds: 3,
        battery: rec.battery,
        clockOffsetSeconds: rec.clockOffsetSeconds,
        recordedAt: new Date(now - rec.recordedAgoHours * 3600_000),
        timeZone: config.timezone,
      });
      say(`  ${rec.serial}: ${rec.story}`);
    }
    say(`docking them (${RECORDERS.filter((r) => r.via === 'mount').length} under the mount root, ${RECORDERS.filter((r) => r.via === 'drop').length} into the drop folder):`);
    for (const rec of RECORDERS) {
      // Docking: the whole recorder appears at once under a mount root or in the
      // drop folder, and the daemon's detection finds it like any other.
      await rename(join(home, 'staging', rec.serial), join(home, rec.via === 'drop' ? 'drop' : 'media', rec.serial));
    }
    await until(() => RECORDERS.every((r) => ended.has(r.serial)), 'every recorder to be ingested', 300_000);
    bars.stop();

    // Media analysis (probe, thumbnail) runs as jobs; let it finish so the ledger is quiet.
    await drainJobs(daemon);

    for (const rec of RECORDERS) {
      const e = ended.get(rec.serial)!;
      const items = e.outcome.report?.items ?? [];
      const late = items.filter((i) => e.at - Date.parse(i.recordedAt) > DAY_MS).length;
      results.push({ rec, outcome: e.outcome, seconds: Math.max(0.001, (e.at - (started.get(e.outcome.dockId) ?? e.at)) / 1000), late });
    }
    say(summary(results));

    const v = await verifyVault({ catalog: daemon.catalog, store: daemon.store, deep: true });
    say('');
    if (v.ok) say(`Ledger verified: ${v.entries} entries hash-chained, ${v.objects} objects re-hashed and intact.`);
    else {
      say(`Ledger does NOT verify: ${v.problems.map((p) => `${p.code}: ${p.message}`).join('; ')}`);
      exitCode = EXIT_PROBLEM;
    }
    if (results.some((r) => !r.outcome.report || r.outcome.report.status !== 'complete' || r.outcome.report.failed > 0)) exitCode = EXIT_PROBLEM;
    say('');
    say('Look around:');
    say(`  node ${CLI_MAIN} devices list --home ${home}`);
    say(`  node ${CLI_MAIN} devices show DEMO-C03 --home ${home}`);
    say(`  node ${CLI_MAIN} ledger export --home ${home} | tail -n 3`);
    if (interactive) {
      const api = daemon.apiAddress();
      if (api) {
        const { token } = (await daemon.station.access()).users.create(
          { name: 'demo auditor', role: 'auditor', unit: null, tokenExpiresAt: new Date(Date.now() + DAY_MS) },
          'custody:demo',
        );
        say('');
        say(`The HTTP API is at ${api.url} (reference: ${api.url}/docs). A token for a demo auditor (valid 24 h):`);
        say(`  export CUSTODY_TOKEN=${token}`);
        say(`  curl -s -H "Authorization: Bearer $CUSTODY_TOKEN" ${api.url}/api/v1/devices`);
        say(`  curl -s -H "Authorization: Bearer $CUSTODY_TOKEN" ${api.url}/api/v1/docks`);
        say(`  curl -sN -H "Authorization: Bearer $CUSTODY_TOKEN" ${api.url}/api/v1/events     # live dock events`);
      }
      say('');
      say('The daemon keeps running. Dock another simulated recorder:');
      say(`  node ${CLI_MAIN} simulate recorder --home ${home} --out ${join(home, 'media', 'MY-REC1')} --serial MY-REC1 --battery 20`);
      say('Press Ctrl-C to stop.');
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
      say('stopping…');
    }
  } catch (e) {
    say(`demo failed: ${errorMessage(e)} (daemon log: ${logFile})`);
    exitCode = EXIT_PROBLEM;
  } finally {
    bars.stop();
    await daemon.stop();
    log.flush();
  }
  say(`stopped. The station stays in ${home} (custody verify --home ${home}).`);
  process.exitCode = exitCode;
}

/** Wait until the follow-up queue has nothing waiting or running. */
async function drainJobs(daemon: Daemon): Promise<void> {
  const runner = daemon.followUps.runner;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await runner.stats();
    if (s.waiting === 0 && s.active === 0 && s.delayed === 0) return;
    if (Date.now() > deadline) return;
    await new Promise<void>((r) => {
      const off = runner.on(() => {
        off();
        r();
      });
      setTimeout(() => {
        off();
        r();
      }, 250).unref();
    });
  }
}
