/**
 * The fault campaign (issue 17): real custody processes (the built CLI and daemon) on
 * the recorder lab's real mounts, hit by faults, and the same invariants checked after
 * each one (./invariants.ts).
 *
 * Faults, each on its own station (home):
 * - `ingest-kill`: SIGKILL at seeded random moments of `custody ingest --wipe` reading a
 *   recorder through the lab's throttled pass-through mount (USB speed, deletions pass);
 * - `daemon-kill`: SIGKILL at seeded random moments of the built daemon with several
 *   exFAT lab recorders docked (wiping), then restarted;
 * - `pull`: the recorder's mount lazily unmounted mid-copy (a pulled cable);
 * - `eio`: a read of one file failing with EIO mid-file;
 * - `vault-full`: the vault on a small tmpfs that fills up mid-copy.
 * After the faults of a station, a clean run must finish the work (the final check).
 *
 * Everything started here is stopped by its own pid (CLI and daemon children, and the
 * lab's FUSE servers, mounts and loop devices in Lab.close()), also when a check fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Database from 'better-sqlite3';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulateRecorder } from '../../src/devices/simulate.js';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { Lab, type Mount } from '../lab/lab.js';
import { checkInvariants, sha256File, type Card, type CheckResult } from './invariants.js';

/** Seeded PRNG (mulberry32): the same seed gives the same kill moments and file sizes. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CampaignOptions {
  seed: number;
  /** SIGKILLs of `custody ingest --wipe`. */
  ingestKills: number;
  /** SIGKILLs of the daemon with lab recorders docked. */
  daemonKills: number;
  /** SIGKILLs of a process in the middle of checkpointing the catalog's WAL. */
  walKills: number;
  /** Only these faults (names as in FAULTS); all when absent. */
  only?: string[] | undefined;
  /** A scratch folder (the campaign leaves it; the caller removes it). */
  dir: string;
  log: (line: string) => void;
}

export const FAULTS = ['ingest-kill', 'daemon-kill', 'pull', 'eio', 'vault-full', 'redis-kill', 'wal-kill'] as const;

export const FULL = { ingestKills: 40, daemonKills: 12, walKills: 5 };
export const TRIM = { ingestKills: 7, daemonKills: 3, walKills: 1 };

export interface FaultResult {
  fault: string;
  /** Faults injected (kills that landed, pulls, EIOs, fills). */
  injected: number;
  /** Invariant checks passed (each after a fault, plus each finishing run's). */
  checks: number;
  /** What the station did, in a line. */
  outcome: string;
  ms: number;
}

export interface CampaignReport {
  seed: number;
  startedAt: string;
  results: FaultResult[];
  kills: number;
  ms: number;
}

const WAL_WRITER = fileURLToPath(new URL('./wal-writer.ts', import.meta.url));
const ENV = { CUSTODY_INGEST_CONCURRENCY: '2', CUSTODY_INGEST_READ_BUFFER_KB: '256' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r(child.exitCode);
    else child.once('exit', (code) => r(code));
  });
}

/** The child's output; with `logFile`, its stdout is also appended there (a failed run can be read). */
function collect(child: ChildProcess, logFile?: string): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null;
  child.once('exit', () => log?.end());
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    log?.write(d);
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Recorder-named random files (the bytes need no seed: only their sizes and the kill moments replay). */
async function writeBatch(card: Card, batch: number, count: number, r: () => number, minMb: number, maxMb: number): Promise<void> {
  const mtime = new Date(Date.now() - 3600_000);
  for (let i = 1; i <= count; i++) {
    const rel = `DCIM/100MEDIA/${card.serial}_20261120${String(8 + (batch % 10)).padStart(2, '0')}${String(i).padStart(2, '0')}00_${String(batch * 100 + i).padStart(4, '0')}.MP4`;
    const size = Math.round((minMb + r() * (maxMb - minMb)) * 1024 * 1024);
    const buf = randomBytes(size);
    const p = join(card.dir, ...rel.split('/'));
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, buf);
    await utimes(p, mtime, mtime);
    card.files.set(rel, sha(buf));
  }
}

async function init(home: string): Promise<void> {
  const r = await runCli(['init', '--home', home]);
  if (r.code !== 0) throw new Error(`custody init failed: ${r.stderr}`);
}

class Campaign {
  private readonly r: () => number;
  private readonly lab: Lab;
  private readonly live = new Set<ChildProcess>();
  readonly results: FaultResult[] = [];
  kills = 0;

  constructor(private readonly o: CampaignOptions) {
    this.r = rng(o.seed);
    this.lab = new Lab(join(o.dir, 'lab'));
  }

  private start(args: string[], env: Record<string, string>): ChildProcess {
    const child = startCli(args, env);
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  private async check(what: string, home: string, cards: Card[], final: boolean, wipe = true): Promise<CheckResult> {
    try {
      return await checkInvariants(home, cards, { final, wipe });
    } catch (e) {
      throw new Error(`after ${what} (seed ${this.o.seed}): ${(e as Error).message}`, { cause: e });
    }
  }

  /** Ingest until it exits by itself; its JSON report. */
  private async ingest(home: string, rec: string, serial: string, env: Record<string, string> = ENV): Promise<{ code: number | null; report: Record<string, unknown> }> {
    const child = this.start(['ingest', rec, '--home', home, '--serial', serial, '--wipe', '--no-follow-up', '--json'], env);
    const io = collect(child);
    const code = await exitOf(child);
    let report: Record<string, unknown> = {};
    try {
      report = JSON.parse(io.out()) as Record<string, unknown>;
    } catch {
      throw new Error(`custody ingest printed no report (exit ${code}): ${io.err().slice(0, 800)}`);
    }
    return { code, report };
  }

  async run(): Promise<void> {
    try {
      const want = (f: (typeof FAULTS)[number]): boolean => !this.o.only || this.o.only.includes(f);
      if (want('ingest-kill')) await this.ingestKills();
      if (want('daemon-kill')) await this.daemonKills();
      if (want('pull')) await this.pull();
      if (want('eio')) await this.eio();
      if (want('vault-full')) await this.vaultFull();
      if (want('redis-kill')) await this.redisKill();
      if (want('wal-kill')) await this.walKills();
    } finally {
      for (const c of this.live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all([...this.live].map(exitOf));
      await this.lab.close();
    }
  }

  private async ingestKills(): Promise<void> {
    const t0 = Date.now();
    const dir = join(this.o.dir, 'ingest-kill');
    const home = join(dir, 'home');
    await init(home);
    const card: Card = { serial: 'ZFY9', dir: join(dir, 'card'), files: new Map() };
    const rec = join(dir, 'rec');
    // Each deletion's reply is held a moment, so some kills land between a file's unlink
    // and the commit of its wipe (the window the wipe order is for).
    await this.lab.throttle(card.dir, rec, { rate: 30, holdUnlink: [{ glob: '*', seconds: 0.15 }] });
    let landed = 0;
    let checks = 0;
    let batch = 0;
    let finished = 0;
    let resumed = 0;
    while (landed < this.o.ingestKills) {
      batch++;
      await writeBatch(card, batch, 6, this.r, 0.5, 3);
      // Kills land in this batch until its files are gone; then a clean run must finish it.
      for (let k = 0; k < 6 && landed < this.o.ingestKills; k++) {
        // Node's start, the copy at 30 MB/s, the re-read before each wipe: about 2.5 s.
        const at = Math.round(150 + this.r() * 2600);
        const child = this.start(['ingest', rec, '--home', home, '--serial', card.serial, '--wipe', '--no-follow-up', '--json'], ENV);
        const exited = exitOf(child);
        const done = await Promise.race([exited.then(() => true), sleep(at).then(() => false)]);
        if (done) {
          finished++;
          this.o.log(`ingest-kill: a run finished before its kill at ${at} ms (not counted)`);
        } else {
          child.kill('SIGKILL');
          await exited;
          landed++;
          this.kills++;
        }
        const c = await this.check(`ingest kill ${landed} at ${at} ms`, home, [card], false);
        checks++;
        this.o.log(`ingest-kill ${done ? '(none)' : `${landed}/${this.o.ingestKills}`} at ${at} ms: ${c.evidence} in the vault, ${c.wiped} wiped, ${c.onRecorders} on the recorder, ${c.openIntents} wipe intents open`);
        if (c.onRecorders === 0) break;
      }
      const { code, report } = await this.ingest(home, rec, card.serial);
      if (code !== 0 || report.status !== 'complete') throw new Error(`the run after the kills did not finish (exit ${code}): ${JSON.stringify(report).slice(0, 800)}`);
      resumed = (await this.check(`the finishing run of batch ${batch}`, home, [card], true)).resumed;
      checks++;
    }
    this.results.push({
      fault: 'SIGKILL during `custody ingest --wipe`',
      injected: landed,
      checks,
      outcome: `${landed} kills over ${batch} batches of 6 files (${finished} runs ended before their kill); ${resumed} kills landed between a file's deletion and its wipe's commit, each wipe recorded by the next run (resumed); each batch finished by the next run`,
      ms: Date.now() - t0,
    });
  }

  private async daemonKills(): Promise<void> {
    const t0 = Date.now();
    const dir = join(this.o.dir, 'daemon-kill');
    const home = join(dir, 'home');
    const root = join(dir, 'M');
    await mkdir(root, { recursive: true });
    await init(home);
    const cards: Card[] = [];
    const bus = join(dir, 'usb-bus');
    for (const serial of ['REC1', 'REC2', 'REC3']) {
      const image = await this.lab.makeImage(serial, 'exfat', 128, serial);
      const stage = join(dir, `card-${serial}`);
      await this.lab.mount(image, stage);
      const rec = await simulateRecorder({ out: stage, serial, clips: 4, seconds: 1, clipBytes: Math.round((3 + this.r() * 3) * 1024 * 1024), officer: '100001', unit: '350200000000' });
      const files = new Map<string, string>();
      for (const f of rec.files) files.set(f.relPath, (await sha256File(f.path))!);
      cards.push({ serial, dir: stage, files });
      // Two recorders share one USB controller, the third has its own.
      await this.lab.throttle(stage, join(root, serial), { rate: 20, unlink: true, ...(serial !== 'REC3' ? { bus, busRate: 35 } : {}) });
    }
    const env = {
      ...ENV,
      CUSTODY_DEVICES_MOUNT_ROOTS: root,
      CUSTODY_API_PORT: '0',
      CUSTODY_DEVICES_RESCAN_SECONDS: '3600',
      CUSTODY_INGEST_WIPE_AFTER_INGEST: 'true',
      CUSTODY_LOG_LEVEL: 'info',
    };
    let landed = 0;
    let checks = 0;
    let refills = 0;
    const left = async (): Promise<number> => {
      let n = 0;
      for (const card of cards) for (const p of card.files.keys()) if ((await sha256File(join(card.dir, ...p.split('/')))) !== null) n++;
      return n;
    };
    while (landed < this.o.daemonKills) {
      if ((await left()) === 0) {
        // Everything was collected: the recorders come back from duty with more footage.
        refills++;
        for (const card of cards) await writeBatch(card, 10 + refills, 3, this.r, 2, 5);
      }
      // The daemon starts, docks, checks and copies in about 1–6 s.
      const at = Math.round(800 + this.r() * 5000);
      const child = this.start(['daemon', '--home', home], env);
      const io = collect(child, join(dir, 'daemon.log'));
      const exited = exitOf(child);
      const early = await Promise.race([exited.then(() => true), sleep(at).then(() => false)]);
      if (early) throw new Error(`the daemon exited by itself before its kill: ${io.err().slice(0, 800)} ${io.out().slice(-800)}`);
      child.kill('SIGKILL');
      await exited;
      landed++;
      this.kills++;
      const c = await this.check(`daemon kill ${landed} at ${at} ms`, home, cards, false);
      checks++;
      this.o.log(`daemon-kill ${landed}/${this.o.daemonKills} at ${at} ms: ${c.evidence} in the vault, ${c.wiped} wiped, ${c.onRecorders} on the recorders, ${c.openIntents} wipe intents open`);
    }
    // The next run finishes the work: a daemon left running until every recorder is empty.
    const child = this.start(['daemon', '--home', home], env);
    const io = collect(child, join(dir, 'daemon.log'));
    const total = cards.reduce((n, c) => n + c.files.size, 0);
    try {
      // Started (its SIGTERM handler in place) before it is judged or stopped.
      await waitFor('the daemon to start', async () => io.out().includes('custody daemon started') || child.exitCode !== null, 60_000, 20);
      await waitFor(
        'the restarted daemon to collect and wipe every recorder',
        async () => {
          if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode}: ${io.err().slice(0, 800)}`);
          return (await left()) === 0;
        },
        180_000,
        250,
      );
      // Once every file is gone its wipe is committed (the unlink's commit comes right after).
      await sleep(500);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exitOf(child);
    if (code !== 0) throw new Error(`the daemon did not stop cleanly on SIGTERM (exit ${code}): ${io.err().slice(0, 800)}`);
    const c = await this.check('the daemon that finished the work', home, cards, true);
    checks++;
    this.results.push({
      fault: 'SIGKILL of the daemon, 3 exFAT recorders docked (2 on one USB bus), wiping',
      injected: landed,
      checks,
      outcome: `${landed} kills (recorders refilled ${refills} times when collected); restarted, the daemon docked the recorders again and collected and wiped all ${total} files (${c.evidence} items)`,
      ms: Date.now() - t0,
    });
  }

  /** A fresh station and recorder behind a slow throttled mount. */
  private async station(name: string, serial: string, count: number, opts: { vaultMb?: number } = {}): Promise<{ home: string; card: Card; rec: string; vault: Mount | null }> {
    const dir = join(this.o.dir, name);
    const home = join(dir, 'home');
    let vault: Mount | null = null;
    if (opts.vaultMb) vault = await this.lab.tmpfs(join(home, 'vault'), opts.vaultMb);
    await init(home);
    const card: Card = { serial, dir: join(dir, 'card'), files: new Map() };
    await writeBatch(card, 1, count, this.r, 2, 4);
    return { home, card, rec: join(dir, 'rec'), vault };
  }

  private async pull(): Promise<void> {
    const t0 = Date.now();
    const { home, card, rec } = await this.station('pull', 'PUL1', 5);
    const m = await this.lab.throttle(card.dir, rec, { rate: 8, unlink: true });
    const child = this.start(['ingest', rec, '--home', home, '--serial', card.serial, '--wipe', '--no-follow-up', '--json'], ENV);
    const io = collect(child);
    // Pulled once a temp copy has this many bytes (every file is at least 2 MiB).
    const copied = Math.round((0.3 + this.r() * 1.6) * 1024 * 1024);
    const tmp = join(home, 'vault', '.tmp');
    await waitFor(
      'the copy to be under way',
      async () => {
        if (child.exitCode !== null) throw new Error(`ingest ended before the pull: ${io.out().slice(0, 800)}`);
        for (const name of await readdir(tmp).catch(() => [] as string[])) if (((await stat(join(tmp, name)).catch(() => null))?.size ?? 0) >= copied) return true;
        return false;
      },
      60_000,
      5,
    );
    await this.lab.unmount(m, { lazy: true });
    const code = await exitOf(child);
    const report = JSON.parse(io.out() || '{}') as { status?: string; ingested?: number };
    await this.check('a recorder pulled mid-copy', home, [card], false);
    await this.lab.settle(m);
    await this.lab.throttle(card.dir, rec, { rate: 30, unlink: true });
    const again = await this.ingest(home, rec, card.serial);
    if (again.code !== 0 || again.report.status !== 'complete') throw new Error(`the run after the pull did not finish: ${JSON.stringify(again.report).slice(0, 800)}`);
    await this.check('the run after the pull', home, [card], true);
    this.results.push({
      fault: 'recorder pulled mid-copy (lazy unmount of its mount)',
      injected: 1,
      checks: 2,
      outcome: `pulled once a copy had ${(copied / 1048576).toFixed(1)} MiB: ingest ended ${report.status ?? '?'} (exit ${code}, ${report.ingested ?? 0} ingested); docked again, the next run took the rest (${String(again.report.ingested)} ingested)`,
      ms: Date.now() - t0,
    });
  }

  private async eio(): Promise<void> {
    const t0 = Date.now();
    const { home, card, rec } = await this.station('eio', 'EIO1', 4);
    const victim = [...card.files.keys()][Math.floor(this.r() * card.files.size)]!;
    const offset = Math.round(this.r() * 1.5 * 1024 * 1024);
    const m = await this.lab.throttle(card.dir, rec, { rate: 30, unlink: true, eio: [{ path: victim, offset }] });
    const first = await this.ingest(home, rec, card.serial);
    const errors = (first.report.errors ?? []) as Array<{ path: string; code: string }>;
    if (first.report.failed !== 1 || !errors.some((e) => e.path === victim)) throw new Error(`EIO at ${victim}@${offset} was not reported as that file's failure: ${JSON.stringify(first.report).slice(0, 800)}`);
    const c = await this.check('EIO mid-file', home, [card], false);
    if (c.onRecorders !== 1) throw new Error(`after EIO mid-file, ${c.onRecorders} files are still on the recorder (expected only the unreadable one)`);
    await this.lab.unmount(m);
    await this.lab.throttle(card.dir, rec, { rate: 30, unlink: true });
    const again = await this.ingest(home, rec, card.serial);
    if (again.code !== 0 || again.report.status !== 'complete' || again.report.ingested !== 1) throw new Error(`the run after EIO did not take the one file left: ${JSON.stringify(again.report).slice(0, 800)}`);
    await this.check('the run after EIO', home, [card], true);
    this.results.push({
      fault: 'EIO mid-file (a read of one file fails at a seeded offset)',
      injected: 1,
      checks: 2,
      outcome: `${victim.split('/').pop()} at byte ${offset}: reported failed (${errors.find((e) => e.path === victim)!.code}), nothing recorded for it, it stayed on the recorder, the other ${card.files.size - 1} were ingested and wiped; the next run took it`,
      ms: Date.now() - t0,
    });
  }

  private async vaultFull(): Promise<void> {
    const t0 = Date.now();
    const { home, card, rec, vault } = await this.station('vault-full', 'FUL1', 6, { vaultMb: 12 });
    await this.lab.throttle(card.dir, rec, { rate: 30, unlink: true });
    const first = await this.ingest(home, rec, card.serial);
    if (first.report.status !== 'paused' || !((first.report.errors ?? []) as Array<{ code: string }>).some((e) => e.code === 'VAULT_FULL')) throw new Error(`a full vault did not pause the session with VAULT_FULL: ${JSON.stringify(first.report).slice(0, 800)}`);
    const c = await this.check('the vault filling up mid-copy', home, [card], false);
    await this.lab.resize(vault!, 96);
    const again = await this.ingest(home, rec, card.serial);
    if (again.code !== 0 || again.report.status !== 'complete') throw new Error(`the run after the vault grew did not finish: ${JSON.stringify(again.report).slice(0, 800)}`);
    await this.check('the run after the vault grew', home, [card], true);
    this.results.push({
      fault: 'vault disk full mid-copy (12 MiB tmpfs under the vault, ENOSPC)',
      injected: 1,
      checks: 2,
      outcome: `session paused with VAULT_FULL (exit ${first.code}) after ${c.evidence} of ${card.files.size} files, nothing else wiped; grown to 96 MiB, the next run took the other ${String(again.report.ingested)}`,
      ms: Date.now() - t0,
    });
  }

  /** Our own redis-server on a free loopback port (never the shared one), with an append-only file. */
  private async redis(dir: string, port: number): Promise<ChildProcess> {
    await mkdir(dir, { recursive: true });
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
      stdio: 'ignore',
    });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    await waitFor(
      `redis-server on port ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
        return new Promise<boolean>((r) => {
          const c = createServer();
          c.once('error', () => r(true)); // the port is taken: by our redis, which we started on it
          c.listen(port, '127.0.0.1', () => c.close(() => r(false)));
        });
      },
      10_000,
      20,
    );
    return child;
  }

  /**
   * Redis SIGKILLed under the BullMQ job runner while the daemon ingests: the vault work
   * must go on without it, and once Redis is back the follow-ups (analysis) of every
   * item must be done, by the running daemon or by the sweep of its next start.
   */
  private async redisKill(): Promise<void> {
    const t0 = Date.now();
    const dir = join(this.o.dir, 'redis-kill');
    const home = join(dir, 'home');
    const root = join(dir, 'M');
    await mkdir(root, { recursive: true });
    await init(home);
    const port = await new Promise<number>((r) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => r(p));
      });
    });
    let redis = await this.redis(join(dir, 'redis'), port);
    const cards: Card[] = [];
    for (const serial of ['RDS1', 'RDS2']) {
      const cardDir = join(dir, `card-${serial}`);
      const rec = await simulateRecorder({ out: cardDir, serial, clips: 4, seconds: 1, clipBytes: 2 * 1024 * 1024, officer: '100001', unit: '350200000000' });
      const files = new Map<string, string>();
      for (const f of rec.files) files.set(f.relPath, (await sha256File(f.path))!);
      cards.push({ serial, dir: cardDir, files });
    }
    const env = {
      ...ENV,
      CUSTODY_DEVICES_MOUNT_ROOTS: root,
      CUSTODY_API_PORT: '0',
      CUSTODY_DEVICES_RESCAN_SECONDS: '3600',
      CUSTODY_INGEST_WIPE_AFTER_INGEST: 'true',
      CUSTODY_JOBS_REDIS_URL: `redis://127.0.0.1:${port}`,
      CUSTODY_JOBS_PREFIX: 'chaos',
      CUSTODY_LOG_LEVEL: 'info',
    };
    const count = (sql: string): number => {
      const db = new Database(join(home, 'catalog.db'), { readonly: true });
      try {
        db.pragma('busy_timeout = 5000');
        return (db.prepare(sql).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const total = cards.reduce((n, c) => n + c.files.size, 0);
    const evidence = (): number => count('SELECT count(*) AS n FROM evidence');
    const analysed = (): number => count("SELECT count(DISTINCT subject) AS n FROM ledger WHERE type = 'evidence.analysed'");
    const onRecorders = async (): Promise<number> => {
      let left = 0;
      for (const card of cards) for (const p of card.files.keys()) if ((await sha256File(join(card.dir, ...p.split('/')))) !== null) left++;
      return left;
    };
    let daemon = this.start(['daemon', '--home', home], env);
    let io = collect(daemon, join(dir, 'daemon.log'));
    const alive = (): void => {
      if (daemon.exitCode !== null) throw new Error(`the daemon exited ${daemon.exitCode} while Redis was away: ${io.err().slice(0, 800)}`);
    };
    await waitFor('the daemon to start', async () => (alive(), io.out().includes('custody daemon started')), 60_000, 20);
    for (const card of cards) await this.lab.throttle(card.dir, join(root, card.serial), { rate: 12, unlink: true });
    const killAfter = 1 + Math.floor(this.r() * 4);
    await waitFor(`${killAfter} items committed`, async () => (alive(), evidence() >= killAfter), 60_000, 20);
    redis.kill('SIGKILL');
    await exitOf(redis);
    const atKill = evidence();
    // Ingest does not need Redis: every recorder is collected and wiped while it is away.
    await waitFor('every recorder collected and wiped with Redis away', async () => (alive(), (await onRecorders()) === 0), 120_000, 250);
    await sleep(500);
    alive();
    const mid = await this.check('Redis killed under the job runner', home, cards, false);
    redis = await this.redis(join(dir, 'redis'), port);
    let how = 'the running daemon reconnected and did them';
    try {
      await waitFor('every item analysed once Redis is back', async () => (alive(), analysed() >= total), 60_000, 250);
    } catch {
      // Work queued while Redis was down may be lost with it: the next start's sweep queues it again.
      how = 'after a restart, the sweep queued what was lost and the daemon did it';
      daemon.kill('SIGTERM');
      await exitOf(daemon);
      daemon = this.start(['daemon', '--home', home], env);
      io = collect(daemon, join(dir, 'daemon.log'));
      await waitFor('every item analysed after the restart', async () => (alive(), analysed() >= total), 120_000, 250);
    }
    daemon.kill('SIGTERM');
    const code = await exitOf(daemon);
    if (code !== 0) throw new Error(`the daemon did not stop cleanly on SIGTERM (exit ${code}): ${io.err().slice(0, 800)}`);
    await this.check('the follow-ups after Redis came back', home, cards, true);
    redis.kill('SIGTERM');
    await exitOf(redis);
    this.results.push({
      fault: 'Redis SIGKILLed under the BullMQ job runner mid-ingest (own redis-server, append-only file)',
      injected: 1,
      checks: 2,
      outcome: `killed after ${atKill} of ${total} items: the daemon stayed up and collected and wiped the rest (${mid.evidence} items) without it; Redis restarted, all ${total} analyses done — ${how}`,
      ms: Date.now() - t0,
    });
  }

  /** The wal-writer on `home`'s catalog; resolves with its "checkpoint" and "done" lines as they come. */
  private walWriter(home: string): { child: ChildProcess; checkpointing: Promise<void>; done: Promise<number | null>; out: () => string } {
    const child = spawn(process.execPath, ['--import', 'tsx', WAL_WRITER, join(home, 'catalog.db'), '32'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    const io = collect(child);
    const exited = exitOf(child);
    const checkpointing = waitFor('the WAL checkpoint to start', async () => {
      if (io.out().includes('checkpoint ')) return true;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the WAL writer exited before its checkpoint: ${io.err().slice(0, 800)}`);
      return false;
    }, 60_000, 1).then(() => undefined);
    const done = exited.then(() => {
      const m = /done (\d+)/.exec(io.out());
      return m ? Number(m[1]) : null;
    });
    return { child, checkpointing, done, out: io.out };
  }

  /**
   * SIGKILL in the middle of a WAL checkpoint of the station's catalog (a 32 MiB log
   * being copied back into the database), then the station opened as after a crash.
   */
  private async walKills(): Promise<void> {
    const t0 = Date.now();
    const { home, card, rec } = await this.station('wal-kill', 'WAL1', 4);
    await this.lab.throttle(card.dir, rec, { rate: 30, unlink: true });
    const first = await this.ingest(home, rec, card.serial);
    if (first.code !== 0 || first.report.status !== 'complete') throw new Error(`the WAL station's first ingest failed: ${JSON.stringify(first.report).slice(0, 800)}`);
    await this.check('the WAL station before its kills', home, [card], true);
    // How long a checkpoint of that log takes here, measured once without a kill.
    const calibration = this.walWriter(home);
    const took = await calibration.done;
    if (took === null) throw new Error('the WAL writer did not finish its calibration checkpoint');
    let landed = 0;
    let missed = 0;
    let checks = 1;
    while (landed < this.o.walKills) {
      const w = this.walWriter(home);
      await w.checkpointing;
      const at = this.r() * took;
      await sleep(at);
      w.child.kill('SIGKILL');
      await w.done;
      // It counts only if the checkpoint had not returned (its "done" line never came).
      if (w.out().includes('done ')) {
        missed++;
        if (missed > 10) throw new Error(`ten WAL checkpoints ended before their kill (a checkpoint takes ${took} ms here)`);
        continue;
      }
      landed++;
      // Opened as after the crash: SQLite recovers from the log; the catalog is whole and says what it said.
      const db = new Database(join(home, 'catalog.db'));
      try {
        const ok = db.pragma('integrity_check', { simple: true });
        if (ok !== 'ok') throw new Error(`after a SIGKILL mid-checkpoint (seed ${this.o.seed}) the catalog fails integrity_check: ${String(ok)}`);
        const scratch = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'chaos_wal_scratch'").get() as { n: number };
        if (scratch.n !== 0) throw new Error('after a SIGKILL mid-checkpoint the last commit before it (the scratch table dropped) is lost');
      } finally {
        db.close();
      }
      await this.check(`WAL checkpoint kill ${landed} at ${at.toFixed(0)} of ${took} ms`, home, [card], true);
      checks++;
      this.o.log(`wal-kill ${landed}/${this.o.walKills} at ${at.toFixed(0)} of ${took} ms: catalog whole`);
    }
    await writeBatch(card, 2, 3, this.r, 1, 2);
    const again = await this.ingest(home, rec, card.serial);
    if (again.code !== 0 || again.report.status !== 'complete') throw new Error(`ingest after the checkpoint kills did not finish: ${JSON.stringify(again.report).slice(0, 800)}`);
    await this.check('the ingest after the checkpoint kills', home, [card], true);
    checks++;
    this.results.push({
      fault: 'SIGKILL during an SQLite WAL checkpoint of the catalog (32 MiB log, TRUNCATE)',
      injected: landed,
      checks,
      outcome: `${landed} kills within a ${took} ms checkpoint (${missed} checkpoints finished first): integrity_check ok, the last commit kept, custody opened the catalog and the next ingest finished`,
      ms: Date.now() - t0,
    });
  }
}

/** Run the whole campaign; throws (after stopping everything it started) at the first broken invariant. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  o.log(`chaos: seed ${o.seed} (replay with --seed ${o.seed}); ${o.ingestKills} ingest kills, ${o.daemonKills} daemon kills, ${o.walKills} checkpoint kills`);
  const c = new Campaign(o);
  await c.run();
  return { seed: o.seed, startedAt, results: c.results, kills: c.kills, ms: Date.now() - t0 };
}

/** The report as a Markdown table (docs/reliability.md takes it as it is). */
export function reportTable(r: CampaignReport): string {
  const lines = ['| fault | injected | checks passed | what the station did | seconds |', '| --- | --- | --- | --- | --- |'];
  for (const x of r.results) lines.push(`| ${x.fault} | ${x.injected} | ${x.checks} | ${x.outcome} | ${(x.ms / 1000).toFixed(0)} |`);
  return `${lines.join('\n')}\n\nseed ${r.seed}, started ${r.startedAt}, ${r.kills} kills, ${(r.ms / 1000).toFixed(0)} s\n`;
}

