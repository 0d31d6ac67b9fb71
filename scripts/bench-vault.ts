/**
 * Vault benchmark: `npm run bench:vault [-- options]`.
 *
 * - put: FsObjectStore.putContent of one large file, fsync on (production), against
 *   the two-pass baseline `openssl dgst -sha256` + `cp` + `sync` of the same file;
 * - ledger: appending evidence.ingested entries, one per transaction (what ingest
 *   does) and batched, the batched run also with the Merkle upkeep the daemon does (a
 *   strict LedgerTree over a Frontier fed by every committed entry, as
 *   CheckpointService does);
 * - verify: verifyVault (non-deep) over the appended ledger, every entry referencing
 *   its own object, with the time of its ledger phase (the chain) on its own: with its
 *   worker threads (the default, or --verify-workers N) and, as the baseline, all in
 *   one thread (workers: 1); both from a tsc build of src/ made for the purpose, as
 *   the installed package runs (a worker thread of the source run would transpile
 *   its modules first);
 * - swift: the S3 store (swift profile, production part size and queue) putting and
 *   getting the same file on a single-node OpenStack Swift on loopback, started by
 *   scripts/test-s3-swift.sh, beside the fs put. Skipped, with the reason printed, when
 *   Swift's packages are not installed.
 *
 * Every measured step runs in its own child process, so its CPU and peak RSS are its
 * own. Prints a table and a final JSON line; `--json` prints only the JSON.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { Catalog } from '../src/catalog/index.js';
import { rfc3339, sha256Hex } from '../src/core/index.js';
import { FsObjectStore } from '../src/vault/index.js';
import { hashStream } from '../src/vault/index.js';
import { S3ObjectStore } from '../src/vault/s3-store.js';
import { contentKey } from '../src/vault/index.js';
import { verifyVault, type VerifyPhase } from '../src/ledger/index.js';
import { Frontier, LEDGER_START, LedgerTree } from '../src/proof/index.js';
import { benchProof, type ProofBenchResult } from './bench-proof.js';
import { startSwift, swiftAvailability } from '../test/helpers/swift.js';
import {
  MiB,
  busyWarning,
  parseOptions,
  benchDir,
  canDropCaches,
  childMain,
  machine,
  mb,
  measure,
  median,
  round,
  runChild,
  settle,
  sh,
  table,
  timeShell,
  tscBuild,
  usage,
  type Measured,
} from './bench-lib.js';

const SCRIPT = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------
// The ledger entries and the objects they reference (same in parent and children).

/** Content of benchmark object i: small and distinct, so verify can stat 100k real objects. */
function objectContent(i: number): Buffer {
  return Buffer.from(`custody bench object ${i}\n`);
}

/** An evidence.ingested data object with every field ingest writes (src/ingest/session.ts). */
function ingestedData(i: number, sha256: string, size: number, sessionId: string): Record<string, unknown> {
  const start = new Date(Date.UTC(2026, 10, 27, 6, 0, 0) + i * 60_000);
  const end = new Date(start.getTime() + 45_000);
  const name = `BENCH0001_${start.toISOString().replace(/\D/g, '').slice(0, 14)}_${String(i % 10000).padStart(4, '0')}.MP4`;
  return {
    sha256,
    size,
    mediaType: 'video',
    recorder: { serial: 'BENCH0001', model: 'SIM-DSJ-1' },
    officer: '100001',
    unit: '350200000000',
    sourcePath: `DCIM/${name.slice(10, 18)}/${name}`,
    sourceName: name,
    sourceMtime: rfc3339(end),
    recordedStart: rfc3339(start),
    recordedEnd: rfc3339(end),
    recordedSource: 'metadata',
    clockDriftMs: 1500,
    recordedStartCorrected: rfc3339(new Date(start.getTime() - 1500)),
    recordedEndCorrected: rfc3339(new Date(end.getTime() - 1500)),
    ingestedAt: rfc3339(new Date()),
    sessionId,
  };
}

// ---------------------------------------------------------------------------
// Child steps: each measures only its own work.

interface PutArgs {
  file: string;
  root: string;
}
interface PutResultOut {
  m: Measured;
  sha256: string;
  size: number;
}

async function stepPut(a: PutArgs): Promise<PutResultOut> {
  // As production opens it: fsync on, size read-back, 1 MiB buffers (ingest.readBufferKiB).
  const store = new FsObjectStore({ root: a.root, fsync: true, readBack: 'size' });
  await store.init();
  const { value, m } = await measure(() => store.putContent(createReadStream(a.file, { highWaterMark: MiB })));
  return { m, sha256: value.sha256, size: value.size };
}

interface SwiftArgs {
  file: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** For get: the key the put stored. */
  key?: string;
}

function swiftStore(a: SwiftArgs): S3ObjectStore {
  // As production opens it with vault.s3.profile "swift" and the config defaults
  // (16 MiB parts, 2 in flight, size read-back).
  return new S3ObjectStore({
    endpoint: a.endpoint,
    region: a.region,
    bucket: a.bucket,
    profile: 'swift',
    accessKeyId: a.accessKeyId,
    secretAccessKey: a.secretAccessKey,
    readBack: 'size',
  });
}

/** Put to Swift: upload to a temp key, HEAD and ETag check, server-side copy, delete the temp. */
async function stepSwiftPut(a: SwiftArgs): Promise<PutResultOut & { key: string }> {
  const store = swiftStore(a);
  try {
    await store.init();
    const size = (await stat(a.file)).size;
    const { value, m } = await measure(() => store.putContent(createReadStream(a.file, { highWaterMark: MiB }), { expectedSize: size }));
    return { m, sha256: value.sha256, size: value.size, key: value.key };
  } finally {
    await store.close();
  }
}

/** Get from Swift: stream the whole object through SHA-256 (what verify --deep and export do). */
async function stepSwiftGet(a: SwiftArgs): Promise<PutResultOut> {
  const store = swiftStore(a);
  try {
    const { value, m } = await measure(async () => hashStream(await store.get(a.key!)));
    return { m, sha256: value.sha256, size: value.size };
  } finally {
    await store.close();
  }
}

type SwiftBench = { measured: false; reason: string } | { measured: true; put: PutResultOut[]; get: PutResultOut[] };

/** Start Swift, put and get the file `runs` times (a bucket per run), stop Swift. */
async function benchSwift(file: string, runs: number, cold: boolean, log: (s: string) => void): Promise<SwiftBench> {
  const available = swiftAvailability();
  if (!available.ok) return { measured: false, reason: available.reason };
  log('starting a single-node Swift on loopback …');
  const swift = await startSwift();
  try {
    const put: PutResultOut[] = [];
    const get: PutResultOut[] = [];
    for (let r = 0; r < runs; r++) {
      const args: SwiftArgs = {
        file,
        endpoint: swift.endpoint,
        region: swift.region,
        accessKeyId: swift.accessKeyId,
        secretAccessKey: swift.secretAccessKey,
        bucket: await swift.createBucket(`bench-${r}`),
      };
      settle(cold);
      const p = await runChild<PutResultOut & { key: string }>(SCRIPT, 'swift-put', args);
      put.push(p);
      settle(cold);
      const g = await runChild<PutResultOut>(SCRIPT, 'swift-get', { ...args, key: p.key } satisfies SwiftArgs);
      get.push(g);
      log(`  run ${r + 1}: Swift put ${p.m.wallS.toFixed(2)} s, get ${g.m.wallS.toFixed(2)} s`);
    }
    return { measured: true, put, get };
  } finally {
    // Stopping removes Swift's folder, and with it every object stored.
    await swift.stop();
  }
}

interface LedgerArgs {
  catalog: string;
  entries: number;
  perTx: number;
  /** Keep the checkpoint frontier up with every committed entry, as the daemon does. */
  merkle?: boolean;
}

async function stepLedger(a: LedgerArgs): Promise<{ m: Measured; count: number; merkleSize: number | null }> {
  const catalog = Catalog.open(a.catalog);
  try {
    const tree = a.merkle ? LedgerTree.extending(new Frontier(), LEDGER_START, { strict: true }) : null;
    if (tree) catalog.ledger.onAppend((e) => tree.add(e));
    // Hashes are known before the append in production too (computed while copying).
    const refs = Array.from({ length: a.entries }, (_, i) => {
      const c = objectContent(i);
      return { sha256: sha256Hex(c), size: c.length };
    });
    const { m } = await measure(() => {
      let sessionId = uuidv7();
      for (let i = 0; i < a.entries; i += a.perTx) {
        catalog.tx(() => {
          for (let j = i; j < Math.min(a.entries, i + a.perTx); j++) {
            if (j % 500 === 0) sessionId = uuidv7(); // one dock session per 500 files
            catalog.ledger.append({ type: 'evidence.ingested', actor: 'bench', subject: uuidv7(), data: ingestedData(j, refs[j]!.sha256, refs[j]!.size, sessionId) });
          }
        });
      }
    });
    return { m, count: catalog.ledger.count(), merkleSize: tree ? tree.size : null };
  } finally {
    catalog.close();
  }
}

interface VerifyArgs {
  catalog: string;
  root: string;
  /** VerifyOptions.workers (undefined: verify's default). */
  workers?: number;
  /** A build of src/ (tsc's output) to run verify from, instead of the source through tsx. */
  build?: string;
}

interface VerifyOut {
  m: Measured;
  ok: boolean;
  entries: number;
  objects: number;
  problems: number;
  /** Worker threads the result came from (VerifyResult.workers). */
  workers: number;
  /** Wall seconds of each phase (from the progress reports). */
  phaseS: Partial<Record<VerifyPhase, number>>;
  /** CPU seconds (user + system) of each phase: what a busy machine does not inflate as much. */
  phaseCpuS: Partial<Record<VerifyPhase, number>>;
}

async function stepVerify(a: VerifyArgs): Promise<VerifyOut> {
  // From a build, as the installed package runs: a worker thread of the source run
  // would load tsx and transpile its modules first (about 0.4 CPU-s each here).
  type Modules = { Catalog: typeof Catalog; FsObjectStore: typeof FsObjectStore; verifyVault: typeof verifyVault };
  const from = async (path: string): Promise<Record<string, unknown>> => (await import(pathToFileURL(join(a.build!, path)).href)) as Record<string, unknown>;
  const mods: Modules = a.build
    ? ({ ...(await from('catalog/index.js')), ...(await from('vault/index.js')), ...(await from('ledger/index.js')) } as unknown as Modules)
    : { Catalog, FsObjectStore, verifyVault };
  const catalog = mods.Catalog.open(a.catalog);
  const store = new mods.FsObjectStore({ root: a.root, fsync: true });
  try {
    const phaseS: Partial<Record<VerifyPhase, number>> = {};
    const phaseCpuS: Partial<Record<VerifyPhase, number>> = {};
    let phase: VerifyPhase | null = null;
    let since = 0;
    let cpuSince = process.cpuUsage();
    const close = (): void => {
      if (!phase) return;
      const cpu = process.cpuUsage(cpuSince);
      phaseS[phase] = (performance.now() - since) / 1000;
      phaseCpuS[phase] = (cpu.user + cpu.system) / 1e6;
    };
    const onProgress = (p: { phase: VerifyPhase }): void => {
      if (p.phase === phase) return;
      close();
      phase = p.phase;
      since = performance.now();
      cpuSince = process.cpuUsage();
    };
    const { value, m } = await measure(() => mods.verifyVault({ catalog, store, deep: false, onProgress, ...(a.workers === undefined ? {} : { workers: a.workers }) }));
    close();
    return {
      m,
      ok: value.ok,
      entries: value.entries,
      objects: value.objects,
      problems: value.problems.length + value.problemsOmitted,
      workers: value.workers,
      phaseS,
      phaseCpuS,
    };
  } finally {
    catalog.close();
  }
}

// ---------------------------------------------------------------------------
// Parent: generate, run the steps, print.

/**
 * A file of `bytes` random-looking bytes, generated at disk speed: one random block
 * written again and again with a counter stamped into every MiB, so no two MiB are
 * equal (nothing dedupes or compresses it).
 */
async function generateFile(path: string, bytes: number): Promise<void> {
  const block = randomFillSync(Buffer.allocUnsafe(Math.min(64 * MiB, Math.max(bytes, MiB))));
  const fh = await open(path, 'w');
  try {
    let counter = 0;
    for (let pos = 0; pos < bytes; pos += block.length) {
      for (let off = 0; off < block.length; off += MiB) block.writeUInt32BE(counter++, off);
      const len = Math.min(block.length, bytes - pos);
      await fh.write(block, 0, len, pos);
    }
  } finally {
    await fh.close();
  }
}

/** The objects the ledger entries reference, written straight into the vault layout (setup, not measured). */
async function writeObjects(store: FsObjectStore, n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const c = objectContent(next++);
      const p = store.filePath(contentKey(sha256Hex(c)));
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, c);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function main(): Promise<void> {
  const { values } = parseOptions({
    options: {
      'size-mib': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      entries: { type: 'string', default: '100000' },
      batch: { type: 'string', default: '1000' },
      'single-entries': { type: 'string', default: '10000' },
      'proof-entries': { type: 'string', default: '1000000' },
      'verify-workers': { type: 'string' },
      dir: { type: 'string' },
      cold: { type: 'boolean', default: false },
      'skip-swift': { type: 'boolean', default: false },
      'ledger-only': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench:vault -- [--size-mib 1024] [--runs 3] [--entries 100000] [--batch 1000] [--single-entries 10000 (appended one per transaction)] [--proof-entries 1000000 (0: skip)] [--verify-workers N (default: as verify chooses)] [--dir PARENT] [--cold] [--skip-swift] [--ledger-only: no put, baseline or Swift] [--keep] [--json]\n',
    );
    return;
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const sizeMiB = int('size-mib', values['size-mib'], 1);
  const runs = int('runs', values.runs, 1);
  const entries = int('entries', values.entries, 1);
  const batch = int('batch', values.batch, 1);
  const singleEntries = Math.min(entries, int('single-entries', values['single-entries'], 1));
  const proofEntries = int('proof-entries', values['proof-entries'], 0);
  const verifyWorkers = values['verify-workers'] === undefined ? undefined : int('verify-workers', values['verify-workers'], 1);
  const cold = values.cold;
  const json = values.json;
  const log = (s: string): void => {
    if (!json) process.stderr.write(`${s}\n`);
  };
  if (cold && !canDropCaches()) usage('--cold needs to write /proc/sys/vm/drop_caches (root on Linux)');

  const before = machine();
  const { dir, cleanup } = await benchDir('custody-bench-vault-', { parent: values.dir, keep: values.keep, log });
  try {
    const bytes = sizeMiB * MiB;
    const file = join(dir, 'source.bin');
    if (!values['ledger-only']) {
      log(`generating ${sizeMiB} MiB in ${dir} …`);
      await generateFile(file, bytes);
    }

    // Put and baseline alternate (custody first on odd runs), so neither always
    // follows the other's writeback. Outputs are kept until every run is done: on a
    // VM that hands freed memory back to the host (virtio-balloon free page
    // reporting), whichever step reused just-freed page cache would otherwise be
    // much faster than the one that did not.
    const put: PutResultOut[] = [];
    const base: Measured[] = [];
    let baselineSha = '';
    const putRuns = values['ledger-only'] ? 0 : runs;
    for (let r = 0; r < putRuns; r++) {
      const doPut = async (): Promise<void> => {
        settle(cold);
        const root = join(dir, `vault-${r}`);
        const out = await runChild<PutResultOut>(SCRIPT, 'put', { file, root } satisfies PutArgs);
        put.push(out);
        log(`  run ${r + 1}: custody put ${out.m.wallS.toFixed(2)} s`);
      };
      const doBase = async (): Promise<void> => {
        settle(cold);
        const dest = join(dir, `copy-${r}.bin`);
        const shaFile = join(dir, 'baseline.sha256');
        const m = await timeShell(`openssl dgst -sha256 -r ${sh(file)} > ${sh(shaFile)}; cp ${sh(file)} ${sh(dest)}; sync ${sh(dest)}`);
        base.push(m);
        baselineSha = (await readFile(shaFile, 'utf8')).split(/\s/)[0]!;
        log(`  run ${r + 1}: baseline   ${m.wallS.toFixed(2)} s`);
      };
      if (r % 2 === 0) {
        await doPut();
        await doBase();
      } else {
        await doBase();
        await doPut();
      }
    }
    for (let r = 0; r < runs; r++) {
      await rm(join(dir, `vault-${r}`), { recursive: true, force: true });
      await rm(join(dir, `copy-${r}.bin`), { force: true });
    }
    const putS = median(put.map((p) => p.m.wallS));
    const baseS = median(base.map((b) => b.wallS));
    const sameHash = put.every((p) => p.sha256 === baselineSha && p.size === bytes);

    const swift: SwiftBench = values['skip-swift'] || values['ledger-only'] ? { measured: false, reason: 'skipped (--skip-swift)' } : await benchSwift(file, runs, cold, log);
    const swiftResult = swift.measured
      ? {
          endpoint: 'single-node OpenStack Swift (s3api) on 127.0.0.1, profile swift, 16 MiB parts, queue 2',
          put: swiftFigures(swift.put, bytes),
          get: swiftFigures(swift.get, bytes),
          sha256MatchesOpenssl: [...swift.put, ...swift.get].every((p) => p.sha256 === baselineSha && p.size === bytes),
        }
      : null;
    const swiftNotMeasured = swift.measured ? null : swift.reason;

    log(`ledger: ${singleEntries} entries, 1 per transaction …`);
    settle(cold);
    const catalogA = join(dir, 'ledger-1', 'catalog.db');
    const perTx = await runChild<{ m: Measured; count: number }>(SCRIPT, 'ledger', { catalog: catalogA, entries: singleEntries, perTx: 1 } satisfies LedgerArgs);
    log(`ledger: ${entries} entries, ${batch} per transaction …`);
    settle(cold);
    const batched = await runChild<{ m: Measured; count: number }>(SCRIPT, 'ledger', {
      catalog: join(dir, 'ledger-batched', 'catalog.db'),
      entries,
      perTx: batch,
    } satisfies LedgerArgs);
    log(`ledger: ${entries} entries, ${batch} per transaction, with the Merkle upkeep …`);
    settle(cold);
    const merkle = await runChild<{ m: Measured; count: number; merkleSize: number | null }>(SCRIPT, 'ledger', {
      catalog: join(dir, 'ledger-merkle', 'catalog.db'),
      entries,
      perTx: batch,
      merkle: true,
    } satisfies LedgerArgs);

    log(`writing ${entries} small objects for verify …`);
    const root = join(dir, 'ledger-1', 'vault');
    const store = new FsObjectStore({ root, fsync: false });
    await store.init();
    await writeObjects(store, entries);
    // The ledger of `entries` entries appended with the Merkle upkeep; the baseline
    // (all in one thread) first, then with worker threads.
    const verifyCatalog = join(dir, 'ledger-merkle', 'catalog.db');
    const build = tscBuild(join(dirname(SCRIPT), '..'), 'verify-build', join('ledger', 'verify.js'), log);
    let verifyOne: VerifyOut;
    let verify: VerifyOut;
    try {
      log('verify, in one thread …');
      settle(cold);
      verifyOne = await runChild<VerifyOut>(SCRIPT, 'verify', { catalog: verifyCatalog, root, workers: 1, ...(build ? { build } : {}) } satisfies VerifyArgs);
      log(`verify, ${verifyWorkers === undefined ? "with verify's default" : verifyWorkers} workers …`);
      settle(cold);
      verify = await runChild<VerifyOut>(SCRIPT, 'verify', { catalog: verifyCatalog, root, ...(build ? { build } : {}), ...(verifyWorkers === undefined ? {} : { workers: verifyWorkers }) } satisfies VerifyArgs);
    } finally {
      if (build) await rm(build, { recursive: true, force: true });
    }

    // The provable ledger (issue 9): appends with the Merkle tree kept up, building the
    // tree, checkpoints, proof generation and verification of every entry.
    let proof: ProofBenchResult | null = null;
    if (proofEntries > 0) {
      log(`Merkle tree and proofs over ${proofEntries} entries …`);
      proof = await benchProof({ entries: proofEntries, appends: 2000, proofs: 1000, dir });
    }

    const maxOf = (ms: Measured[]): number | null => round(Math.max(...ms.map((m) => m.maxRssMiB ?? 0)), 0);
    const result = {
      bench: 'vault',
      date: new Date().toISOString(),
      machine: before,
      loadavg1mAfter: machine().loadavg1m,
      cache: cold ? 'cold: page cache dropped before every step' : 'warm: every read is served from the page cache (custody and baseline alike)',
      sizeBytes: bytes,
      runs,
      put: {
        seconds: round(putS, 3),
        MBps: round(mb(bytes) / putS, 0),
        cpuS: round(median(put.map((p) => p.m.cpuS)), 2),
        sysS: round(median(put.map((p) => p.m.sysS)), 2),
        maxRssMiB: maxOf(put.map((p) => p.m)),
        startRssMiB: round(put[0]?.m.startRssMiB ?? null, 0),
        allSeconds: put.map((p) => round(p.m.wallS, 3)),
        sha256MatchesOpenssl: sameHash,
      },
      baseline: {
        command: 'openssl dgst -sha256 FILE; cp FILE DEST; sync DEST',
        seconds: round(baseS, 3),
        MBps: round(mb(bytes) / baseS, 0),
        cpuS: round(median(base.map((b) => b.cpuS)), 2),
        sysS: round(median(base.map((b) => b.sysS)), 2),
        allSeconds: base.map((b) => round(b.wallS, 3)),
      },
      putOverBaseline: round(putS / baseS, 3),
      swift: swiftResult ?? { notMeasured: swiftNotMeasured },
      ledger: {
        entries,
        perTx1: {
          seconds: round(perTx.m.wallS, 2),
          entries: singleEntries,
          perS: round(singleEntries / perTx.m.wallS, 0),
          cpuS: round(perTx.m.cpuS, 2),
          sysS: round(perTx.m.sysS, 2),
          maxRssMiB: round(perTx.m.maxRssMiB, 0),
        },
        batched: {
          perTx: batch,
          seconds: round(batched.m.wallS, 2),
          perS: round(entries / batched.m.wallS, 0),
          cpuS: round(batched.m.cpuS, 2),
          sysS: round(batched.m.sysS, 2),
          maxRssMiB: round(batched.m.maxRssMiB, 0),
        },
        batchedMerkle: {
          perTx: batch,
          seconds: round(merkle.m.wallS, 2),
          perS: round(entries / merkle.m.wallS, 0),
          cpuS: round(merkle.m.cpuS, 2),
          cpuUsPerEntry: round((merkle.m.cpuS * 1e6) / entries, 1),
          sysS: round(merkle.m.sysS, 2),
          maxRssMiB: round(merkle.m.maxRssMiB, 0),
        },
        countsOk: perTx.count === singleEntries && batched.count === entries && merkle.count === entries && merkle.merkleSize === entries,
      },
      proof,
      verifyCode: build ? 'a tsc build of src/, as installed' : 'the source, through tsx',
      verify: verifyFigures(verify),
      verifyOneThread: verifyFigures(verifyOne),
      verifySpeedup: round(verifyOne.m.wallS / verify.m.wallS, 2),
      verifyChainSpeedup: verify.phaseS.ledger && verifyOne.phaseS.ledger ? round(verifyOne.phaseS.ledger / verify.phaseS.ledger, 2) : null,
    };

    const warning = busyWarning(before.loadavg1m, result.loadavg1mAfter);
    Object.assign(result, { warning });
    if (!json) {
      const r = result;
      process.stdout.write(
        [
          '',
          `custody vault benchmark — ${r.date} — ${before.cpus} CPUs, node ${before.node}`,
          `cache: ${r.cache}`,
          `put and baseline: median of ${runs} run(s); MB = 10^6 bytes; RSS in MiB (a bare node process is ~${r.put.startRssMiB} MiB)`,
          '',
          table([
            ['step', 'amount', 'seconds', 'rate', 'CPU s', 'of which sys', 'peak RSS MiB'],
            ['custody put (fsync on)', `${sizeMiB} MiB`, r.put.seconds, `${r.put.MBps} MB/s`, r.put.cpuS, r.put.sysS, r.put.maxRssMiB],
            ['baseline openssl + cp + sync', `${sizeMiB} MiB`, r.baseline.seconds, `${r.baseline.MBps} MB/s`, r.baseline.cpuS, r.baseline.sysS, null],
            ...(swiftResult
              ? [
                  ['custody put to Swift (loopback)', `${sizeMiB} MiB`, swiftResult.put.seconds, `${swiftResult.put.MBps} MB/s`, swiftResult.put.cpuS, swiftResult.put.sysS, swiftResult.put.maxRssMiB],
                  ['custody get from Swift + sha256', `${sizeMiB} MiB`, swiftResult.get.seconds, `${swiftResult.get.MBps} MB/s`, swiftResult.get.cpuS, swiftResult.get.sysS, swiftResult.get.maxRssMiB],
                ]
              : []),
            ['ledger append, 1 entry/tx', `${singleEntries} entries`, r.ledger.perTx1.seconds, `${r.ledger.perTx1.perS} /s`, r.ledger.perTx1.cpuS, r.ledger.perTx1.sysS, r.ledger.perTx1.maxRssMiB],
            [`ledger append, ${batch} entries/tx`, `${entries} entries`, r.ledger.batched.seconds, `${r.ledger.batched.perS} /s`, r.ledger.batched.cpuS, r.ledger.batched.sysS, r.ledger.batched.maxRssMiB],
            [`ledger append, ${batch} entries/tx, Merkle upkeep`, `${entries} entries`, r.ledger.batchedMerkle.seconds, `${r.ledger.batchedMerkle.perS} /s`, r.ledger.batchedMerkle.cpuS, r.ledger.batchedMerkle.sysS, r.ledger.batchedMerkle.maxRssMiB],
            ...verifyRows('verify (non-deep), one thread (baseline)', r.verifyOneThread),
            ...verifyRows(`verify (non-deep), ${r.verify.workers} worker threads`, r.verify),
            ...(proof
              ? [
                  ['append with Merkle upkeep, 1 entry/tx', '2000 entries', null, `${proof.append.perSecond} /s`, null, null, null],
                  ['build Merkle tree from the ledger', `${proof.entries} entries`, round(proof.build.lenientMs / 1000, 2), `${proof.build.entriesPerSecond} /s`, null, null, null],
                  ['first signed checkpoint', `${proof.entries} entries`, round(proof.checkpoint.firstMs / 1000, 2), null, null, null, null],
                  ['next checkpoint', `+${proof.checkpoint.incrementalEntries} entries`, round(proof.checkpoint.incrementalMs / 1000, 3), null, null, null, null],
                  ['inclusion proof (generate / verify)', `size ${proof.entries}`, null, `${proof.proofs.inclusionUs} / ${proof.proofs.verifyInclusionUs} µs`, null, null, null],
                  ['prove and verify every entry', `${proof.entries} entries`, round(proof.verifyAll.ms / 1000, 1), `${proof.verifyAll.entriesPerSecond} /s`, null, null, null],
                ]
              : []),
          ]),
          '',
          `custody put / baseline time: ${r.putOverBaseline} (below 1.0: custody is faster)`,
          `verify ran ${r.verifyCode}; one thread / worker threads, wall time: ${r.verifySpeedup} whole, ${r.verifyChainSpeedup} the ledger phase (above 1.0: the workers are faster); the ledger phase's CPU includes its workers' start`,
          swiftResult
            ? `Swift: ${swiftResult.endpoint}; CPU and RSS are custody's only (Swift's servers share the machine); a put includes Swift's server-side copy; sha256 = openssl: ${swiftResult.sha256MatchesOpenssl}; put runs (s): ${swiftResult.put.allSeconds.join(', ')}; get runs (s): ${swiftResult.get.allSeconds.join(', ')}`
            : `Swift: not measured: ${swiftNotMeasured}`,
          `put runs (s): ${r.put.allSeconds.join(', ')}; baseline runs (s): ${r.baseline.allSeconds.join(', ')}`,
          `checks: put sha256 = openssl: ${r.put.sha256MatchesOpenssl}; ledger counts: ${r.ledger.countsOk}; verify ok: ${r.verify.ok} and ${r.verifyOneThread.ok} (${r.verify.problems} and ${r.verifyOneThread.problems} problems, ${r.verify.objects} and ${r.verifyOneThread.objects} objects)`,
          `load average (1 min): ${before.loadavg1m} before, ${r.loadavg1mAfter} after`,
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

/** The figures of one verify run. */
function verifyFigures(v: VerifyOut) {
  return {
    deep: false,
    workers: v.workers,
    entries: v.entries,
    objects: v.objects,
    ok: v.ok,
    problems: v.problems,
    seconds: round(v.m.wallS, 2),
    perS: round(v.entries / v.m.wallS, 0),
    ledgerPhaseSeconds: round(v.phaseS.ledger ?? null, 3),
    ledgerPhasePerS: v.phaseS.ledger ? round(v.entries / v.phaseS.ledger, 0) : null,
    ledgerPhaseCpuS: round(v.phaseCpuS.ledger ?? null, 3),
    ledgerPhasePerCpuS: v.phaseCpuS.ledger ? round(v.entries / v.phaseCpuS.ledger, 0) : null,
    objectsPhaseSeconds: round(v.phaseS.objects ?? null, 3),
    cpuS: round(v.m.cpuS, 2),
    sysS: round(v.m.sysS, 2),
    maxRssMiB: round(v.m.maxRssMiB, 0),
  };
}

/** The table rows of one verify run. */
function verifyRows(title: string, v: ReturnType<typeof verifyFigures>): Array<Array<string | number | null>> {
  return [
    [title, `${v.entries} entries`, v.seconds, `${v.perS} /s`, v.cpuS, v.sysS, v.maxRssMiB],
    // With workers, the ledger phase's CPU is every thread's: the objects worker runs meanwhile.
    ['  of which: ledger phase (chain)', `${v.entries} entries`, v.ledgerPhaseSeconds, `${v.ledgerPhasePerS} /s (${v.ledgerPhasePerCpuS} per CPU-s${v.workers > 0 ? ', objects worker included' : ''})`, v.ledgerPhaseCpuS, null, null],
    ['  of which: objects phase (stat)', `${v.objects} objects`, v.objectsPhaseSeconds, null, null, null, null],
  ];
}

/** Median figures of one Swift step over the runs. */
function swiftFigures(outs: PutResultOut[], bytes: number): { seconds: number | null; MBps: number | null; cpuS: number | null; sysS: number | null; maxRssMiB: number | null; allSeconds: Array<number | null> } {
  const s = median(outs.map((o) => o.m.wallS));
  return {
    seconds: round(s, 3),
    MBps: round(mb(bytes) / s, 0),
    cpuS: round(median(outs.map((o) => o.m.cpuS)), 2),
    sysS: round(median(outs.map((o) => o.m.sysS)), 2),
    maxRssMiB: round(Math.max(...outs.map((o) => o.m.maxRssMiB ?? 0)), 0),
    allSeconds: outs.map((o) => round(o.m.wallS, 3)),
  };
}

const steps = {
  put: stepPut,
  'swift-put': stepSwiftPut,
  'swift-get': stepSwiftGet,
  ledger: stepLedger,
  verify: stepVerify,
} as Record<string, (args: never) => Promise<unknown>>;

if (!(await childMain(process.argv, steps))) await main();
