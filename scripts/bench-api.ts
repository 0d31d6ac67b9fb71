/**
 * npm run bench:api — GET /evidence search figures on a catalog of 1,000,000 items.
 *
 * 1. Seeds a fresh catalog (temp folder) with BENCH_ITEMS evidence rows (default
 *    1,000,000) in batched transactions: 20 units, 500 officers, 400 recorders, a
 *    year of recordings. Rows only: no footage and no per-item ledger entries (the
 *    search does not read them). Every item then gets the probe record the analysis
 *    stores, and each H.265 video (a third) a ready proxy: the search reads both to
 *    say how an item plays.
 * 2. Starts the real `custody serve` on 127.0.0.1, port 0, in a child process, so the
 *    load generator and the server do not share an event loop: from a tsc build of
 *    src/ made for the purpose, as the installed package runs (BENCH_SERVER_SOURCE=1:
 *    the source through tsx, which transpiles each module at its first import).
 * 3. For each search, runs autocannon on loopback for BENCH_SECONDS (default 10) with
 *    BENCH_CONNECTIONS (default 10) connections, rotating the filter values, and
 *    prints requests/s, p50/p99 latency and the server's CPU time per request (user +
 *    system of its process, every thread, from /proc: the figure a loaded machine
 *    inflates least); then runs the same query directly through the SQL layer
 *    (EvidenceQueries.searchJson, what the route calls) BENCH_SQL_RUNS times and prints
 *    its p50 and p99: the floor under the HTTP figure.
 *
 * Only loopback is ever targeted; every run is bounded in time.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { v7 as uuidv7 } from 'uuid';
import { UsersService } from '../src/access/users.js';
import { encodeCursor } from '../src/api/cursor.js';
import { EvidenceQueries, type EvidenceFilter } from '../src/api/queries/evidence.js';
import { Catalog, catalogPath } from '../src/catalog/index.js';
import { tscBuild } from './bench-lib.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SQL_RUNS = Number(process.env.BENCH_SQL_RUNS ?? 2000);
/** The server's log level: info, as the daemon runs by default (a log line per request). */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const PAGE = 50;
const UNITS = 20;
const OFFICERS = 500;
const RECORDERS = 400;
const NOW = Date.parse('2026-11-27T00:00:00.000Z');
const YEAR_MS = 365 * 86_400_000;
const DAY_MS = 86_400_000;

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const unitName = (u: number): string => `U${String(u + 1).padStart(2, '0')}`;
const officerName = (o: number): string => `O${String(o + 1).padStart(4, '0')}`;
const serialName = (s: number): string => `ZFY${String(s + 1).padStart(4, '0')}`;

/** A small deterministic PRNG (mulberry32), so every run seeds the same catalog. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seed(catalog: Catalog): number {
  const db = catalog.db;
  const started = performance.now();
  // Bench only: this catalog is thrown away, so skip the per-commit fsync.
  db.pragma('synchronous = OFF');
  // A large page cache keeps the 13 indexes' hot pages in memory while seeding.
  db.pragma('cache_size = -1048576');
  const rand = rng(42);
  const insertRecorder = db.prepare('INSERT INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let s = 0; s < RECORDERS; s++) {
      const o = Math.floor((s * OFFICERS) / RECORDERS);
      insertRecorder.run(serialName(s), 'DSJ-T1', officerName(o), unitName(o % UNITS), '2025-11-01T00:00:00.000Z', '2026-11-26T00:00:00.000Z');
    }
  })();
  const insert = db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name,
    source_mtime_ms, recorded_start, recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected,
    ingested_at, session_id, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const BATCH = 50_000;
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const o = Math.floor(rand() * OFFICERS);
      const s = Math.floor((o * RECORDERS) / OFFICERS);
      // Items arrive roughly in time order, as ingest adds them.
      const recorded = NOW - YEAR_MS + Math.floor(((i + rand()) * YEAR_MS) / ITEMS);
      const ingested = recorded + 1_800_000 + Math.floor(rand() * 30 * 3_600_000);
      const r = rand();
      const type = r < 0.8 ? 'video' : r < 0.95 ? 'audio' : 'photo';
      const durationMs = type === 'photo' ? null : 30_000 + Math.floor(rand() * 1_800_000);
      const drift = rand() < 0.1 ? Math.floor(rand() * 120_000) - 60_000 : null;
      const startIso = new Date(recorded).toISOString();
      const name = `${serialName(s)}_${i}.${type === 'video' ? 'MP4' : type === 'audio' ? 'WAV' : 'JPG'}`;
      insert.run(
        uuidv7({ msecs: ingested }),
        (i.toString(16).padStart(16, '0') + 'ab').repeat(4).slice(0, 64),
        1_000_000 + Math.floor(rand() * 500_000_000),
        type,
        serialName(s),
        officerName(o),
        unitName(o % UNITS),
        `DCIM/${name}`,
        name,
        recorded,
        startIso,
        durationMs === null ? null : new Date(recorded + durationMs).toISOString(),
        'metadata',
        drift,
        drift === null ? null : new Date(recorded - drift).toISOString(),
        drift === null || durationMs === null ? null : new Date(recorded - drift + durationMs).toISOString(),
        new Date(ingested).toISOString(),
        'bench',
        durationMs,
      );
    }
  });
  for (let i = 0; i < ITEMS; i += BATCH) {
    batch(i, Math.min(ITEMS, i + BATCH));
    if (process.stderr.isTTY) process.stderr.write(`\r  seeded ${Math.min(ITEMS, i + BATCH).toLocaleString('en')} / ${ITEMS.toLocaleString('en')}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  db.pragma('synchronous = FULL');
  db.pragma('wal_checkpoint(TRUNCATE)');
  return performance.now() - started;
}

/**
 * Give every item the probe record the analysis follow-up stores (media_json) and, for
 * video the browser cannot play (a third, H.265), a ready proxy: a station's items are
 * analysed within minutes of ingest, and the search decides each item's playback from
 * them. Run once per catalog (a catalog seeded before this step gets it when reused).
 */
function analyse(catalog: Catalog): number {
  const db = catalog.db;
  const started = performance.now();
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  const stream = (type: string, codec: string, more: string): string => `{"type":"${type}","codec":"${codec}",${more}}`;
  const video = (codec: string): string =>
    `'{"ok":true,"kind":"video","container":"mp4","durationMs":' || duration_ms || ',"streams":[${stream('video', codec, '"width":1920,"height":1080,"frameRate":30')},${stream('audio', 'aac', '"sampleRate":16000,"channels":1')}],"creationTime":"' || recorded_start || '"}'`;
  db.transaction(() => {
    db.prepare(
      `UPDATE evidence SET media_json = CASE
        WHEN media_type = 'photo' THEN '{"ok":true,"kind":"photo","container":"jpeg","durationMs":0,"streams":[${stream('video', 'mjpeg', '"width":4000,"height":3000')}],"creationTime":"' || recorded_start || '"}'
        WHEN media_type = 'audio' THEN '{"ok":true,"kind":"audio","container":"wav","durationMs":' || duration_ms || ',"streams":[${stream('audio', 'pcm_s16le', '"sampleRate":8000,"channels":1')}],"creationTime":null}'
        WHEN rowid % 3 = 0 THEN ${video('hevc')}
        ELSE ${video('h264')} END`,
    ).run();
    db.prepare(
      `INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, video_codec, audio_codec, width, height, duration_ms, attempts, created_at, updated_at)
        SELECT id, sha256, 'video', 'ready', 'hevc video', substr(sha256, 3) || 'cd', size / 4, 'mp4', 'h264', 'aac', 1280, 720, duration_ms, 1, ingested_at, ingested_at
        FROM evidence WHERE media_type = 'video' AND rowid % 3 = 0`,
    ).run();
  })();
  db.pragma('synchronous = FULL');
  db.pragma('wal_checkpoint(TRUNCATE)');
  return performance.now() - started;
}

interface Scenario {
  name: string;
  token: 'admin' | 'scoped';
  /** Filters, one set per request in rotation; the SQL floor uses the same sets. */
  variants: { query: string; filter: EvidenceFilter; scope: string | null; after: { t: string; id: string } | null }[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The same query as the route, run directly: the floor under the HTTP latency. */
function sqlFloor(q: EvidenceQueries, s: Scenario): { p50: number; p99: number } {
  const times: number[] = [];
  for (let i = 0; i < SQL_RUNS; i++) {
    const v = s.variants[i % s.variants.length]!;
    const t0 = performance.now();
    q.searchJson(v.scope, v.filter, v.after, PAGE + 1);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** The cursor the API would give after `offset` items of this search. */
function cursorAt(catalog: Catalog, where: string, params: unknown[], offset: number): { t: string; id: string } {
  return catalog.db
    .prepare(`SELECT recorded_at AS t, id FROM evidence WHERE ${where} ORDER BY recorded_at DESC, id DESC LIMIT 1 OFFSET ?`)
    .get(...params, offset - 1) as { t: string; id: string };
}

/**
 * CPU seconds (user + system, every thread) the server process has used so far, from
 * /proc (Linux). The CPU a request costs the server is what a loaded machine inflates
 * least: latency and req/s depend on what else runs on the CPUs, this barely does.
 */
function serverCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after its closing ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/**
 * BENCH_SERVER_ROOT: another checkout whose `custody serve` to run against the same
 * catalog (e.g. the commit before a change, as the baseline); default this one.
 */
const serverRoot = resolve(process.env.BENCH_SERVER_ROOT ?? root);

async function startServer(home: string, logFile: string, build: string | null): Promise<{ url: string; pid: number; stop: () => Promise<number | null> }> {
  // BENCH_SERVER_NODE_ARGS: extra node options for the server only, e.g. "--cpu-prof --cpu-prof-dir=DIR" to profile the request path.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const main = build ? [join(build, 'cli', 'main.js')] : ['--import', 'tsx', join(serverRoot, 'src/cli/main.ts')];
  // The server logs as the daemon does (log.level info: a line per request), to a file
  // standing for journald.
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, ...main, 'serve', '--home', home, '--port', '0', '--json', '--log-level', LOG_LEVEL], {
    cwd: serverRoot,
    stdio: ['ignore', 'pipe', log],
    env: { ...process.env, CUSTODY_HOME: home },
  });
  closeSync(log);
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) res((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => rej(new Error(`custody serve exited with ${code} (its log: ${logFile})`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((res) => {
        child.on('exit', (code) => res(code));
        child.kill('SIGTERM');
      }),
  };
}

async function load(url: string, token: string, s: Scenario, seconds = SECONDS): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          const v = s.variants[n++ % s.variants.length]!;
          return { ...req, path: `/api/v1/evidence?${v.query}` };
        },
      },
    ],
  });
}

async function main(): Promise<void> {
  // BENCH_DIR: a folder kept after the run; a catalog already seeded there is reused (no
  // 6-minute seeding on a busy machine when comparing two builds).
  const kept = process.env.BENCH_DIR;
  const dir = kept ?? (await mkdtemp(join(tmpdir(), 'custody-bench-api-')));
  const home = join(dir, 'home');
  const reuse = kept !== undefined && existsSync(catalogPath(home));
  try {
    console.log(`custody bench:api — ${ITEMS.toLocaleString('en')} evidence items, ${CONNECTIONS} connections, ${SECONDS} s per search, loopback`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`);
    const catalog = Catalog.open(catalogPath(home));
    const seedMs = reuse ? 0 : seed(catalog);
    if (reuse) console.log(`reusing the seeded catalog in ${home}`);
    else console.log(`seeded in ${(seedMs / 1000).toFixed(1)} s (${Math.round(ITEMS / (seedMs / 1000)).toLocaleString('en')} rows/s, all 13 evidence indexes in place)`);
    if (catalog.db.prepare('SELECT 1 FROM evidence WHERE media_json IS NOT NULL LIMIT 1').get() === undefined) {
      console.log(`analysed in ${(analyse(catalog) / 1000).toFixed(1)} s (a probe record for every item; a ready proxy for each H.265 video, a third of them)`);
    }
    const users = new UsersService(catalog);
    const admin = users.create({ name: `Bench admin ${Date.now()}`, role: 'admin', tokenExpiresAt: null }, 'bench').token;
    const scoped = users.create({ name: `Bench supervisor ${Date.now()}`, role: 'supervisor', unit: unitName(6), tokenExpiresAt: null }, 'bench').token;

    const from = new Date(NOW - 30 * DAY_MS).toISOString();
    const to = new Date(NOW).toISOString();
    const officers = Array.from({ length: 50 }, (_, i) => officerName(i * 10 + 3));
    const units = Array.from({ length: UNITS }, (_, u) => unitName(u));
    const recorded = (f: Partial<EvidenceFilter>): EvidenceFilter => ({ time: 'recorded', ...f });
    const enc = (a: { t: string; id: string }): string => encodeCursor('evidence:recorded', [a.t, a.id]);

    const deepUnit = units.slice(0, 5).map((u) => ({ u, after: cursorAt(catalog, 'unit = ?', [u], 20_000) }));
    const deepAll = cursorAt(catalog, '1 = 1', [], 500_000);
    const deepOfficer = officers.slice(0, 10).map((o) => ({ o, after: cursorAt(catalog, 'officer = ? AND recorded_at >= ? AND recorded_at < ?', [o, from, to], 2 * PAGE) }));
    if (deepOfficer.some((d) => d.after === undefined)) throw new Error('too few items per officer for a third page: raise BENCH_ITEMS');

    const scenarios: Scenario[] = [
      {
        name: 'officer + 30-day range, first page',
        token: 'admin',
        variants: officers.map((o) => ({ query: `officer=${o}&from=${from}&to=${to}&limit=${PAGE}`, filter: recorded({ officer: o, from, to }), scope: null, after: null })),
      },
      {
        name: 'officer + 30-day range, page 3',
        token: 'admin',
        variants: deepOfficer.map(({ o, after }) => ({ query: `officer=${o}&from=${from}&to=${to}&limit=${PAGE}&cursor=${enc(after)}`, filter: recorded({ officer: o, from, to }), scope: null, after })),
      },
      {
        name: 'unit, first page',
        token: 'admin',
        variants: units.map((u) => ({ query: `unit=${u}&limit=${PAGE}`, filter: recorded({ unit: u }), scope: null, after: null })),
      },
      {
        name: 'unit, deep page (after 20,000 items)',
        token: 'admin',
        variants: deepUnit.map(({ u, after }) => ({ query: `unit=${u}&limit=${PAGE}&cursor=${enc(after)}`, filter: recorded({ unit: u }), scope: null, after })),
      },
      {
        name: 'unit-scoped supervisor, no filter, first page',
        token: 'scoped',
        variants: [{ query: `limit=${PAGE}`, filter: recorded({}), scope: unitName(6), after: null }],
      },
      {
        name: 'everything, deep page (after 500,000 items)',
        token: 'admin',
        variants: [{ query: `limit=${PAGE}&cursor=${enc(deepAll)}`, filter: recorded({}), scope: null, after: deepAll }],
      },
    ];

    // The floor is taken on a connection opened as the server opens its own (the
    // catalog's pragmas, its page cache), not on the seeding one, whose 1 GiB cache
    // holds the whole freshly written catalog: that made the floor look far lower than
    // any query the server could run.
    catalog.close();
    const reader = Catalog.open(catalogPath(home));
    const q = new EvidenceQueries(reader.db);
    const floors = scenarios.map((s) => sqlFloor(q, s));
    // The same with a 32 MiB page cache instead of the default (16,000 KiB: better-sqlite3
    // builds SQLite with SQLITE_DEFAULT_CACHE_SIZE=-16000, not SQLite's own 2 MiB), to see what a
    // larger cache would buy (measured in issue 18: nothing that shows; the OS page
    // cache serves the pages in microseconds).
    reader.db.pragma('cache_size = -32768');
    const big = new EvidenceQueries(reader.db);
    const bigFloors = scenarios.map((s) => sqlFloor(big, s));
    reader.close();
    for (const [i, s] of scenarios.entries()) {
      const a = floors[i]!;
      const b = bigFloors[i]!;
      console.log(`  SQL floor, ${s.name}: p50 ${a.p50.toFixed(2)} / p99 ${a.p99.toFixed(2)} ms with the catalog's default page cache (16,000 KiB); ${b.p50.toFixed(2)} / ${b.p99.toFixed(2)} ms with 32 MiB`);
    }

    const logFile = join(dir, 'server.log');
    const build = process.env.BENCH_SERVER_SOURCE === '1' ? null : tscBuild(serverRoot, 'api-build', join('cli', 'main.js'), (m) => console.log(m));
    const dropBuild = (): void => {
      if (build) rmSync(build, { recursive: true, force: true });
    };
    // The server imports some modules at their first use: its build stays until it stops.
    const server = await startServer(home, logFile, build).catch((e: unknown) => {
      dropBuild();
      throw e;
    });
    console.log(`server: ${process.env.BENCH_SERVER_ROOT ?? 'this checkout'}, ${build ? 'a tsc build of src/' : 'the source through tsx'}, log level ${LOG_LEVEL}, its log in ${logFile}`);
    const rows: string[][] = [];
    try {
      // Warm up (JIT, schema compilation, page cache): 3 s of the first search, not counted.
      await load(server.url, admin, scenarios[0]!, 3);
      for (const [i, s] of scenarios.entries()) {
        const cpu0 = serverCpuSeconds(server.pid);
        const r = await load(server.url, s.token === 'admin' ? admin : scoped, s);
        const cpu1 = serverCpuSeconds(server.pid);
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${s.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        const f = floors[i]!;
        const cpuUs = cpu0 === null || cpu1 === null || r.requests.total === 0 ? null : ((cpu1 - cpu0) * 1e6) / r.requests.total;
        const cpu = cpuUs === null ? '?' : Math.round(cpuUs).toLocaleString('en');
        rows.push([s.name, Math.round(r.requests.average).toLocaleString('en'), r.latency.p50.toFixed(1), r.latency.p99.toFixed(1), cpu, f.p50.toFixed(2), f.p99.toFixed(2)]);
        console.log(`  ${s.name}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, server ${cpu} CPU-µs/request; SQL p99 ${f.p99.toFixed(2)} ms`);
      }
    } finally {
      const code = await server.stop();
      dropBuild();
      if (code !== 0) console.error(`custody serve exited with ${code}`);
    }

    const head = ['search (50 per page)', 'req/s', 'p50 ms', 'p99 ms', 'server CPU-µs/req', 'SQL p50 ms', 'SQL p99 ms'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
    console.log('');
    console.log(line(head));
    console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    if (kept === undefined) await rm(dir, { recursive: true, force: true });
  }
}

await main();
