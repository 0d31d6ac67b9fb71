/**
 * Many recorders at USB speed: `npx tsx scripts/bench-ingest-lab.ts [-- options]` (root,
 * FUSE and python3-fusepy, as the recorder lab needs; see test/lab/lab.ts).
 *
 * --recorders source folders (padded real clips from simulateRecorder plus a few small
 * files) are each mounted through the lab's throttling pass-through mount at --rate MB/s
 * (a recorder on USB 2.0 gives about 38), then ingested at once through one
 * IngestService into a fresh fs vault (fsync on), in a child process so its CPU and
 * peak RSS are its own. Prints the aggregate rate against the sources' aggregate rate
 * (recorders × rate), peak RSS, and for each recorder the time from its session's start
 * to its first byte copied. The sessions start as soon as the mounts are up; the
 * daemon's detection of a new mount is not part of this figure. Beside it, the time
 * `cat` takes to read every mount at once (through mounts of their own, so neither
 * reads from the other's page cache): what the throttled sources deliver on this machine.
 * The child runs with UV_THREADPOOL_SIZE 16 (as the systemd unit sets it) unless the
 * environment says otherwise.
 *
 * --follow-ups N: the same ingest again, on fresh mounts, while the follow-ups (probe,
 * thumbnail, proxy when needed) of an earlier batch of N real clips are queued as the
 * daemon queues them (in-process job runner, jobs.concurrency 2, ffmpeg at nice 19, held
 * while a recorder is being copied; those already running finish); prints the rate
 * with them ÷ the rate without (the goal is at least 0.90).
 *
 * --direct-writes: the vault writes large files with O_DIRECT (vault.fs.directWrites).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../src/catalog/index.js';
import { silentLogger } from '../src/core/index.js';
import { FolderDriver, simulateRecorder } from '../src/devices/index.js';
import { createFollowUps, createIngestService, type FollowUps, IngestService, type IngestSettings } from '../src/ingest/index.js';
import { createJobRunner } from '../src/jobs/index.js';
import { MediaTools } from '../src/media/index.js';
import { FsObjectStore } from '../src/vault/index.js';
import { Lab, labProblems, type Mount } from '../test/lab/lab.js';
import { benchDir, busyWarning, childMain, machine, measure, MiB, parseOptions, round, runChild, sh, table, timeShell, usage, type Measured } from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);

interface Args {
  home: string;
  roots: string[];
  concurrency: number;
  /**
   * A recorder's tree ingested first (not measured) whose follow-ups (probe, thumbnail,
   * proxy when needed) then run as the daemon runs them, in the in-process job runner
   * at jobs.concurrency 2, while the measured ingest goes on.
   */
  backlog?: string;
  /** vault.fs.directWrites. */
  directWrites: boolean;
}

interface Out {
  m: Measured;
  bytes: number;
  files: number;
  statuses: string[];
  failed: number;
  /** Per recorder: seconds from its session's start to its first byte copied. */
  firstByteS: Array<number | null>;
  /**
   * Per recorder: seconds from its session's start to its end. Recorders that end well
   * before the last one leave their share of the sources' rate unused for the rest.
   */
  endS: number[];
  /** With a backlog: its items, and how many of their follow-ups had finished when the ingest ended. */
  followUps: { items: number; doneDuringIngest: number } | null;
}

async function stepIngest(a: Args): Promise<Out> {
  const catalog = Catalog.open(join(a.home, 'catalog.db'));
  const store = new FsObjectStore({ root: join(a.home, 'vault'), fsync: true, readBack: 'size', directWrites: a.directWrites });
  await store.init();
  const media = new MediaTools();
  const probe = async (file: string, signal: AbortSignal) => ({ creationTime: await media.creationTimeOf(file, { signal }), durationMs: null });
  const settings: IngestSettings = {
    timezone: 'Asia/Shanghai',
    wipeAfterIngest: false,
    wipeRereadSource: true,
    settleSeconds: 2,
    readBufferKb: 1024,
    perRecorder: a.concurrency,
  };
  let service = new IngestService({ catalog, store, log: silentLogger, concurrency: a.concurrency, settings, probe });
  const firstByteS: Array<number | null> = a.roots.map(() => null);
  const endS: number[] = a.roots.map(() => 0);
  let followUps: FollowUps | null = null;
  let backlogItems = 0;
  if (a.backlog) {
    // As the daemon runs them: the station's in-process runner at its default
    // concurrency, and the ingest service as the station composes it (follow-ups queued
    // after each session, held while a recorder is being copied).
    const runner = createJobRunner({ settings: { prefix: 'custody', concurrency: 2, maxAttempts: 5 }, catalog, log: silentLogger });
    followUps = await createFollowUps({ catalog, store, log: silentLogger, runner, media, thumbnailWidth: 320 });
    service = createIngestService({ catalog, store, log: silentLogger, followUps, concurrency: a.concurrency, settings });
    const r = await service.ingest(new FolderDriver({ root: a.backlog }), { actor: 'bench' });
    backlogItems = r.ingested;
    await runner.start();
  }
  const analysed = (): number => (catalog.db.prepare("SELECT count(*) AS n FROM ledger WHERE type = 'evidence.analysed'").get() as { n: number }).n;
  try {
    const { value: reports, m } = await measure(() =>
      Promise.all(
        a.roots.map((root, i) => {
          const t0 = performance.now();
          const { session, done } = service.start(new FolderDriver({ root }), { actor: 'bench' });
          session.on('progress', (p: { bytesDone: number }) => {
            if (firstByteS[i] === null && p.bytesDone > 0) firstByteS[i] = (performance.now() - t0) / 1000;
          });
          return done.finally(() => (endS[i] = (performance.now() - t0) / 1000));
        }),
      ),
    );
    return {
      m,
      bytes: reports.reduce((n, r) => n + r.bytes, 0),
      files: reports.reduce((n, r) => n + r.ingested, 0),
      statuses: reports.map((r) => r.status),
      failed: reports.reduce((n, r) => n + r.failed, 0),
      firstByteS,
      endS,
      followUps: followUps && { items: backlogItems, doneDuringIngest: analysed() },
    };
  } finally {
    await followUps?.runner.stop();
    catalog.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseOptions({
    options: {
      recorders: { type: 'string', default: '8' },
      rate: { type: 'string', default: '38' },
      'recorder-mib': { type: 'string', default: '256' },
      'clip-mib': { type: 'string', default: '64' },
      'small-files': { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '8' },
      'follow-ups': { type: 'string', default: '0' },
      'direct-writes': { type: 'boolean', default: false },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`--${name} must be a number >= ${min}`);
    return n;
  };
  const recorders = num('recorders', values.recorders, 1);
  const rate = num('rate', values.rate, 1);
  const recorderMiB = num('recorder-mib', values['recorder-mib'], 1);
  const clipMiB = num('clip-mib', values['clip-mib'], 1);
  const smallFiles = num('small-files', values['small-files'], 0);
  const concurrency = num('concurrency', values.concurrency, 1);
  const backlogClips = num('follow-ups', values['follow-ups'], 0);
  const log = (s: string): void => {
    if (!values.json) process.stderr.write(`${s}\n`);
  };
  // As the systemd unit runs the daemon (docs/benchmarks.md): the child inherits it.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  const problems = await labProblems();
  if (problems.length > 0) usage(`the recorder lab cannot run here: ${problems.join('; ')}`);

  const before = machine();
  const { dir, cleanup } = await benchDir('custody-bench-lab-', { parent: values.dir, keep: values.keep, log });
  const lab = new Lab(join(dir, 'lab'));
  try {
    const clips = Math.max(1, Math.ceil(recorderMiB / clipMiB));
    log(`generating ${recorders} recorders: ${clips} × ${clipMiB} MiB clips + ${smallFiles} small files each …`);
    const roots: string[] = [];
    let sourceBytes = 0;
    for (let i = 0; i < recorders; i++) {
      const src = join(dir, `src-${i}`);
      const serial = `LAB${String(100 + i).padStart(5, '0')}`;
      const sim = await simulateRecorder({ out: src, serial, clips, seconds: 2, clipBytes: clipMiB * MiB, concurrency: 2 });
      sourceBytes += sim.files.reduce((n, f) => n + f.size, 0);
      const photos = join(src, 'PHOTO');
      await mkdir(photos, { recursive: true });
      const old = new Date(Date.now() - 3600_000);
      for (let k = 0; k < smallFiles; k++) {
        const p = join(photos, `${serial}_20261201${String(100000 + k).slice(-6)}_${String(k).padStart(4, '0')}.JPG`);
        await writeFile(p, randomBytes(64 * 1024));
        await utimes(p, old, old);
        sourceBytes += 64 * 1024;
      }
      roots.push(src);
    }
    const mountAll = async (tag: string): Promise<Mount[]> => {
      const ms: Mount[] = [];
      for (let i = 0; i < recorders; i++) ms.push(await lab.throttle(roots[i]!, join(dir, `${tag}-${i}`), { rate }));
      return ms;
    };
    // What the throttled mounts deliver on this machine when merely read, all at once
    // (their FUSE servers need CPU too): the reachable aggregate, beside the nominal one.
    // Read through mounts of their own, unmounted afterwards, so that the ingest's reads
    // are not served from what cat left in the page cache.
    log(`mounting them through the throttled pass-through at ${rate} MB/s each, and reading every mount at once with cat …`);
    const catMounts = await mountAll('cat');
    const readAll = await timeShell(`${catMounts.map((m) => `(find ${sh(m.at)} -type f -exec cat {} + > /dev/null) &`).join(' ')} wait`);
    const readMBps = sourceBytes / 1e6 / readAll.wallS;
    for (const m of catMounts) await lab.unmount(m);
    const mnt = await mountAll('mnt');
    const mounts = mnt.map((m) => m.at);
    log(`ingesting ${recorders} recorders at once …`);
    const out = await runChild<Out>(SCRIPT, 'ingest', { home: join(dir, 'home'), roots: mounts, concurrency, directWrites: values['direct-writes'] } satisfies Args);
    const MBps = out.bytes / 1e6 / out.m.wallS;
    const sourcesMBps = recorders * rate;
    // The same ingest again, on fresh mounts, while the follow-ups of an earlier batch run.
    let withFollowUps: (Out & { MBps: number }) | null = null;
    if (backlogClips > 0) {
      const backlog = join(dir, 'backlog');
      log(`generating an earlier batch: ${backlogClips} real clips of 10 s; ingesting again while their follow-ups run …`);
      await simulateRecorder({ out: backlog, serial: 'LAB09999', clips: backlogClips, seconds: 10, concurrency: 2 });
      for (const m of mnt) await lab.unmount(m);
      const again = (await mountAll('fu')).map((m) => m.at);
      const o = await runChild<Out>(SCRIPT, 'ingest', { home: join(dir, 'home-fu'), roots: again, concurrency, backlog, directWrites: values['direct-writes'] } satisfies Args);
      withFollowUps = { ...o, MBps: o.bytes / 1e6 / o.m.wallS };
    }
    const result = {
      bench: 'ingest-lab',
      date: new Date().toISOString(),
      machine: before,
      loadavg1mAfter: machine().loadavg1m,
      recorders,
      rateMBps: rate,
      directWrites: values['direct-writes'],
      sourceBytes,
      seconds: round(out.m.wallS, 2),
      bytes: out.bytes,
      files: out.files,
      MBps: round(MBps, 1),
      sourcesMBps,
      ofSources: round(MBps / sourcesMBps, 3),
      catAllMBps: round(readMBps, 1),
      ofCat: round(MBps / readMBps, 3),
      cpuS: round(out.m.cpuS, 2),
      cpuSPerGB: round(out.m.cpuS / (out.bytes / 1e9), 2),
      maxRssMiB: round(out.m.maxRssMiB, 0),
      firstByteS: out.firstByteS.map((s) => (s === null ? null : round(s, 3))),
      endS: out.endS.map((s) => round(s, 2)),
      statuses: out.statuses,
      failed: out.failed,
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE),
      withFollowUps: withFollowUps && {
        backlogItems: withFollowUps.followUps?.items ?? 0,
        followUpsDoneDuringIngest: withFollowUps.followUps?.doneDuringIngest ?? 0,
        seconds: round(withFollowUps.m.wallS, 2),
        MBps: round(withFollowUps.MBps, 1),
        cpuS: round(withFollowUps.m.cpuS, 2),
        maxRssMiB: round(withFollowUps.m.maxRssMiB, 0),
        /** Ingest rate with the follow-ups running ÷ without: the issue asks ≥ 0.90. */
        ofWithout: round(withFollowUps.MBps / MBps, 3),
        statuses: withFollowUps.statuses,
        failed: withFollowUps.failed,
      },
    };
    const warning = busyWarning(before.loadavg1m, result.loadavg1mAfter);
    if (!values.json) {
      process.stdout.write(
        [
          '',
          `custody ingest, ${recorders} throttled recorders${result.directWrites ? ', direct writes' : ''} — ${result.date} — ${before.cpus} CPUs, node ${before.node}`,
          '',
          table([
            ['recorders', 'each MB/s', 'GB', 'seconds', 'MB/s', 'of sources', 'cat of all MB/s', 'of cat', 'CPU s/GB', 'peak RSS MiB', 'first byte s (max)'],
            [recorders, rate, round(out.bytes / 1e9, 2), result.seconds, result.MBps, result.ofSources, result.catAllMBps, result.ofCat, result.cpuSPerGB, result.maxRssMiB, Math.max(...out.firstByteS.map((s) => s ?? Infinity)).toFixed(3)],
          ]),
          '',
          `each recorder's session ended after (s): ${result.endS.join(', ')}`,
          `statuses: ${out.statuses.join(',')}; failed files: ${out.failed}; UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE}`,
          ...(result.withFollowUps
            ? [
                `with the follow-ups of ${result.withFollowUps.backlogItems} earlier items running (jobs.concurrency 2; ${result.withFollowUps.followUpsDoneDuringIngest} done during the ingest): ` +
                  `${result.withFollowUps.MBps} MB/s in ${result.withFollowUps.seconds} s, peak RSS ${result.withFollowUps.maxRssMiB} MiB → ${result.withFollowUps.ofWithout} of the rate without them ` +
                  `(statuses ${result.withFollowUps.statuses.join(',')}; failed files ${result.withFollowUps.failed})`,
              ]
            : []),
          `load average (1 min): ${before.loadavg1m} before, ${result.loadavg1mAfter} after`,
          ...(warning ? [`WARNING: ${warning}`] : []),
          '',
        ].join('\n'),
      );
    }
    process.stdout.write(JSON.stringify({ ...result, warning }) + '\n');
  } finally {
    await lab.close();
    await rm(join(dir, 'home'), { recursive: true, force: true });
    await rm(join(dir, 'home-fu'), { recursive: true, force: true });
    cleanup();
  }
}

if (!(await childMain(process.argv, { ingest: stepIngest } as Record<string, (args: never) => Promise<unknown>>))) await main();
