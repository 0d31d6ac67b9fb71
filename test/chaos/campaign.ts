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
 * - `vault-full`: the vault on a small tmpfs that fills up mid-copy;
 * - `redis-kill`: Redis SIGKILLed under the BullMQ job runner mid-ingest;
 * - `wal-kill`: SIGKILL in the middle of a WAL checkpoint of the catalog;
 * - `admin-kill`: SIGKILL at seeded moments of `custody purge`, `custody export`,
 *   `custody ledger seal` and `custody ledger checkpoint`;
 * - `export-full`: an export's destination disk filling up mid-copy;
 * - `store-away`: the S3 object store (a private Swift) slow, then stopped mid-ingest and started again.
 * After the faults of a station, a clean run must finish the work (the final check).
 *
 * Everything started here is stopped by its own pid (CLI and daemon children, and the
 * lab's FUSE servers, mounts and loop devices in Lab.close()), also when a check fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, readlink, stat, utimes, writeFile } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulateRecorder } from '../../src/devices/simulate.js';
import { RECORDER_STATUS_FORMAT } from '../../src/devices/status-file.js';
import { CONTENT_PREFIX } from '../../src/vault/store.js';
import { runCli, startCli, waitFor } from '../helpers/cli.js';
import { Lab, type Mount } from '../lab/lab.js';
import { checkInvariants, sha256File, type Card, type CheckOptions, type CheckResult } from './invariants.js';

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
  /** SIGKILLs of each of `custody purge`, `custody export`, `custody ledger seal` and `custody ledger checkpoint`. */
  adminKills: number;
  /** The trimmed run (npm test): the store going away is checked under the daemon only, not also under the CLI. */
  trim?: boolean;
  /** Only these faults (names as in FAULTS); all when absent. */
  only?: string[] | undefined;
  /** Every custody process writes its vault with vault.fs.directWrites (O_DIRECT). */
  directWrites?: boolean | undefined;
  /** A scratch folder (the campaign leaves it; the caller removes it). */
  dir: string;
  log: (line: string) => void;
}

export const FAULTS = ['ingest-kill', 'daemon-kill', 'pull', 'eio', 'vault-full', 'redis-kill', 'wal-kill', 'admin-kill', 'export-full', 'store-away'] as const;

export const FULL = { ingestKills: 40, daemonKills: 12, walKills: 5, adminKills: 3 };
export const TRIM = { ingestKills: 3, daemonKills: 2, walKills: 1, adminKills: 1, trim: true };

/** The faults trimmed in test/chaos/chaos-later.test.ts (chaos.test.ts runs the others). */
export const LATER: readonly string[] = ['admin-kill', 'export-full', 'store-away'];

/** The station's own commands killed by `admin-kill`, each `adminKills` times. */
export const ADMIN_OPS = ['purge', 'export', 'seal', 'checkpoint'] as const;

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
const SWIFT_SCRIPT = fileURLToPath(new URL('../../scripts/test-s3-swift.sh', import.meta.url));
const run = promisify(execFile);
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

/** What a process had open just before its kill: the targets of /proc/<pid>/fd (empty once it has gone). */
async function openFiles(pid: number | undefined): Promise<string[]> {
  if (pid === undefined) return [];
  const out: string[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null);
    if (target?.startsWith('/')) out.push(target);
  }
  return out;
}

/** The last line a process wrote (a pino line as its message), shortened. */
function lastLine(text: string): string | null {
  const line = text.trim().split('\n').filter((l) => l.trim() !== '').pop();
  if (!line) return null;
  try {
    const j = JSON.parse(line) as { msg?: unknown };
    return typeof j.msg === 'string' ? j.msg.slice(0, 120) : 'its JSON result';
  } catch {
    // not a log line: the command's own output
  }
  return line.slice(0, 120);
}

/**
 * Which step a kill interrupted, as seen from outside: whether the process had the
 * catalog open (before that it was still loading Node and its modules), the ledger
 * entries it committed before the kill, the files it had open in the destination
 * (`.partial` export copies, a sealed segment or checkpoint being written) and its last
 * output line.
 */
interface KillStep {
  loading: boolean;
  label: string;
}

function killStep(o: { open: string[]; home: string; entries: string[]; last: string | null }): KillStep {
  const catalogOpen = o.open.some((f) => f === join(o.home, 'catalog.db') || f.startsWith(join(o.home, 'catalog.db-')));
  if (!catalogOpen && o.entries.length === 0 && o.last === null) return { loading: true, label: 'while Node loaded (the catalog not yet open, nothing written)' };
  const byType = new Map<string, number>();
  for (const t of o.entries) byType.set(t, (byType.get(t) ?? 0) + 1);
  const entries = [...byType].map(([t, n]) => (n > 1 ? `${n}× ${t}` : t)).join(', ');
  const other = o.open.filter((f) => !f.startsWith(join(o.home, 'catalog.db')) && !f.startsWith('/dev/') && !f.startsWith('/proc/') && !/node_modules|\/usr\//.test(f));
  const parts = [entries ? `after ${entries}` : 'before any ledger entry'];
  if (other.length > 0) parts.push(`with ${other.map((f) => f.split('/').slice(-2).join('/')).slice(0, 2).join(', ')} open`);
  if (o.last) parts.push(`last line “${o.last}”`);
  return { loading: false, label: parts.join('; ') };
}

/** The types of the ledger entries after `seq`, in order. */
function ledgerTypesAfter(home: string, seq: number): string[] {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare<[number], { type: string }>('SELECT type FROM ledger WHERE seq > ? ORDER BY seq').all(seq).map((r) => r.type);
  } finally {
    db.close();
  }
}

function countIn(home: string, sql: string): number {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
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

  private async check(what: string, home: string, cards: Card[], final: boolean, wipe = true, more: Pick<CheckOptions, 'env' | 'objects'> = {}): Promise<CheckResult> {
    try {
      return await checkInvariants(home, cards, { final, wipe, ...more });
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
      if (want('admin-kill') || want('export-full')) await this.adminKills(want('admin-kill'), want('export-full'));
      if (want('store-away')) await this.storeAway();
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
  /**
   * SIGKILL at seeded moments of the station's own commands — `custody purge`,
   * `custody export` (a protected case, an approved request), `custody ledger seal` and
   * `custody ledger checkpoint` — each given fresh work first, then the same invariants,
   * each fault's own check, and the next run of the command finishing the work. Then
   * (`export-full`) an export whose destination disk fills up mid-copy.
   */
  private async adminKills(kills: boolean, full: boolean): Promise<void> {
    const t0 = Date.now();
    const dir = join(this.o.dir, 'admin');
    const home = join(dir, 'home');
    const burner = join(dir, 'burner');
    await mkdir(burner, { recursive: true });
    await init(home);
    const env = { ...ENV, CUSTODY_RETENTION_MIN_DAYS_AFTER_INGEST: '0', CUSTODY_RETENTION_NOTICE_DAYS: '0', CUSTODY_ARCHIVE_DESTINATION_ROOTS: burner };
    const cli = async (args: string[]): Promise<string> => {
      const r = await runCli([...args, '--home', home], env);
      if (r.code !== 0) throw new Error(`custody ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.slice(0, 800)} ${r.stdout.slice(0, 400)}`);
      return r.stdout;
    };
    const cards: Card[] = [];
    // Footage recorded in January 2026 (file names are local time): past its six months,
    // so purgeable; each batch in its own folder, never ingested twice.
    const batch = async (count: number): Promise<string[]> => {
      const card: Card = { serial: 'ADM1', dir: join(dir, 'cards', `b${cards.length + 1}`), files: new Map() };
      const n = cards.length + 1;
      for (let i = 1; i <= count; i++) {
        const rel = `DCIM/ADM1_202601${String(1 + (n % 28)).padStart(2, '0')}08${String(i).padStart(2, '0')}00_${String(n * 100 + i).padStart(4, '0')}.MP4`;
        const buf = randomBytes(Math.round((0.3 + this.r() * 1.2) * 1024 * 1024));
        const p = join(card.dir, ...rel.split('/'));
        await mkdir(dirname(p), { recursive: true });
        await writeFile(p, buf);
        await utimes(p, new Date('2026-01-10T00:30:00Z'), new Date('2026-01-10T00:30:00Z'));
        card.files.set(rel, sha(buf));
      }
      cards.push(card);
      const out = JSON.parse(await cli(['ingest', card.dir, '--serial', card.serial, '--officer', '0417', '--unit', 'U1', '--no-follow-up', '--json'])) as { items: Array<{ evidenceId: string }> };
      return out.items.map((i) => i.evidenceId);
    };
    const kase = (JSON.parse(await cli(['cases', 'create', '--number', 'XM-2026-CHAOS', '--name', '故障演练', '--unit', 'U1', '--json'])) as { id: string }).id;
    await cli(['cases', 'hold', kase, '--reason', 'dispute']);
    const tokenFile = async (role: string): Promise<string> => {
      const { token } = JSON.parse(await cli(['users', 'add', '--name', role, '--role', role, '--json'])) as { token: string };
      const f = join(dir, `${role}.token`);
      await writeFile(f, token, { mode: 0o600 });
      return f;
    };
    const archivist = await tokenFile('archivist');
    const supervisor = await tokenFile('supervisor');
    // The first item of each batch goes to the held case (so it is exported, never purged).
    const linked = async (ids: string[], all = false): Promise<void> => {
      await cli(['cases', 'link', kase, ...(all ? ids : ids.slice(0, 1))]);
    };
    await linked(await batch(3));
    // An export is an access: a fresh request for the case, approved by someone else.
    const approve = async (): Promise<void> => {
      const { id } = JSON.parse(await cli(['requests', 'ask', '--case', kase, '--reason', '归档', '--token-file', archivist, '--json'])) as { id: string };
      await cli(['requests', 'approve', id, '--token-file', supervisor]);
    };
    let exports = 0;
    const exportArgs = (root: string): string[] => {
      exports++;
      return ['export', '--case', kase, '--to', join(root, `e${exports}-a`), '--to', join(root, `e${exports}-b`), '--maker', '档案员', '--token-file', archivist, '--json'];
    };
    const verifierKey = (await cli(['ledger', 'checkpoint', '--verifier-key'])).trim();
    // Every copy published under its final name verifies as read back; temp copies are only ever `.…partial`.
    const copiesCheck = async (root: string): Promise<{ good: number; partial: number }> => {
      let good = 0;
      let partial = 0;
      for (const dest of await readdir(root).catch(() => [] as string[])) {
        for (const name of await readdir(join(root, dest)).catch(() => [] as string[])) {
          if (name.startsWith('.') && name.endsWith('.partial')) {
            partial++;
            continue;
          }
          const v = await runCli(['verify-export', join(root, dest, name), '--key', verifierKey, '--json']);
          if (v.code !== 0) throw new Error(`export copy ${dest}/${name} is published but does not verify (seed ${this.o.seed}): ${v.stdout.slice(0, 600)} ${v.stderr.slice(0, 300)}`);
          good++;
        }
      }
      // A copy the ledger reports good is there and verifies.
      const db = new Database(join(home, 'catalog.db'), { readonly: true });
      try {
        db.pragma('busy_timeout = 5000');
        for (const row of db.prepare<[], { data: string }>("SELECT data FROM ledger WHERE type = 'export.created'").all()) {
          const d = JSON.parse(row.data) as { copies: Array<{ destination: string; dir: string | null; ok: boolean }> };
          for (const c of d.copies) {
            if (!c.ok) continue;
            const v = await runCli(['verify-export', join(c.destination, c.dir ?? ''), '--key', verifierKey, '--json']);
            if (v.code !== 0) throw new Error(`export copy ${c.destination}/${c.dir} is recorded good in export.created but does not verify: ${v.stdout.slice(0, 600)}`);
          }
        }
      } finally {
        db.close();
      }
      return { good, partial };
    };
    // Node's start, measured once: the kill moments fall after it, within each command's own time.
    const t = Date.now();
    await cli(['--version']);
    const startup = Date.now() - t;
    const ops: Record<(typeof ADMIN_OPS)[number], { prepare: () => Promise<void>; args: () => string[] }> = {
      purge: { prepare: async () => void (await linked(await batch(4))), args: () => ['purge', '--force', '--json'] },
      export: { prepare: async () => void (await linked(await batch(2)), await approve()), args: () => exportArgs(burner) },
      seal: { prepare: async () => void (await batch(2)), args: () => ['ledger', 'seal'] },
      checkpoint: { prepare: async () => void (await batch(2)), args: () => ['ledger', 'checkpoint', '--json'] },
    };
    const counts: string[] = [];
    let checks = 0;
    let landedAll = 0;
    let loadingAll = 0;
    const stepsByOp: string[] = [];
    if (kills) {
      for (const op of ADMIN_OPS) {
        const o = ops[op];
        // How long the command takes here, once without a kill: from the moment it has the
        // catalog open (its modules loaded) to its exit.
        await o.prepare();
        const m = this.start([...o.args(), '--home', home], env);
        const mio = collect(m);
        const mexit = exitOf(m);
        await waitFor(`custody ${op} to open the catalog`, async () => m.exitCode !== null || (await openFiles(m.pid)).includes(join(home, 'catalog.db')), 60_000, 2);
        const m0 = Date.now();
        if ((await mexit) !== 0) throw new Error(`custody ${op} failed: ${mio.err().slice(0, 800)} ${mio.out().slice(0, 400)}`);
        const took = Math.max(1, Date.now() - m0);
        let landed = 0;
        let missed = 0;
        let loading = 0;
        const steps: string[] = [];
        while (landed < this.o.adminKills) {
          await o.prepare();
          // Timed from the moment the process has the catalog open (Node and its modules
          // loaded; a kill before that interrupts no step), at a seeded point of its own time.
          const after = Math.round(this.r() * took);
          const seqBefore = countIn(home, 'SELECT coalesce(max(seq), 0) AS n FROM ledger');
          const c0 = Date.now();
          const child = this.start([...o.args(), '--home', home], env);
          const io = collect(child);
          const exited = exitOf(child);
          const catalog = join(home, 'catalog.db');
          await waitFor(`custody ${op} to open the catalog`, async () => child.exitCode !== null || (await openFiles(child.pid)).includes(catalog), 60_000, 2);
          const at = Date.now() - c0 + after;
          const done = child.exitCode !== null || (await Promise.race([exited.then(() => true), sleep(after).then(() => false)]));
          if (done) {
            if ((await exited) !== 0) throw new Error(`custody ${op} failed before its kill: ${io.err().slice(0, 800)} ${io.out().slice(0, 400)}`);
            missed++;
            this.o.log(`admin-kill: ${op} finished before its kill at ${at} ms (not counted)`);
            if (missed > 20 * this.o.adminKills) throw new Error(`custody ${op} finished before its kill ${missed} times (it takes ${took} ms after a ${startup} ms start)`);
            continue;
          }
          // What it had open just before the kill, then what it had committed and said.
          const open = await openFiles(child.pid);
          child.kill('SIGKILL');
          await exited;
          const entries = ledgerTypesAfter(home, seqBefore);
          const step = killStep({ open, home, entries, last: lastLine(`${io.out()}\n${io.err()}`) });
          this.kills++;
          const c = await this.check(`SIGKILL of custody ${op} at ${at} ms (${step.label})`, home, cards, false, false);
          const copies = await copiesCheck(burner);
          checks++;
          const purged = countIn(home, "SELECT count(*) AS n FROM evidence WHERE status = 'purged'");
          if (step.loading) {
            // Killed before it did anything: checked like any kill, counted apart, not one of the op's kills.
            loading++;
            loadingAll++;
            this.o.log(`admin-kill ${op} at ${at} ms (of ${startup} + ${took}) ${step.label}: not counted as one of its ${this.o.adminKills}`);
          } else {
            landed++;
            landedAll++;
            steps.push(step.label);
            this.o.log(`admin-kill ${op} ${landed}/${this.o.adminKills} at ${at} ms (of ${startup} + ${took}) ${step.label}: ${c.evidence} in the vault (${purged} purged), ${copies.good} export copies verify, ${copies.partial} temp copies`);
          }
          // The next run finishes the work.
          await cli(op === 'export' ? (await approve(), o.args()) : o.args());
          await this.check(`the ${op} run after its kill`, home, cards, true, false);
          await copiesCheck(burner);
          checks++;
        }
        stepsByOp.push(`${op}: ${steps.join(' | ')}`);
        counts.push(`${op} ${landed} (${loading} more while Node loaded, ${missed} runs finished first; ${took} ms from the catalog's opening to its exit, after a ${startup} ms start of Node)`);
      }
      this.results.push({
        fault: 'SIGKILL during `custody purge`, `custody export`, `custody ledger seal`, `custody ledger checkpoint`',
        injected: landedAll + loadingAll,
        checks,
        outcome: `kills: ${counts.join('; ')}; ${loadingAll} while Node loaded, counted apart. Where each landed — ${stepsByOp.join('; ')}. After each: the invariants (a purged item's object gone only with its evidence.purged entry, verify --deep over the sealed segments and checkpoints) and every published or recorded export copy verifying as read back; the next run of the command finished the work`,
        ms: Date.now() - t0,
      });
    }
    if (full) await this.exportFull({ home, burner, cards, cli, batch, linked, approve, exportArgs, copiesCheck });
  }

  /** The export's destination disk (a small tmpfs) filling up mid-copy, then grown: the next export finishes. */
  private async exportFull(s: {
    home: string;
    burner: string;
    cards: Card[];
    cli: (args: string[]) => Promise<string>;
    batch: (count: number) => Promise<string[]>;
    linked: (ids: string[], all?: boolean) => Promise<void>;
    approve: () => Promise<void>;
    exportArgs: (root: string) => string[];
    copiesCheck: (root: string) => Promise<{ good: number; partial: number }>;
  }): Promise<void> {
    const t0 = Date.now();
    await s.linked(await s.batch(4), true);
    await s.approve();
    const disc = join(s.burner, 'disc');
    const m = await this.lab.tmpfs(disc, 2);
    const r = await runCli([...s.exportArgs(disc), '--home', s.home], { ...ENV, CUSTODY_ARCHIVE_DESTINATION_ROOTS: s.burner });
    const text = `${r.stdout} ${r.stderr}`;
    if (r.code === 0 || !/EXPORT_DISK_FULL|ENOSPC|disk full|no space/i.test(text)) throw new Error(`an export onto a full disk did not fail as disk full (exit ${r.code}): ${text.slice(0, 800)}`);
    await this.check('the export disk filling up', s.home, s.cards, false, false);
    const after = await s.copiesCheck(disc);
    if (after.partial > 0) throw new Error(`an export that failed on a full disk left ${after.partial} temp copies behind`);
    await this.lab.resize(m, 64);
    await s.approve();
    const again = JSON.parse(await s.cli(s.exportArgs(disc))) as { ok: boolean; copies: Array<{ ok: boolean }> };
    if (!again.ok || again.copies.some((c) => !c.ok)) throw new Error(`the export after the disk grew did not finish: ${JSON.stringify(again).slice(0, 800)}`);
    const good = await s.copiesCheck(disc);
    await this.check('the export after the disk grew', s.home, s.cards, true, false);
    const code = /EXPORT_DISK_FULL/.exec(text)?.[0] ?? 'ENOSPC';
    this.results.push({
      fault: 'export destination disk full mid-copy (2 MiB tmpfs, ENOSPC)',
      injected: 1,
      checks: 2,
      outcome: `the export failed with ${code} (exit ${r.code}), no copy published or reported good and no temp copy left (${after.good} copies there); grown to 64 MiB, the next export wrote ${good.good} verified copies`,
      ms: Date.now() - t0,
    });
  }
  /**
   * The S3 object store (a private OpenStack Swift, its S3 API on a loopback port, started
   * by scripts/test-s3-swift.sh) slow, then gone mid-ingest and back: custody reaches it
   * through a forwarder of ours that can hold every chunk a while (requests delayed), and
   * Swift's proxy server — the S3 endpoint — is stopped by its pid and started again on
   * its port with the same configuration and data.
   */
  private async storeAway(): Promise<void> {
    const t0 = Date.now();
    const dir = join(this.o.dir, 'store-away');
    const home = join(dir, 'home');
    await mkdir(dir, { recursive: true });
    const started = await run('bash', [SWIFT_SCRIPT, 'start'], { env: { ...process.env, SWIFT_OWNER_PID: String(process.pid) }, timeout: 180_000 }).catch((e: unknown) => {
      throw new Error(`could not start Swift: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`, { cause: e });
    });
    const swiftEnv: Record<string, string> = {};
    for (const line of started.stdout.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) swiftEnv[m[1]!] = m[2]!;
    }
    const swiftDir = swiftEnv.SWIFT_DIR!;
    // As the adapter does (docs/object-stores.md): the SDK's Node 20 notice is not news here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const upstream = Number(new URL(swiftEnv.SWIFT_S3_ENDPOINT!).port);
    let proxy: ChildProcess | null = null;
    let delayMs = 0;
    const sockets = new Set<Socket>();
    // Our forwarder: each chunk either way held delayMs (in order), so every request is late.
    const forwarder = createServer((down) => {
      const up = connect(upstream, '127.0.0.1');
      sockets.add(down).add(up);
      const pipe = (from: Socket, to: Socket): void => {
        from.on('data', (d: Buffer) => (delayMs > 0 ? setTimeout(() => to.writable && to.write(d), delayMs) : to.write(d)));
        from.on('end', () => (delayMs > 0 ? setTimeout(() => to.end(), delayMs) : to.end()));
        from.on('error', () => to.destroy());
        from.on('close', () => {
          sockets.delete(from);
          setTimeout(() => to.destroy(), delayMs);
        });
      };
      pipe(down, up);
      pipe(up, down);
    });
    const port = await new Promise<number>((r) => forwarder.listen(0, '127.0.0.1', () => r((forwarder.address() as { port: number }).port)));
    const client = new S3Client({
      endpoint: swiftEnv.SWIFT_S3_ENDPOINT!,
      region: swiftEnv.SWIFT_S3_REGION!,
      forcePathStyle: true,
      credentials: { accessKeyId: swiftEnv.SWIFT_S3_ACCESS_KEY_ID!, secretAccessKey: swiftEnv.SWIFT_S3_SECRET_ACCESS_KEY! },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const bucket = `chaos-${this.o.seed.toString(36)}-${Date.now().toString(36)}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const env = {
        ...ENV,
        CUSTODY_VAULT_KIND: 's3',
        CUSTODY_VAULT_S3_ENDPOINT: `http://127.0.0.1:${port}`,
        CUSTODY_VAULT_S3_BUCKET: bucket,
        CUSTODY_VAULT_S3_PREFIX: 'station-1/',
        CUSTODY_VAULT_S3_PROFILE: 'swift',
        CUSTODY_VAULT_S3_REGION: swiftEnv.SWIFT_S3_REGION!,
        CUSTODY_VAULT_S3_ACCESS_KEY_ID: swiftEnv.SWIFT_S3_ACCESS_KEY_ID!,
        CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: swiftEnv.SWIFT_S3_SECRET_ACCESS_KEY!,
      };
      const r0 = await runCli(['init', '--home', home], env);
      if (r0.code !== 0) throw new Error(`custody init (S3 vault) failed: ${r0.stderr}`);
      // Every key under the object namespace is a whole content object (read back and hashed).
      const objects = async (): Promise<{ names: Set<string>; problems: string[] }> => {
        const names = new Set<string>();
        const problems: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `station-1/${CONTENT_PREFIX}`, ContinuationToken: token }));
          for (const o of page.Contents ?? []) {
            const name = o.Key!.split('/').pop()!;
            const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
            const h = sha(Buffer.from(await body.Body!.transformToByteArray()));
            if (o.Key !== `station-1/${CONTENT_PREFIX}${name.slice(0, 2)}/${name.slice(2, 4)}/${name}` || h !== name) problems.push(`bucket key ${o.Key} is not a whole content object (its bytes hash to ${h})`);
            else names.add(name);
          }
          token = page.NextContinuationToken;
        } while (token);
        return { names, problems };
      };
      // The recorders checked: the session's, then also the daemon's.
      const checked: Card[] = [];
      const check = (what: string, final: boolean): Promise<CheckResult> => this.check(what, home, checked, final, true, { env, objects });
      const card: Card = { serial: 'S3C1', dir: join(dir, 'card'), files: new Map() };
      checked.push(card);
      // Slow: every chunk held 200 ms each way.
      await writeBatch(card, 1, 2, this.r, 0.5, 1.5);
      delayMs = 200;
      const s0 = Date.now();
      const slow = await this.ingest(home, card.dir, card.serial, env);
      const slowMs = Date.now() - s0;
      delayMs = 0;
      if (slow.code !== 0 || slow.report.status !== 'complete') throw new Error(`ingest into a slow object store did not finish: ${JSON.stringify(slow.report).slice(0, 800)}`);
      await check('ingest into a slow object store', true);
      // Swift's proxy server (its S3 endpoint) stopped by its pid: the one the script started, then ours.
      const stopProxy = async (): Promise<void> => {
        const pid = proxy ? proxy.pid! : Number((await readFile(join(swiftDir, 'run', 'proxy.pid'), 'utf8')).split(' ')[0]);
        process.kill(pid, 'SIGTERM');
        await waitFor('the Swift proxy to stop', async () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }, 30_000, 20);
      };
      // Started again: the same proxy server, configuration and data, on its port.
      const startProxy = async (): Promise<void> => {
        proxy = spawn('swift-proxy-server', [join(swiftDir, 'etc', 'proxy-server.conf'), '-v'], { stdio: 'ignore' });
        this.live.add(proxy);
        const p = proxy;
        p.once('exit', () => this.live.delete(p));
        await waitFor('Swift to answer again', async () => {
          if (p.exitCode !== null) throw new Error(`swift-proxy-server exited ${p.exitCode}`);
          return fetch(`${swiftEnv.SWIFT_S3_ENDPOINT!}/healthcheck`).then((r) => r.ok, () => false);
        }, 60_000, 100);
      };
      // Gone: Swift's S3 endpoint stopped after a seeded number of items (the trimmed run
      // checks this under the daemon only, below).
      if (!this.o.trim) {
      await writeBatch(card, 2, 5, this.r, 1, 2);
      const before = countIn(home, 'SELECT count(*) AS n FROM evidence');
      const after = 1 + Math.floor(this.r() * 3);
      const child = this.start(['ingest', card.dir, '--home', home, '--serial', card.serial, '--wipe', '--no-follow-up', '--json'], env);
      const io = collect(child);
      const exited = exitOf(child);
      await waitFor(`${after} items into the bucket`, async () => {
        if (child.exitCode !== null) throw new Error(`ingest ended before the store went away: ${io.out().slice(0, 800)}`);
        return countIn(home, 'SELECT count(*) AS n FROM evidence') >= before + after;
      }, 60_000, 10);
      await stopProxy();
      const g0 = Date.now();
      const code = await Promise.race([exited, sleep(300_000).then(() => 'hung' as const)]);
      if (code === 'hung') throw new Error('ingest did not end within 5 minutes of the object store going away');
      const goneMs = Date.now() - g0;
      const report = JSON.parse(io.out() || '{}') as { status?: string; ingested?: number; errors?: Array<{ code: string }> };
      const codes = [...new Set((report.errors ?? []).map((e) => e.code))];
      // Paused, as a full vault pauses (VAULT_UNAVAILABLE), not complete with every file left failed.
      if (report.status !== 'paused' || !codes.includes('VAULT_UNAVAILABLE')) throw new Error(`ingest did not pause with VAULT_UNAVAILABLE when its object store went away: ${io.out().slice(0, 800)}`);
      // Started again: the same proxy server, configuration and data, on its port.
      await startProxy();
      const mid = await check('the object store going away mid-ingest', false);
      const again = await this.ingest(home, card.dir, card.serial, env);
      if (again.code !== 0 || again.report.status !== 'complete') throw new Error(`the run after the object store came back did not finish: ${JSON.stringify(again.report).slice(0, 800)}`);
      const fin = await check('the run after the object store came back', true);
      this.results.push({
        fault: 'S3 object store (Swift) slow (every chunk held 200 ms) and then stopped mid-ingest, started again',
        injected: 2,
        checks: 3,
        outcome: `slow: 2 files ingested and wiped in ${(slowMs / 1000).toFixed(1)} s; stopped after ${after} items: ingest ended ${report.status ?? '?'} (exit ${String(code)}, ${report.ingested ?? 0} ingested, ${codes.join(', ') || 'no error code'}) ${(goneMs / 1000).toFixed(1)} s later, ${mid.onRecorders} files left on the recorder; Swift started again, the next run took ${String(again.report.ingested)}, ${fin.evidence} items each once`,
        ms: Date.now() - t0,
      });
      } else {
        this.results.push({
          fault: 'S3 object store (Swift) slow (every chunk held 200 ms)',
          injected: 1,
          checks: 1,
          outcome: `2 files ingested and wiped in ${(slowMs / 1000).toFixed(1)} s`,
          ms: Date.now() - t0,
        });
      }

      // The same under the daemon: a recorder docked on a lab mount, Swift's proxy stopped
      // after a seeded number of its items, the dock seen paused through the API, then Swift
      // started again and the daemon left to finish by itself.
      const d0 = Date.now();
      const root = join(dir, 'M');
      const card2: Card = { serial: 'S3D1', dir: join(dir, 'card2'), files: new Map() };
      await writeBatch(card2, 3, 6, this.r, 1, 2);
      // A recorder the daemon knows by its status file (the simulator's model profile).
      const status = { format: RECORDER_STATUS_FORMAT, serial: card2.serial, model: 'SIM-DSJ-1', officer: '100001', unit: '350200000000', battery: 80, clockOffsetSeconds: 0, storageTotalBytes: 32e9, storageFreeBytes: 30e9 };
      await writeFile(join(card2.dir, 'RECORDER.JSON'), `${JSON.stringify(status)}\n`);
      const { token } = JSON.parse((await runCli(['users', 'add', '--name', 'chaos-admin', '--role', 'admin', '--json', '--home', home], env)).stdout) as { token: string };
      const denv = { ...env, CUSTODY_DEVICES_MOUNT_ROOTS: root, CUSTODY_API_PORT: '0', CUSTODY_DEVICES_RESCAN_SECONDS: '3600', CUSTODY_INGEST_WIPE_AFTER_INGEST: 'true', CUSTODY_LOG_LEVEL: 'info' };
      const daemon = this.start(['daemon', '--home', home], denv);
      const dio = collect(daemon, join(dir, 'daemon.log'));
      const dexited = exitOf(daemon);
      checked.push(card2);
      const mine = (): number => countIn(home, "SELECT count(*) AS n FROM evidence WHERE recorder_serial = 'S3D1'");
      let paused: { code?: string; since?: string } | null = null;
      try {
        const api = await waitFor('the daemon to start', async () => {
          if (daemon.exitCode !== null) throw new Error(`the daemon exited ${daemon.exitCode}: ${dio.err().slice(0, 800)}`);
          return /"url":"(http:\/\/[^"]+)"[^\n]*HTTP API listening/.exec(dio.out())?.[1] ?? null;
        }, 60_000, 50);
        const docks = async (): Promise<Array<{ serial: string | null; paused: { code: string; since: string } | null }>> => {
          const res = await fetch(`${api}/api/v1/docks`, { headers: { authorization: `Bearer ${token}` } });
          if (res.status !== 200) throw new Error(`GET /docks answered ${res.status}`);
          return ((await res.json()) as { items: Array<{ serial: string | null; paused: { code: string; since: string } | null }> }).items;
        };
        await this.lab.throttle(card2.dir, join(root, card2.serial), { rate: 20, unlink: true, statusFile: 'RECORDER.JSON' });
        const stopAfter = 1 + Math.floor(this.r() * 3);
        await waitFor(`${stopAfter} of the docked recorder's items`, async () => mine() >= stopAfter, 120_000, 10);
        await stopProxy();
        const dock = await waitFor('the dock to show it is paused', async () => (await docks()).find((x) => x.serial === card2.serial && x.paused?.code === 'VAULT_UNAVAILABLE') ?? null, 120_000, 200);
        paused = dock.paused;
        const atPause = mine();
        // While paused: every file gone from the recorder is in the catalog, wiped.
        let gone = 0;
        for (const [rel] of card2.files) {
          if ((await sha256File(join(card2.dir, ...rel.split('/')))) !== null) continue;
          gone++;
          if (countIn(home, `SELECT count(*) AS n FROM evidence WHERE recorder_serial = 'S3D1' AND source_path = '${rel}' AND wiped_at IS NOT NULL`) !== 1) throw new Error(`${rel} left the recorder while the store was away, and is not in the catalog as wiped (seed ${this.o.seed})`);
        }
        await startProxy();
        await waitFor('the daemon to resume and empty the recorder', async () => {
          if (daemon.exitCode !== null) throw new Error(`the daemon exited ${daemon.exitCode}`);
          for (const rel of card2.files.keys()) if ((await sha256File(join(card2.dir, ...rel.split('/')))) !== null) return false;
          return (await docks()).every((x) => x.paused === null);
        }, 180_000, 250);
        // Once every file is gone its wipe is committed (the unlink's commit comes right after).
        await sleep(500);
        daemon.kill('SIGTERM');
        const dcode = await dexited;
        if (dcode !== 0) throw new Error(`the daemon did not stop cleanly on SIGTERM (exit ${dcode}): ${dio.err().slice(0, 800)}`);
        const resumed = /vault answers again: collection resumed/.test(dio.out());
        const dfin = await check('the daemon that resumed after the object store came back', true);
        const docksRow = countIn(home, "SELECT files_ingested AS n FROM docks WHERE recorder_serial = 'S3D1' ORDER BY docked_at DESC LIMIT 1");
        this.results.push({
          fault: 'S3 object store (Swift) stopped mid-ingest under the daemon, a recorder docked (wiping), started again',
          injected: 1,
          checks: 2,
          outcome: `stopped after ${stopAfter} items: the dock showed paused (${paused?.code ?? '?'}) through GET /docks with ${atPause} of 6 items in, ${gone} files wiped (each stored and recorded), ${6 - gone} left on the recorder; Swift started again, the daemon ${resumed ? 'resumed by itself' : 'went on'} and collected and wiped the rest (the dock counts ${docksRow} ingested); ${dfin.evidence} items in the bucket, each once`,
          ms: Date.now() - d0,
        });
      } finally {
        if (daemon.exitCode === null && daemon.signalCode === null) {
          daemon.kill('SIGKILL');
          await dexited;
        }
      }
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => forwarder.close(r));
      // Set in the closures above: TypeScript cannot see that.
      const px = proxy as ChildProcess | null;
      if (px && px.exitCode === null && px.signalCode === null) {
        px.kill('SIGTERM');
        await exitOf(px);
      }
      await run('bash', [SWIFT_SCRIPT, 'stop', swiftDir], { timeout: 60_000 });
    }
  }
}

/** Run the whole campaign; throws (after stopping everything it started) at the first broken invariant. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  o.log(`chaos: seed ${o.seed} (replay with --seed ${o.seed}); ${o.ingestKills} ingest kills, ${o.daemonKills} daemon kills, ${o.walKills} checkpoint kills, ${o.adminKills} kills of each of ${ADMIN_OPS.join(', ')}${o.directWrites ? '; vaults written with directWrites' : ''}`);
  // Every station's environment starts from ENV, so the setting reaches each process;
  // it is taken out again after this campaign, so a later one in the process runs without it.
  if (o.directWrites) Object.assign(ENV, { CUSTODY_VAULT_FS_DIRECT_WRITES: 'true' });
  try {
    const c = new Campaign(o);
    await c.run();
    return { seed: o.seed, startedAt, results: c.results, kills: c.kills, ms: Date.now() - t0 };
  } finally {
    delete (ENV as Record<string, string>).CUSTODY_VAULT_FS_DIRECT_WRITES;
  }
}

/** The report as a Markdown table (docs/reliability.md takes it as it is). */
export function reportTable(r: CampaignReport): string {
  const lines = ['| fault | injected | checks passed | what the station did | seconds |', '| --- | --- | --- | --- | --- |'];
  for (const x of r.results) lines.push(`| ${x.fault} | ${x.injected} | ${x.checks} | ${x.outcome} | ${(x.ms / 1000).toFixed(0)} |`);
  return `${lines.join('\n')}\n\nseed ${r.seed}, started ${r.startedAt}, ${r.kills} kills, ${(r.ms / 1000).toFixed(0)} s\n`;
}

