/**
 * Provable-ledger benchmark (issue 9): `npx tsx scripts/bench-proof.ts [options]`.
 *
 * - append: evidence.ingested entries appended one per transaction (what ingest
 *   does) with the checkpoint frontier (what the daemon keeps) and a full tree kept
 *   up to date, and the time each of them adds to an append;
 * - build: the full Merkle tree of a ledger of --entries entries, read from SQLite
 *   (lenient: lines only; strict: every hash and link checked too), and its memory;
 * - checkpoint: signing the first checkpoint (whole ledger) and an incremental one
 *   after 1,000 more entries, on the fs vault;
 * - proofs: inclusion and consistency proof generation on the full tree;
 * - verify-all: an inclusion proof made and verified for every entry.
 *
 * Prints a table and a final JSON line; `--json` prints only the JSON. Exported as
 * benchProof() so another bench script can run it as one of its steps.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Catalog } from '../src/catalog/index.js';
import { silentLogger } from '../src/core/logger.js';
import { CheckpointIssuer, LedgerTree, ed25519Signer, leafHash, verifyConsistency, verifyInclusion } from '../src/proof/index.js';
import { canonicalLine } from '../src/ledger/index.js';
import { FsObjectStore } from '../src/vault/index.js';

export interface ProofBenchOptions {
  /** Ledger size for build, proofs and verify-all. */
  entries: number;
  /** Entries appended one per transaction, per append variant. */
  appends: number;
  /** Random proofs generated for the timing of one proof. */
  proofs: number;
  dir?: string;
}

export interface ProofBenchResult {
  entries: number;
  /** One entry per transaction; upkeep: time per append spent keeping each tree (µs). */
  append: { perSecond: number; frontierUs: number; fullTreeUs: number };
  build: { lenientMs: number; strictMs: number; entriesPerSecond: number; treeMiB: number };
  checkpoint: { firstMs: number; incrementalMs: number; incrementalEntries: number };
  proofs: { inclusionUs: number; consistencyUs: number; verifyInclusionUs: number };
  verifyAll: { ms: number; entriesPerSecond: number };
}

function data(i: number): Record<string, unknown> {
  const start = new Date(Date.UTC(2026, 10, 27, 6, 0, 0) + i * 60_000).toISOString();
  return {
    sha256: leafHash(String(i)).toString('hex'),
    size: 50_000_000 + i,
    mediaType: 'video',
    recorder: { serial: 'BENCH0001', model: 'SIM-DSJ-1' },
    officer: '100001',
    unit: '350200000000',
    sourcePath: `DCIM/100MEDIA/BENCH0001_${i}.MP4`,
    sourceName: `BENCH0001_${i}.MP4`,
    recordedStart: start,
    recordedEnd: start,
    recordedSource: 'metadata',
    clockDriftMs: 1500,
    ingestedAt: start,
    sessionId: '0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b',
  };
}

function append(catalog: Catalog, from: number, n: number, perTx: number): void {
  for (let i = from; i < from + n; i += perTx) {
    catalog.tx(() => {
      for (let j = i; j < Math.min(from + n, i + perTx); j++) catalog.ledger.append({ type: 'evidence.ingested', actor: 'bench', subject: `ev-${j}`, data: data(j) });
    });
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function rate(n: number, ms: number): number {
  return Math.round(n / (ms / 1000));
}

function time<T>(fn: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

export async function benchProof(opts: ProofBenchOptions): Promise<ProofBenchResult> {
  const dir = await mkdtemp(join(opts.dir ?? tmpdir(), 'custody-bench-proof-'));
  try {
    // Appends, one per transaction (fsync-bound, so noisy on a shared disk); the time
    // each listener spends keeping its tree up is measured on its own.
    const small = Catalog.open(join(dir, 'append.db'));
    let upkeep: { frontierUs: number; fullTreeUs: number };
    let appendsPerSecond: number;
    try {
      append(small, 0, 1, 1);
      const smallStore = new FsObjectStore({ root: join(dir, 'vault-append'), fsync: false });
      await smallStore.init();
      const iss = new CheckpointIssuer({ catalog: small, store: smallStore, signer: ed25519Signer('bench/append', generateKeyPairSync('ed25519').privateKey), log: silentLogger });
      await iss.issue();
      const full = LedgerTree.build(small.ledger, { strict: true });
      let frontierMs = 0;
      let fullMs = 0;
      small.ledger.onAppend((e) => {
        // Alternate which goes first, so neither pays alone for what a first look at
        // an entry costs (cold caches, garbage collection).
        const frontierFirst = e.seq % 2 === 0;
        const t0 = performance.now();
        if (frontierFirst) iss.observe(e);
        else full.add(e);
        const t1 = performance.now();
        if (frontierFirst) full.add(e);
        else iss.observe(e);
        const t2 = performance.now();
        frontierMs += frontierFirst ? t1 - t0 : t2 - t1;
        fullMs += frontierFirst ? t2 - t1 : t1 - t0;
      });
      appendsPerSecond = rate(opts.appends, time(() => append(small, 1, opts.appends, 1)).ms);
      if ((await iss.issue())?.checkpoint.size !== opts.appends + 1) throw new Error('the frontier fell behind');
      upkeep = { frontierUs: round1((frontierMs * 1000) / opts.appends), fullTreeUs: round1((fullMs * 1000) / opts.appends) };
    } finally {
      small.close();
    }

    // The big ledger (setup: batched appends, not measured).
    const catalog = Catalog.open(join(dir, 'ledger.db'));
    const store = new FsObjectStore({ root: join(dir, 'vault'), fsync: true });
    await store.init();
    try {
      append(catalog, 0, opts.entries, 5000);
      const lenient = time(() => LedgerTree.build(catalog.ledger, { strict: false }));
      const strict = time(() => LedgerTree.build(catalog.ledger, { strict: true }));
      const tree = lenient.value.tree;
      const build = {
        lenientMs: Math.round(lenient.ms),
        strictMs: Math.round(strict.ms),
        entriesPerSecond: rate(opts.entries, lenient.ms),
        treeMiB: Math.round((tree.memoryBytes() / 2 ** 20) * 10) / 10,
      };

      const iss = new CheckpointIssuer({ catalog, store, signer: ed25519Signer('bench/ledger', generateKeyPairSync('ed25519').privateKey), log: silentLogger });
      const first = await timeAsync(() => iss.issue());
      append(catalog, opts.entries, 1000, 1000);
      const incremental = await timeAsync(() => iss.issue());
      if (!incremental.value || !first.value) throw new Error('no checkpoint was signed');

      // Proof generation and verification on the tree of `entries` leaves.
      const n = tree.size;
      const root = tree.root();
      const picks = Array.from({ length: opts.proofs }, (_, i) => Math.floor(((i + 0.5) / opts.proofs) * n));
      const incl = time(() => picks.map((i) => tree.inclusionProof(i, n)));
      const cons = time(() => picks.map((i) => tree.consistencyProof(Math.max(1, i), n)));
      const leaves = picks.map((i) => tree.leaf(i));
      const ver = time(() => picks.forEach((idx, k) => verifyInclusion(idx, n, leaves[k]!, incl.value[k]!, root)));
      picks.forEach((idx, k) => verifyConsistency(Math.max(1, idx), n, cons.value[k]!, tree.root(Math.max(1, idx)), root));

      // Every entry: its line from the ledger, its proof, verified against the root.
      const all = time(() => {
        let i = 0;
        for (const e of catalog.ledger.entries(1, n)) {
          verifyInclusion(i, n, leafHash(canonicalLine(e)), tree.inclusionProof(i, n), root);
          i++;
        }
        return i;
      });
      if (all.value !== n) throw new Error(`verified ${all.value} of ${n} entries`);

      return {
        entries: opts.entries,
        append: { perSecond: appendsPerSecond, ...upkeep },
        build,
        checkpoint: { firstMs: Math.round(first.ms), incrementalMs: Math.round(incremental.ms), incrementalEntries: 1000 },
        proofs: {
          inclusionUs: Math.round((incl.ms * 1000) / opts.proofs),
          consistencyUs: Math.round((cons.ms * 1000) / opts.proofs),
          verifyInclusionUs: Math.round((ver.ms * 1000) / opts.proofs),
        },
        verifyAll: { ms: Math.round(all.ms), entriesPerSecond: rate(n, all.ms) },
      };
    } finally {
      catalog.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function table(r: ProofBenchResult): string {
  const rows: Array<[string, string]> = [
    ['append, 1 entry per transaction, both trees kept', `${r.append.perSecond} entries/s`],
    ['  of which: checkpoint frontier upkeep', `${r.append.frontierUs} µs/entry`],
    ['  of which: full tree upkeep (chain checked)', `${r.append.fullTreeUs} µs/entry`],
    [`build full tree of ${r.entries} entries (lenient)`, `${r.build.lenientMs} ms (${r.build.entriesPerSecond} entries/s), ${r.build.treeMiB} MiB`],
    ['build full tree, strict (chain checked)', `${r.build.strictMs} ms`],
    ['first checkpoint (whole ledger)', `${r.checkpoint.firstMs} ms`],
    [`next checkpoint (+${r.checkpoint.incrementalEntries} entries)`, `${r.checkpoint.incrementalMs} ms`],
    ['inclusion proof', `${r.proofs.inclusionUs} µs`],
    ['consistency proof', `${r.proofs.consistencyUs} µs`],
    ['verify one inclusion proof', `${r.proofs.verifyInclusionUs} µs`],
    ['prove + verify every entry', `${r.verifyAll.ms} ms (${r.verifyAll.entriesPerSecond} entries/s)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000000' },
      appends: { type: 'string', default: '20000' },
      proofs: { type: 'string', default: '10000' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const r = await benchProof({ entries: Number(values.entries), appends: Number(values.appends), proofs: Number(values.proofs), ...(values.dir ? { dir: values.dir } : {}) });
  if (!values.json) process.stdout.write(table(r) + '\n');
  process.stdout.write(JSON.stringify({ bench: 'proof', ...r }) + '\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
