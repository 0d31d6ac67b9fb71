import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { UsageError, errorMessage } from '../../core/index.js';
import {
  type CheckpointService,
  LedgerTree,
  ProofError,
  checkExtends,
  checkWitnesses,
  formatVerifierKey,
  latestCheckpointKey,
  keyHistory,
  loadStationSigner,
  openCheckpoint,
  parseCheckpointKey,
  proveConsistency,
  proveInclusion,
  readCheckpointNote,
  stationTrust,
  trustedVerifier,
  witnessesFor,
  type ConsistencyBundle,
  type ExtendsResult,
  type MerkleTree,
  type NoteVerifier,
  type SignedCheckpoint,
  type WitnessCheck,
} from '../../proof/index.js';
import { EXIT_PROBLEM, cliStation, globals, output, withRuntime, type Runtime } from '../context.js';
import { ledgerOf } from '../../ledger/index.js';

/**
 * `custody ledger checkpoint | proof | consistency`: signed checkpoints of the
 * ledger's Merkle tree and proofs against them (docs/proofs.md).
 */

function positive(name: string, raw: string): number {
  if (!/^[1-9][0-9]*$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

/** The station's checkpoint service (the station key; the configured witnesses). */
function issuerFor(rt: Runtime): Promise<CheckpointService> {
  return rt.station.checkpoints();
}

export async function checkpointCommand(opts: { verifierKey?: boolean }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  if (opts.verifierKey) {
    // Only the key is needed, and the origin a key rotation kept (issue 20): the catalog
    // is opened read-only for that, no vault.
    const station = cliStation(g, { readonlyCatalog: true });
    const { config } = station;
    let history;
    try {
      history = keyHistory(station.catalog());
    } finally {
      await station.close();
    }
    const signer = await loadStationSigner(config.home, config.checkpoints.origin, history);
    const vkey = formatVerifierKey(signer);
    output(g, { origin: signer.name, verifierKey: vkey }, vkey);
    return;
  }
  await withRuntime(g, async (rt) => {
    const issuer = await issuerFor(rt);
    const r = await issuer.issueIfGrown();
    if (!r) throw new ProofError('CHECKPOINT_EMPTY', 'the ledger is empty: there is nothing to sign yet');
    const c = r.checkpoint;
    output(
      g,
      { issued: r.issued, key: r.key, origin: c.origin, size: c.size, root: c.root.toString('base64'), verifierKey: issuer.verifierKey, note: c.note, witnesses: r.witnesses },
      c.note,
    );
  });
}

export async function proofCommand(seqRaw: string, opts: { size?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const seq = positive('SEQ', seqRaw);
  const size = opts.size === undefined ? undefined : positive('--size', opts.size);
  if (size !== undefined && size < seq) throw new UsageError(`--size ${size} is smaller than SEQ ${seq}: the entry is not in that tree`);
  await withRuntime(g, async (rt) => {
    const issuer = await issuerFor(rt);
    let checkpoint: SignedCheckpoint | null;
    if (size !== undefined) {
      const note = await readCheckpointNote(rt.store, size);
      checkpoint = note === null ? null : issuer.open(note);
      if (!checkpoint) rt.log.warn({ size }, 'no checkpoint was signed at this size: the proof is to an unsigned root');
    } else {
      // The latest checkpoint, when it covers the entry; else sign one that does.
      const key = await latestCheckpointKey(rt.store);
      const latestSize = key === null ? null : parseCheckpointKey(key);
      const note = latestSize !== null && latestSize >= seq ? await readCheckpointNote(rt.store, latestSize) : null;
      checkpoint = note !== null ? issuer.open(note) : ((await issuer.issueIfGrown())?.checkpoint ?? null);
      if (!checkpoint || checkpoint.size < seq) throw new ProofError('PROOF_BAD_ARGUMENT', `entry ${seq} is not in the ledger`);
    }
    const treeSize = size ?? checkpoint!.size;
    const tree = LedgerTree.build(ledgerOf(rt.catalog), { strict: false });
    if (tree.size < treeSize) throw new ProofError('PROOF_BAD_ARGUMENT', `the ledger has ${tree.size} entries, fewer than ${treeSize}`);
    const bundle = proveInclusion(tree.tree, ledgerOf(rt.catalog), seq, treeSize, checkpoint);
    process.stdout.write(JSON.stringify(bundle, null, g.json ? undefined : 2) + '\n');
  });
}

interface ConsistencyOpts {
  from?: string;
  witnesses?: boolean;
  key?: string;
}

export async function consistencyCommand(opts: ConsistencyOpts, cmd: Command): Promise<void> {
  const g = globals(cmd);
  if (opts.from === undefined && !opts.witnesses) throw new UsageError('give --from CHECKPOINT_FILE, --witnesses, or both');
  const saved = opts.from === undefined ? null : await readFile(opts.from).catch((e: unknown) => {
    throw new UsageError(`cannot read ${opts.from}: ${errorMessage(e)}`);
  });
  await withRuntime(g, async (rt) => {
    // The key to trust: an auditor's own copy (--key), else the station's public key file.
    const origin = rt.config.checkpoints.origin;
    // Without --key: the station key and every key it rotated from (key.rotated, issue 20).
    const trust = opts.key !== undefined ? await trustedVerifier(opts.key, origin).then((v) => ({ verifiers: [v], origin: v.name })) : await stationTrust(rt.config.home, origin, rt.catalog);
    const verifier = { name: trust.origin };

    // The whole ledger as it is now, lines taken as they are: the tree to hold the
    // saved checkpoints against.
    let tree: MerkleTree;
    try {
      tree = LedgerTree.build(ledgerOf(rt.catalog), { strict: false }).tree;
    } catch (e) {
      // A row whose data is not even JSON: the ledger was damaged (custody verify names it).
      throw new ProofError('LEDGER_UNREADABLE', `the ledger cannot be read entry by entry: ${errorMessage(e)}`, { cause: e });
    }
    const problems: string[] = [];
    let from: (ExtendsResult & { file: string }) | null = null;
    let bundle: ConsistencyBundle | null = null;
    if (saved !== null) {
      let cp: SignedCheckpoint | null = null;
      try {
        cp = openCheckpoint(saved, trust);
      } catch (e) {
        const code = e instanceof ProofError ? e.code : 'ERROR';
        from = { ok: false, code, reason: `${opts.from}: ${errorMessage(e)}`, size1: 0, size2: tree.size, root1: '', root2: tree.root().toString('base64'), proof: [], file: opts.from! };
      }
      if (cp) {
        from = { ...checkExtends(tree, cp), file: opts.from! };
        if (from.ok) bundle = await bundleToLatest(rt, trust, tree, cp, problems);
      }
      if (from && !from.ok) problems.push(`${from.code}: ${from.reason}`);
    }
    let witnesses: WitnessCheck[] | null = null;
    if (opts.witnesses) {
      witnesses = await checkWitnesses(tree, witnessesFor(rt.config.checkpoints.witnesses, rt.config.home, verifier.name), trust);
      for (const w of witnesses) {
        if (!w.reachable) rt.log.warn({ witness: w.dir, reason: w.reason }, 'witness unreachable: not checked');
        else if (!w.ok) problems.push(`${w.code}: ${w.reason}`);
      }
    }
    const ok = problems.length === 0;
    const human = [
      ok ? `Consistent: the ledger (${tree.size} entries) extends ${describeChecked(from, witnesses)}` : `NOT consistent: ${problems.length} problem(s)`,
      `  ledger root: ${tree.root().toString('base64')}`,
      ...(from ? [`  ${from.file}: ${from.size1} entries, ${from.ok ? 'extended' : `NOT extended: ${from.reason}`}`] : []),
      ...(witnesses ?? []).map((w) => `  witness ${w.dir}: ${!w.reachable ? `unreachable (${w.reason})` : w.size === undefined ? 'holds no checkpoint' : w.ok ? `${w.size} entries, extended` : `NOT extended: ${w.reason}`}`),
    ].join('\n');
    output(g, { ok, ledger: { size: tree.size, root: tree.root().toString('base64') }, from, witnesses, bundle, problems }, human);
    if (!ok) {
      process.stderr.write(`custody: ledger consistency: ${problems[0]}\n`);
      process.exitCode = EXIT_PROBLEM;
    }
  });
}

function describeChecked(from: { file: string; size1: number } | null, witnesses: WitnessCheck[] | null): string {
  const parts: string[] = [];
  if (from) parts.push(`${from.file} (${from.size1} entries)`);
  if (witnesses) parts.push(`${witnesses.filter((w) => w.reachable && w.size !== undefined).length} witness checkpoint(s)`);
  return parts.join(' and ');
}

/**
 * A proof an auditor can keep: from the saved checkpoint to the vault's latest
 * signed one, which must itself match the ledger.
 */
async function bundleToLatest(rt: Runtime, trust: { verifiers: NoteVerifier[]; origin: string }, tree: MerkleTree, from: SignedCheckpoint, problems: string[]): Promise<ConsistencyBundle | null> {
  const key = await latestCheckpointKey(rt.store);
  const size = key === null ? null : parseCheckpointKey(key);
  if (size === null || size < from.size || size > tree.size) return null;
  const note = await readCheckpointNote(rt.store, size);
  if (note === null) return null;
  try {
    return proveConsistency(tree, from, openCheckpoint(note, trust));
  } catch (e) {
    problems.push(`${e instanceof ProofError ? e.code : 'ERROR'}: the vault's latest checkpoint ${key}: ${errorMessage(e)}`);
    return null;
  }
}
