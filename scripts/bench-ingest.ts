/**
 * Ingest benchmark: `npm run bench:ingest [-- options]`.
 *
 * 1. One recorder of at least --size-gib GiB (padded real clips from simulateRecorder
 *    plus --small-files small photo/audio files) ingested into a fresh fs vault
 *    through IngestService, fsync on: MB/s, CPU seconds per GB, peak RSS.
 * 2. The two-pass baseline on the same tree: `cp -r TREE DEST && sync`, then
 *    `find DEST -type f -exec openssl dgst -sha256 {} +`; the ratio custody/baseline.
 *    Custody and baseline alternate for --runs runs; the median run is reported.
 * 3. --recorders recorders with distinct content, ingested at once through one
 *    IngestService: aggregate MB/s and peak RSS.
 *
 * Trees are generated in this process; every measured ingest runs in a child
 * process so its CPU and peak RSS are the ingest's alone. Prints a table and a final
 * JSON line; `--json` prints only the JSON.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { Catalog } from '../src/catalog/index.js';
import { silentLogger } from '../src/core/index.js';
import { FolderDriver, simulateRecorder } from '../src/devices/index.js';
import { IngestService, type IngestSettings } from '../src/ingest/index.js';
import { MediaTools } from '../src/media/index.js';
import { FsObjectStore } from '../src/vault/index.js';
import {
  GiB,
  busyWarning,
  parseOptions,
  MiB,
  benchDir,
  canDropCaches,
  childMain,
  machine,
  mb,
  measure,
  round,
  runChild,
  settle,
  sh,
  table,
  timeShell,
  usage,
  type Measured,
} from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ZONE = 'Asia/Shanghai';

// ---------------------------------------------------------------------------
// Child step: one measured ingest of one or more recorders through one service.

interface IngestArgs {
  home: string;
  trees: string[];
  /** ingest.concurrency: files copied at once across all recorders. */
  concurrency: number;
  /** Files of one recorder in flight at once (the CLI and daemon use 2). */
  perRecorder: number;
  readBufferKiB: number;
  /** vault.fs.directWrites. */
  directWrites: boolean;
}

interface IngestOut {
  m: Measured;
  bytes: number;
  files: number;
  statuses: string[];
  failed: number;
  errors: Array<{ path: string; code: string; message: string }>;
}

async function stepIngest(a: IngestArgs): Promise<IngestOut> {
  const catalog = Catalog.open(join(a.home, 'catalog.db'));
  // As production opens it (config defaults): fsync on, size read-back.
  const store = new FsObjectStore({ root: join(a.home, 'vault'), fsync: true, readBack: 'size', directWrites: a.directWrites });
  await store.init();
  const media = new MediaTools();
  // The header probe production passes (createFollowUps().headerProbe); thumbnails
  // and full probes are follow-up jobs after ingest and are not measured here.
  const probe = async (file: string, signal: AbortSignal) => ({ creationTime: await media.creationTimeOf(file, { signal }), durationMs: null });
  const settings: IngestSettings = {
    timezone: ZONE,
    wipeAfterIngest: false,
    wipeRereadSource: true,
    settleSeconds: 2,
    readBufferKb: a.readBufferKiB,
    perRecorder: a.perRecorder,
  };
  const service = new IngestService({ catalog, store, log: silentLogger, concurrency: a.concurrency, settings, probe });
  try {
    const { value: reports, m } = await measure(() =>
      Promise.all(a.trees.map((root) => service.ingest(new FolderDriver({ root }), { actor: 'bench' }))),
    );
    return {
      m,
      bytes: reports.reduce((n, r) => n + r.bytes, 0),
      files: reports.reduce((n, r) => n + r.ingested, 0),
      statuses: reports.map((r) => r.status),
      failed: reports.reduce((n, r) => n + r.failed, 0),
      errors: reports.flatMap((r) => (r.error ? [r.error, ...r.errors] : r.errors)).slice(0, 5),
    };
  } finally {
    catalog.close();
  }
}

// ---------------------------------------------------------------------------
// Generation (parent, not measured).

interface TreeSpec {
  out: string;
  serial: string;
  clips: number;
  clipBytes: number;
  smallFiles: number;
  smallBytes: number;
}

/**
 * A recorder tree: padded real clips (simulateRecorder) plus small photo- and
 * audio-named files written directly, half of each, in the recorder's layout and
 * naming. Content is random per file, so nothing dedupes across files or recorders.
 */
async function generateTree(t: TreeSpec): Promise<{ bytes: number; files: number }> {
  const sim = await simulateRecorder({ out: t.out, serial: t.serial, clips: t.clips, seconds: 2, clipBytes: t.clipBytes, concurrency: 2 });
  let bytes = sim.files.reduce((n, f) => n + f.size, 0);
  const buf = Buffer.allocUnsafe(t.smallBytes);
  const start = DateTime.fromJSDate(new Date(Date.now() - 2 * 3600_000), { zone: ZONE });
  const mtime = new Date(Date.now() - 3600_000); // settled
  for (let i = 0; i < t.smallFiles; i++) {
    const photo = i % 2 === 0;
    const at = start.plus({ seconds: i * 5 });
    const name = `${t.serial}_${at.toFormat('yyyyMMddHHmmss')}_${String((1000 + i) % 10000).padStart(4, '0')}.${photo ? 'JPG' : 'WAV'}`;
    const dir = join(t.out, photo ? 'PHOTO' : 'RECORD', at.toFormat('yyyyMMdd'));
    await mkdir(dir, { recursive: true });
    randomFillSync(buf);
    const p = join(dir, name);
    await writeFile(p, buf);
    await utimes(p, mtime, mtime);
    bytes += buf.length;
  }
  return { bytes, files: sim.files.length + t.smallFiles };
}

/** One tree ingested by custody, copied by the two-pass baseline and by rclone, `runs` times each. */
interface Comparison {
  label: string;
  gen: { bytes: number; files: number };
  runs: number;
  singles: IngestOut[];
  single: IngestOut;
  bases: Array<{ cp: Measured; hash: Measured }>;
  base: { cp: Measured; hash: Measured };
  rclone: { copy: Measured; sync: Measured } | null;
}

/** The JSON figures of one comparison. */
function summarise(c: Comparison) {
  const { single, base, rclone } = c;
  const baseS = base.cp.wallS + base.hash.wallS;
  const GB = c.gen.bytes / 1e9;
  return {
    tree: c.gen,
    custody: {
      seconds: round(single.m.wallS, 2),
      allSeconds: c.singles.map((o) => round(o.m.wallS, 2)),
      MBps: round(mb(single.bytes) / single.m.wallS, 0),
      cpuS: round(single.m.cpuS, 2),
      sysS: round(single.m.sysS, 2),
      cpuSPerGB: round(single.m.cpuS / (single.bytes / 1e9), 2),
      maxRssMiB: round(Math.max(...c.singles.map((o) => o.m.maxRssMiB ?? 0)), 0),
    },
    baseline: { seconds: round(baseS, 2), cpSyncS: round(base.cp.wallS, 2), hashS: round(base.hash.wallS, 2), cpuSPerGB: round((base.cp.cpuS + base.hash.cpuS) / GB, 2) },
    rclone: rclone && {
      copyS: round(rclone.copy.wallS, 2),
      syncS: round(rclone.sync.wallS, 2),
      cpuSPerGB: round(rclone.copy.cpuS / GB, 2),
    },
    custodyOverBaseline: round(single.m.wallS / baseS, 3),
    custodyOverRclone: rclone && round(single.m.wallS / rclone.copy.wallS, 3),
    custodyOverRcloneAndSync: rclone && round(single.m.wallS / (rclone.copy.wallS + rclone.sync.wallS), 3),
  };
}

/** The element with the median key (the lower middle one for an even count). */
function medianBy<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  // The ingest children get the I/O threads custody runs with (the CLI and the daemon's
  // unit both set 16), unless the environment says otherwise.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  const { values } = parseOptions({
    options: {
      'size-gib': { type: 'string', default: '2' },
      'clip-mib': { type: 'string', default: '256' },
      'small-files': { type: 'string', default: '2000' },
      'small-kib': { type: 'string', default: '64' },
      'large-gib': { type: 'string', default: '1' },
      'large-clip-mib': { type: 'string', default: '128' },
      recorders: { type: 'string', default: '8' },
      'recorder-mib': { type: 'string', default: '256' },
      concurrency: { type: 'string', default: '4' },
      'per-recorder': { type: 'string' },
      'read-buffer-kib': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      dir: { type: 'string' },
      cold: { type: 'boolean', default: false },
      'direct-writes': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      cli: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench:ingest -- [--size-gib 2] [--clip-mib 256] [--small-files 2000] [--small-kib 64] [--large-gib 1 (0 skips)] [--large-clip-mib 128]\n' +
        '         [--recorders 8] [--recorder-mib 256] [--concurrency 4] [--per-recorder N (default: concurrency, as custody does)] [--read-buffer-kib 1024] [--runs 3] [--dir PARENT] [--cold] [--direct-writes] [--keep] [--json] [--cli]\n' +
        '  --direct-writes: the vault writes large files with O_DIRECT (vault.fs.directWrites)\n' +
        '  --cli: custody is the built command as a whole process (node dist/cli/main.js ingest TREE --no-follow-up, after custody init; npm run build first),\n' +
        '         module loading and start-up included, instead of the ingest service in a child; --concurrency and --read-buffer-kib are then the config defaults\n',
    );
    return;
  }
  const num = (name: string, v: string, min: number, integer = true): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) usage(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
    return n;
  };
  const sizeGiB = num('size-gib', values['size-gib'], 0.01, false);
  const clipMiB = num('clip-mib', values['clip-mib'], 1);
  const smallFiles = num('small-files', values['small-files'], 0);
  const smallKiB = num('small-kib', values['small-kib'], 1);
  const largeGiB = num('large-gib', values['large-gib'], 0, false);
  const largeClipMiB = num('large-clip-mib', values['large-clip-mib'], 1);
  const recorders = num('recorders', values.recorders, 0);
  const recorderMiB = num('recorder-mib', values['recorder-mib'], 4);
  const concurrency = num('concurrency', values.concurrency, 1);
  // As custody itself runs: a session gets as many workers as there are copy slots.
  const perRecorder = values['per-recorder'] === undefined ? concurrency : num('per-recorder', values['per-recorder'], 1);
  const readBufferKiB = num('read-buffer-kib', values['read-buffer-kib'], 16);
  const runs = num('runs', values.runs, 1);
  const cold = values.cold;
  const directWrites = values['direct-writes'];
  const cli = values.cli;
  const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  if (cli && spawnSync(process.execPath, [CLI, '--version'], { stdio: 'ignore' }).status !== 0) usage(`--cli needs a build: ${CLI} does not run (npm run build)`);
  /** The one-shot command as staff run it: its whole process measured (wall, CPU of the child). */
  const cliIngest = async (home: string, tree: string, want: { bytes: number; files: number }): Promise<IngestOut> => {
    const env = `CUSTODY_HOME=${sh(home)}`;
    await timeShell(`${env} ${sh(process.execPath)} ${sh(CLI)} init > /dev/null`);
    const report = join(home, 'bench-report.txt');
    const m = await timeShell(`${env} ${sh(process.execPath)} ${sh(CLI)} ingest ${sh(tree)} --serial BENCH-CLI --no-follow-up > ${sh(report)}`);
    const text = await readFile(report, 'utf8');
    const got = /(\d+) ingested, (\d+) skipped, (\d+) failed, [\d.]+ MB \(([a-z-]+)\)/.exec(text);
    if (!got) throw new Error(`custody ingest printed no report line: ${text.slice(0, 300)}`);
    const files = Number(got[1]);
    if (files !== want.files) throw new Error(`custody ingest took ${files} of the tree's ${want.files} files: ${text.slice(0, 300)}`);
    return { m, bytes: want.bytes, files, statuses: [got[4]!], failed: Number(got[3]), errors: [] };
  };
  const json = values.json;
  const log = (s: string): void => {
    if (!json) process.stderr.write(`${s}\n`);
  };
  if (cold && !canDropCaches()) usage('--cold needs to write /proc/sys/vm/drop_caches (root on Linux)');

  const rclone = spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;
  if (!rclone) log('rclone not found (apt-get install rclone): its figures are left out');
  const before = machine();
  const { dir, cleanup } = await benchDir('custody-bench-ingest-', { parent: values.dir, keep: values.keep, log });
  try {
    // --- one recorder: the mixed tree, then a tree of large clips only ---------------
    const compareOn = async (label: string, tree: string, gen: { bytes: number; files: number }): Promise<Comparison> => {
      // Custody, baseline and rclone take turns (a different one first each run), so
      // none always follows another's writeback; the median run is reported. Outputs
      // are kept until every run is done: on a VM that hands freed memory back to the
      // host (virtio-balloon free page reporting), whichever step reused just-freed
      // page cache would otherwise be much faster than the one that did not.
      const singles: IngestOut[] = [];
      const bases: Array<{ cp: Measured; hash: Measured }> = [];
      const rclones: Array<{ copy: Measured; sync: Measured }> = [];
      for (let r = 0; r < runs; r++) {
        const doIngest = async (): Promise<void> => {
          settle(cold);
          const home = join(dir, `${label}-home-${r}`);
          const out = cli ? await cliIngest(home, tree, gen) : await runChild<IngestOut>(SCRIPT, 'ingest', { home, trees: [tree], concurrency, perRecorder, readBufferKiB, directWrites } satisfies IngestArgs);
          singles.push(out);
          log(`  ${label} run ${r + 1}: custody ingest ${out.m.wallS.toFixed(2)} s`);
        };
        const doBaseline = async (): Promise<void> => {
          const dest = join(dir, `${label}-copy-${r}`);
          settle(cold);
          const cp = await timeShell(`cp -r ${sh(tree)} ${sh(dest)} && sync`);
          const hash = await timeShell(`find ${sh(dest)} -type f -exec openssl dgst -sha256 {} + > /dev/null`);
          bases.push({ cp, hash });
          log(`  ${label} run ${r + 1}: baseline       ${(cp.wallS + hash.wallS).toFixed(2)} s (cp -r + sync ${cp.wallS.toFixed(2)} s, openssl ${hash.wallS.toFixed(2)} s)`);
        };
        const doRclone = async (): Promise<void> => {
          if (!rclone) return;
          const dest = join(dir, `${label}-rclone-${r}`);
          settle(cold);
          // rclone checks each transfer's checksum (md5 for local files) by default; it
          // does not sync, so its sync is timed apart.
          const copy = await timeShell(`rclone copy --config /dev/null --transfers ${concurrency} ${sh(tree)} ${sh(dest)}`);
          const sync = await timeShell('sync');
          rclones.push({ copy, sync });
          log(`  ${label} run ${r + 1}: rclone copy    ${copy.wallS.toFixed(2)} s (+ sync ${sync.wallS.toFixed(2)} s)`);
        };
        const order = [doIngest, doBaseline, doRclone];
        for (let k = 0; k < order.length; k++) await order[(k + r) % order.length]!();
      }
      for (let r = 0; r < runs; r++) {
        for (const what of ['home', 'copy', 'rclone']) await rm(join(dir, `${label}-${what}-${r}`), { recursive: true, force: true });
      }
      if (!values.keep) await rm(tree, { recursive: true, force: true });
      const single = medianBy(singles, (o) => o.m.wallS);
      const base = medianBy(bases, (x) => x.cp.wallS + x.hash.wallS);
      const rc = rclones.length > 0 ? medianBy(rclones, (x) => x.copy.wallS) : null;
      return { label, gen, runs, singles, single, bases, base, rclone: rc };
    };

    const clips = Math.max(1, Math.ceil((sizeGiB * GiB) / (clipMiB * MiB)));
    const mixedTree = join(dir, 'recorder');
    log(`generating one recorder: ${clips} × ${clipMiB} MiB clips + ${smallFiles} × ${smallKiB} KiB files in ${dir} …`);
    let t0 = performance.now();
    const gen = await generateTree({ out: mixedTree, serial: 'BENCH0001', clips, clipBytes: clipMiB * MiB, smallFiles, smallBytes: smallKiB * 1024 });
    const genS = (performance.now() - t0) / 1000;
    const mixed = await compareOn('mixed', mixedTree, gen);
    let large: Comparison | null = null;
    if (largeGiB > 0) {
      const largeClips = Math.max(1, Math.ceil((largeGiB * GiB) / (largeClipMiB * MiB)));
      const largeTree = join(dir, 'recorder-large');
      log(`generating a recorder of large clips: ${largeClips} × ${largeClipMiB} MiB …`);
      const g = await generateTree({ out: largeTree, serial: 'BENCH0002', clips: largeClips, clipBytes: largeClipMiB * MiB, smallFiles: 0, smallBytes: 1 });
      large = await compareOn('large', largeTree, g);
    }
    const single = mixed.single;
    const singles = mixed.singles;
    const bases = mixed.bases;
    const { cp, hash } = mixed.base;
    const baseS = cp.wallS + hash.wallS;

    // --- many recorders at once ------------------------------------------------
    let many: IngestOut | null = null;
    const manyGen = { bytes: 0, files: 0, seconds: 0 };
    if (recorders > 0) {
      const perClip = Math.max(1, Math.floor(recorderMiB / 4));
      const perRecorderClips = Math.ceil(recorderMiB / perClip);
      const perSmall = Math.ceil(smallFiles / recorders);
      log(`generating ${recorders} recorders: each ${perRecorderClips} × ${perClip} MiB clips + ${perSmall} × ${smallKiB} KiB files …`);
      t0 = performance.now();
      const trees: string[] = [];
      for (let i = 0; i < recorders; i++) {
        const out = join(dir, `rack-${i + 1}`);
        const g = await generateTree({
          out,
          serial: `BENCH${String(100 + i).padStart(4, '0')}`,
          clips: perRecorderClips,
          clipBytes: perClip * MiB,
          smallFiles: perSmall,
          smallBytes: smallKiB * 1024,
        });
        trees.push(out);
        manyGen.bytes += g.bytes;
        manyGen.files += g.files;
      }
      manyGen.seconds = (performance.now() - t0) / 1000;
      log(`ingesting ${recorders} recorders at once …`);
      settle(cold);
      many = await runChild<IngestOut>(SCRIPT, 'ingest', { home: join(dir, 'home-rack'), trees, concurrency, perRecorder, readBufferKiB, directWrites } satisfies IngestArgs);
      log(`  ${many.m.wallS.toFixed(2)} s`);
    }

    const perGB = (o: IngestOut): number | null => round(o.m.cpuS / (o.bytes / 1e9), 2);
    const result = {
      bench: 'ingest',
      date: new Date().toISOString(),
      machine: before,
      loadavg1mAfter: machine().loadavg1m,
      cache: cold
        ? 'cold: page cache dropped before the custody ingest and before the baseline'
        : 'warm: every read is served from the page cache (custody and baseline alike)',
      settings: {
        fsync: true,
        readBack: 'size',
        directWrites,
        concurrency,
        perRecorder,
        readBufferKiB,
        uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE),
        headerProbe: 'MediaTools.creationTimeOf',
      },
      single: {
        runs,
        tree: { bytes: gen.bytes, files: gen.files, clips, clipMiB, smallFiles, smallKiB, generatedS: round(genS, 1) },
        ingest: {
          seconds: round(single.m.wallS, 2),
          allSeconds: singles.map((o) => round(o.m.wallS, 2)),
          bytes: single.bytes,
          files: single.files,
          MBps: round(mb(single.bytes) / single.m.wallS, 0),
          cpuS: round(single.m.cpuS, 2),
          sysS: round(single.m.sysS, 2),
          cpuSPerGB: perGB(single),
          maxRssMiB: round(Math.max(...singles.map((o) => o.m.maxRssMiB ?? 0)), 0),
          startRssMiB: round(single.m.startRssMiB, 0),
          statuses: singles.flatMap((o) => o.statuses),
          failed: singles.reduce((n, o) => n + o.failed, 0),
          errors: singles.flatMap((o) => o.errors).slice(0, 5),
        },
        baseline: {
          command: 'cp -r TREE DEST && sync; find DEST -type f -exec openssl dgst -sha256 {} +',
          seconds: round(baseS, 2),
          allSeconds: bases.map((b) => round(b.cp.wallS + b.hash.wallS, 2)),
          cpSyncS: round(cp.wallS, 2),
          hashS: round(hash.wallS, 2),
          MBps: round(mb(gen.bytes) / baseS, 0),
          cpuS: round(cp.cpuS + hash.cpuS, 2),
          sysS: round(cp.sysS + hash.sysS, 2),
        },
        ingestOverBaseline: round(single.m.wallS / baseS, 3),
      },
      mixedTree: summarise(mixed),
      largeTree: large && summarise(large),
      many: many && {
        recorders,
        tree: { bytes: manyGen.bytes, files: manyGen.files, generatedS: round(manyGen.seconds, 1) },
        seconds: round(many.m.wallS, 2),
        bytes: many.bytes,
        files: many.files,
        MBps: round(mb(many.bytes) / many.m.wallS, 0),
        cpuS: round(many.m.cpuS, 2),
        sysS: round(many.m.sysS, 2),
        cpuSPerGB: perGB(many),
        maxRssMiB: round(many.m.maxRssMiB, 0),
        statuses: many.statuses,
        failed: many.failed,
        errors: many.errors,
      },
    };

    const warning = busyWarning(before.loadavg1m, result.loadavg1mAfter);
    Object.assign(result, { warning });
    if (!json) {
      const s = result.single;
      const rows: Array<Array<string | number | null>> = [
        ['step', 'data', 'seconds', 'MB/s', 'CPU s', 'of which sys', 'CPU s/GB', 'peak RSS MiB'],
        ['custody ingest, 1 recorder', `${(s.ingest.bytes / GiB).toFixed(2)} GiB, ${s.ingest.files} files`, s.ingest.seconds, s.ingest.MBps, s.ingest.cpuS, s.ingest.sysS, s.ingest.cpuSPerGB, s.ingest.maxRssMiB],
        ['baseline cp -r + sync', 'same tree', s.baseline.cpSyncS, null, round(cp.cpuS, 2), round(cp.sysS, 2), null, null],
        ['baseline find … openssl dgst', 'same tree', s.baseline.hashS, null, round(hash.cpuS, 2), round(hash.sysS, 2), null, null],
        ['baseline total', `${(gen.bytes / GiB).toFixed(2)} GiB, ${gen.files} files`, s.baseline.seconds, s.baseline.MBps, s.baseline.cpuS, s.baseline.sysS, round(s.baseline.cpuS! / (gen.bytes / 1e9), 2), null],
      ];
      const m = result.many;
      if (m) {
        rows.push([`custody ingest, ${m.recorders} recorders at once`, `${(m.bytes / GiB).toFixed(2)} GiB, ${m.files} files`, m.seconds, m.MBps, m.cpuS, m.sysS, m.cpuSPerGB, m.maxRssMiB]);
      }
      const problems = [...s.ingest.errors, ...(m?.errors ?? [])];
      process.stdout.write(
        [
          '',
          `custody ingest benchmark — ${result.date} — ${before.cpus} CPUs, node ${before.node}`,
          `cache: ${result.cache}`,
          `vault: fs, fsync on, read-back size${directWrites ? ', direct writes' : ''}; ingest.concurrency ${concurrency}, perRecorder ${perRecorder}, read buffer ${readBufferKiB} KiB, ${process.env.UV_THREADPOOL_SIZE} I/O threads; MB = 10^6 bytes`,
          `peak RSS is the ingest child's (a bare node process with custody loaded is ~${s.ingest.startRssMiB} MiB)`,
          '',
          table(rows),
          '',
          `custody / baseline time, 1 recorder: ${s.ingestOverBaseline} (below 1.0: custody is faster)`,
          ...[result.mixedTree, result.largeTree].flatMap((t, i) =>
            t
              ? [
                  `${i === 0 ? 'mixed tree' : 'large clips'} (${(t.tree.bytes / GiB).toFixed(2)} GiB, ${t.tree.files} files): custody ${t.custody.seconds} s, ${t.custody.MBps} MB/s, ${t.custody.cpuSPerGB} CPU s/GB, peak RSS ${t.custody.maxRssMiB} MiB | baseline ${t.baseline.seconds} s (${t.baseline.cpuSPerGB} CPU s/GB) → custody/baseline ${t.custodyOverBaseline}` +
                    (t.rclone ? ` | rclone copy ${t.rclone.copyS} s (+ sync ${t.rclone.syncS} s, ${t.rclone.cpuSPerGB} CPU s/GB) → custody/rclone ${t.custodyOverRclone} (with its sync ${t.custodyOverRcloneAndSync})` : ''),
                ]
              : [],
          ),
          `1 recorder, median of ${runs} run(s): custody runs (s) ${s.ingest.allSeconds.join(', ')}; baseline runs (s) ${s.baseline.allSeconds.join(', ')}`,
          `statuses: ${s.ingest.statuses.join(',')}${m ? ` | ${m.statuses.join(',')}` : ''}; failed files: ${s.ingest.failed + (m?.failed ?? 0)}`,
          ...problems.map((e) => `  ${e.code} ${e.path}: ${e.message}`),
          `generation (not measured): ${s.tree.generatedS} s${m ? ` + ${m.tree.generatedS} s` : ''}`,
          `load average (1 min): ${before.loadavg1m} before, ${result.loadavg1mAfter} after`,
          ...(warning ? [`WARNING: ${warning}`] : []),
          '',
        ].join('\n'),
      );
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    cleanup();
  }
}

const steps = { ingest: stepIngest } as Record<string, (args: never) => Promise<unknown>>;

if (!(await childMain(process.argv, steps))) await main();
