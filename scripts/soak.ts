/**
 * The soak (issue 17), by hand and bounded: `npm run soak` (30 minutes, 20 recorders),
 * `npm run soak -- --minutes 3 --recorders 8` for a short one.
 *
 * The built daemon runs with a mount root; lab recorders (folders written by the
 * recorder simulator, behind the lab's throttled pass-through mount: 38 MB/s each, 4 per
 * 35 MB/s USB bus, deletions pass) dock in waves: every --wave-seconds the next group is
 * docked, a recorder whose card the station emptied is undocked and given new footage
 * for its next turn. Meanwhile the API is asked searches (GET /evidence) and content
 * (GET /evidence/{id}/content, a 1 MiB range, under an approved grant). Every 5 s the
 * daemon's resident memory and open descriptors are sampled.
 *
 * The report prints the slope of memory and descriptors (least squares, after the first
 * fifth of the run), the API's p50/p99 under ingest, errors (failed requests, error lines
 * in the daemon's log), open flags, and the fault campaign's invariants checked at the
 * end; it fails on any error or unresolved flag (none should be there: the throttled
 * mount lets the clock sync rewrite the recorder's status file, and refills are numbered
 * on from the last file). Everything it starts it stops by its own pids. Needs the recorder lab and the
 * built CLI (`npm run build`).
 */
import { type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { simulateRecorder } from '../src/devices/simulate.js';
import { runCli, startCli, waitFor } from '../test/helpers/cli.js';
import { rng } from '../test/chaos/campaign.js';
import { checkInvariants, sha256File, type Card } from '../test/chaos/invariants.js';
import { Lab, requireLab, type Mount } from '../test/lab/lab.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    recorders: { type: 'string', default: '20' },
    'wave-seconds': { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
});
// The refills' sizes and counts come from one seed, printed first (the footage's bytes are random anyway).
const SEED = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const random = rng(SEED);
const MINUTES = Number(values.minutes);
const RECORDERS = Number(values.recorders);
const WAVE_MS = Number(values['wave-seconds']) * 1000;
if (!Number.isSafeInteger(SEED) || SEED < 0 || !(MINUTES > 0 && MINUTES <= 240) || !(Number.isInteger(RECORDERS) && RECORDERS >= 1 && RECORDERS <= 40) || !(WAVE_MS >= 5000)) {
  console.error('--minutes 0–240, --recorders 1–40, --wave-seconds at least 5, --seed a whole number');
  process.exit(2);
}
const GROUP = Math.max(1, Math.ceil(RECORDERS / 4));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Recorder extends Card {
  slot: string;
  mount: Mount | null;
  officer: string;
  /** The number of the recorder's next file, and the true time its last recording ended. */
  next: number;
  lastEnd: number;
  docks: number;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/**
 * New footage on a recorder coming back from duty, made by the recorder simulator itself:
 * `count` clips numbered on from its last file (`firstNumber`) and recorded (`recordedAt`)
 * after its last recording, so the numbers, the names and the media's own creation time
 * all go on from its last file, as a recorder's do. Each clip is padded to 4–8 MiB of
 * random bytes (distinct content). The simulator writes into a folder of its own; its
 * clips are moved onto the card (its audio file and photos, which follow the clips in its
 * numbering, are left out, and so are their numbers).
 */
async function refill(r: Recorder, count: number, work: string): Promise<void> {
  // Recorded from ten minutes ago at the earliest, and after the recorder's last recording.
  const recordedAt = new Date(Math.ceil(Math.max(r.lastEnd + 5_000, Date.now() - 600_000) / 1000) * 1000);
  const out = join(work, `${r.serial}-${r.next}`);
  const sim = await simulateRecorder({
    out,
    serial: r.serial,
    clips: count,
    seconds: 1,
    gapSeconds: 3,
    recordedAt,
    firstNumber: r.next,
    clipBytes: (4 + Math.floor(random() * 4)) * 1024 * 1024,
    officer: r.officer,
    unit: '350200000000',
    concurrency: 1,
  });
  for (const f of sim.files.filter((x) => x.kind === 'video')) {
    const to = join(r.dir, ...f.relPath.split('/'));
    await mkdir(dirname(to), { recursive: true });
    await rename(f.path, to);
    r.files.set(f.relPath, (await sha256File(to))!);
    r.next = f.number + 1;
    r.lastEnd = f.recordedStart.getTime() + f.durationMs;
  }
  await rm(out, { recursive: true, force: true });
}

async function onCard(r: Recorder): Promise<number> {
  let n = 0;
  for (const p of r.files.keys()) if ((await sha256File(join(r.dir, ...p.split('/')))) !== null) n++;
  return n;
}

await requireLab();
const dir = await mkdtemp(join(tmpdir(), 'custody-soak-'));
const lab = new Lab(join(dir, 'lab'));
const home = join(dir, 'home');
const root = join(dir, 'M');
let daemon: ChildProcess | null = null;
let failed = false;
try {
  await mkdir(root, { recursive: true });
  if ((await runCli(['init', '--home', home])).code !== 0) throw new Error('custody init failed');
  const user = async (name: string, role: string): Promise<string> => {
    const r = await runCli(['users', 'add', '--name', name, '--role', role, '--json', '--home', home]);
    if (r.code !== 0) throw new Error(`custody users add failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { token: string }).token;
  };
  const operator = await user('soak-operator', 'operator');
  const admin = await user('soak-admin', 'admin');

  const recorders: Recorder[] = [];
  for (let i = 1; i <= RECORDERS; i++) {
    const serial = `SOAK${String(i).padStart(2, '0')}`;
    const cardDir = join(dir, 'cards', serial);
    // Recorded ten minutes ago, so that the refills (from two minutes ago on) come after it.
    const sim = await simulateRecorder({ out: cardDir, serial, clips: 1, seconds: 1, recordedAt: new Date(Date.now() - 600_000), officer: String(100000 + i), unit: '350200000000' });
    const files = new Map<string, string>();
    for (const f of sim.files) files.set(f.relPath, (await sha256File(f.path))!);
    // Refills are numbered and recorded on from the simulator's last file.
    const last = sim.files[sim.files.length - 1]!;
    const r: Recorder = { serial, dir: cardDir, files, slot: join(root, serial), mount: null, officer: String(100000 + i), next: last.number + 1, lastEnd: last.recordedStart.getTime() + last.durationMs, docks: 0 };
    // No refill before its first dock: that dock takes the simulator's files alone, and
    // each later one only footage numbered and timed on from them.
    recorders.push(r);
  }

  const log = createWriteStream(join(dir, 'daemon.log'));
  let out = '';
  daemon = startCli(['daemon', '--home', home], {
    CUSTODY_DEVICES_MOUNT_ROOTS: root,
    CUSTODY_API_PORT: '0',
    CUSTODY_DEVICES_RESCAN_SECONDS: '3600',
    CUSTODY_INGEST_WIPE_AFTER_INGEST: 'true',
    CUSTODY_LOG_LEVEL: 'info',
  });
  const d = daemon;
  d.stdout!.on('data', (b: Buffer) => {
    log.write(b);
    if (out.length < 1_000_000) out += b.toString();
  });
  let errLines = 0;
  d.stdout!.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n')) if (/"level":(50|60)\b/.test(line)) errLines++;
  });
  const api = await waitFor('the daemon to start', async () => {
    if (d.exitCode !== null) throw new Error(`the daemon exited ${d.exitCode}`);
    const m = /"url":"(http:\/\/[^"]+)"[^\n]*HTTP API listening/.exec(out);
    return m ? m[1]! : null;
  }, 60_000, 50);
  console.log(`soak: seed ${SEED}, ${MINUTES} min, ${RECORDERS} recorders in waves of ${GROUP} every ${WAVE_MS / 1000} s; API ${api}; daemon pid ${d.pid}; in ${dir}`);

  const get = async (path: string, token: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number; body: Buffer }> => {
    const t = performance.now();
    const res = await fetch(`${api}/api/v1${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, ms: performance.now() - t, body };
  };
  const post = async (path: string, token: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${api}/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(j)}`);
    return j;
  };

  const start = Date.now();
  const end = start + MINUTES * 60_000;
  const samples: Array<{ t: number; rss: number; fds: number }> = [];
  const search: number[] = [];
  const content: number[] = [];
  let apiErrors = 0;
  const sample = async (): Promise<void> => {
    const status = await readFile(`/proc/${d.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    const fds = (await readdir(`/proc/${d.pid}/fd`)).length;
    samples.push({ t: (Date.now() - start) / 60_000, rss, fds });
  };

  // Waves: dock the next group; undock a recorder whose card the station has emptied, and refill it.
  const waves = (async () => {
    let wave = 0;
    while (Date.now() < end) {
      for (const r of recorders) {
        if (r.mount && (await onCard(r)) === 0) {
          await lab.unmount(r.mount);
          r.mount = null;
          await refill(r, 2 + Math.floor(random() * 3), join(dir, 'refills'));
        }
      }
      const group = recorders.slice((wave % 4) * GROUP, (wave % 4) * GROUP + GROUP);
      for (const r of group) {
        if (r.mount) continue;
        const bus = join(dir, `bus-${Math.floor(recorders.indexOf(r) / 4)}`);
        // The station wipes and syncs the recorder's clock (its status file): both pass.
        r.mount = await lab.throttle(r.dir, r.slot, { rate: 38, bus, busRate: 35, unlink: true, statusFile: 'RECORDER.JSON' });
        r.docks++;
      }
      wave++;
      const until = Math.min(end, Date.now() + WAVE_MS);
      while (Date.now() < until) await sleep(1000);
    }
  })();

  const searches = (async () => {
    while (Date.now() < end) {
      try {
        const r = await get('/evidence?limit=50', operator);
        if (r.status === 200) search.push(r.ms);
        else apiErrors++;
      } catch {
        apiErrors++;
      }
      await sleep(200);
    }
  })();

  const contents = (async () => {
    // A grant for the first items, asked by the operator and approved by someone else.
    const ids = await waitFor('five items to ask for', async () => {
      const r = await get('/evidence?limit=5', operator);
      const items = (JSON.parse(r.body.toString()) as { items: Array<{ id: string }> }).items;
      return items.length >= 5 ? items.map((i) => i.id) : null;
    }, 300_000, 1000);
    const req = await post('/access-requests', operator, { evidenceIds: ids, reason: 'soak: content under ingest', hours: Math.ceil(MINUTES / 60) + 1 });
    await post(`/access-requests/${String(req.id)}/approve`, admin, { note: 'soak' });
    for (let i = 0; Date.now() < end; i++) {
      try {
        const r = await get(`/evidence/${ids[i % ids.length]!}/content`, operator, { range: 'bytes=0-1048575' });
        if (r.status === 206 || r.status === 200) content.push(r.ms);
        else apiErrors++;
      } catch {
        apiErrors++;
      }
      await sleep(200);
    }
  })();

  const sampling = (async () => {
    while (Date.now() < end) {
      await sample();
      const last = samples[samples.length - 1]!;
      if (samples.length % 12 === 1) console.log(`  ${last.t.toFixed(1)} min: rss ${last.rss.toFixed(0)} MiB, ${last.fds} fds, ${search.length} searches, ${content.length} content reads, ${apiErrors} API errors`);
      await sleep(5000);
    }
  })();
  await Promise.all([waves, searches, contents, sampling]);

  // Let the docked recorders finish, bounded, then stop and check.
  await waitFor('the docked recorders to be emptied', async () => {
    for (const r of recorders) if (r.mount && (await onCard(r)) > 0) return false;
    return true;
  }, 300_000, 1000).catch(() => console.log('  (some recorders were still being collected at the end)'));
  const flags = JSON.parse((await get('/flags?state=unresolved&limit=100', admin)).body.toString()) as { items?: Array<{ rule: string }> };
  const byRule = new Map<string, number>();
  for (const f of flags.items ?? []) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  d.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => (d.exitCode !== null ? r(d.exitCode) : d.once('exit', (c) => r(c))));
  const docked = recorders.filter((r) => r.mount);
  // Undocked cards are whole; the ones still docked may hold files the station had not reached.
  const check = await checkInvariants(home, recorders, { final: false, wipe: true });

  const warm = samples.filter((s) => s.t >= MINUTES / 5);
  const rssSlope = slope(warm.map((s) => [s.t, s.rss]));
  const fdSlope = slope(warm.map((s) => [s.t, s.fds]));
  console.log('\nsoak report');
  console.log(`  ran ${((Date.now() - start) / 60_000).toFixed(1)} min; ${recorders.reduce((n, r) => n + r.docks, 0)} docks of ${RECORDERS} recorders; ${check.evidence} items in the vault, ${check.wiped} wiped, ${check.onRecorders} files on recorders (new footage waiting for a dock, or on the ${docked.length} still docked)`);
  console.log(`  resident memory: ${samples[0]?.rss.toFixed(0)} → ${samples[samples.length - 1]?.rss.toFixed(0)} MiB, slope ${rssSlope.toFixed(2)} MiB/min after the first fifth`);
  console.log(`  open descriptors: ${samples[0]?.fds} → ${samples[samples.length - 1]?.fds}, slope ${fdSlope.toFixed(2)} per min after the first fifth`);
  console.log(`  API under ingest: searches ${search.length}, p50 ${quantile(search, 0.5).toFixed(1)} ms, p99 ${quantile(search, 0.99).toFixed(1)} ms; content (1 MiB range) ${content.length}, p50 ${quantile(content, 0.5).toFixed(1)} ms, p99 ${quantile(content, 0.99).toFixed(1)} ms`);
  console.log(`  errors: ${apiErrors} failed API requests, ${errLines} error lines in the daemon's log; unresolved flags: ${flags.items?.length ?? '?'} (${[...byRule].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`);
  console.log(`  daemon stopped on SIGTERM with exit ${code}; invariants: passed`);
  // No flag should be there: the recorders' clocks are synced on every dock, their footage
  // numbered on without gaps and collected within the hour it was recorded.
  if ((flags.items?.length ?? 0) > 0) console.log(`  flags that should not be there: ${JSON.stringify(flags.items?.slice(0, 5))}`);
  if (code !== 0 || apiErrors > 0 || errLines > 0 || (flags.items?.length ?? 0) > 0) failed = true;
} catch (e) {
  failed = true;
  console.error(`soak FAILED: ${(e as Error).message}`);
} finally {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  await lab.close();
  if (failed || values.keep) console.log(`kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
