import type { Catalog } from '../catalog/index.js';
import { errorMessage, isCustodyError, type Logger } from '../core/index.js';
import type { LedgerEntry } from '../ledger/index.js';
import type { ObjectStore } from '../vault/index.js';
import { openCheckpoint, parseCheckpoint, signCheckpoint, type SignedCheckpoint } from './checkpoint.js';
import { checkpointKey, latestCheckpointKey, putCheckpoint, putTreeState, readCheckpointNote, readTreeState } from './checkpoint-store.js';
import { ProofError } from './errors.js';
import { LEDGER_START, LedgerTree } from './ledger-tree.js';
import { Frontier } from './merkle.js';
import { ed25519Verifier, formatVerifierKey, splitNote, type NoteSigner, type NoteVerifier } from './note.js';
import type { FolderWitness } from './witness.js';
import { ledgerOf } from '../ledger/index.js';

export interface CheckpointIssuerOptions {
  catalog: Catalog;
  store: ObjectStore;
  /** The station key; its key name is the checkpoint origin. */
  signer: NoteSigner;
  /** Keys the station signed with before a rotation (the ledger's `key.rotated`): the vault's older checkpoints verify with them. */
  previousKeys?: readonly Uint8Array[];
  witnesses?: readonly FolderWitness[];
  log: Logger;
}

/** What happened at one witness during an issue. */
export interface WitnessReport {
  dir: string;
  /** false: unreachable or the write failed (the checkpoint is still in the vault). */
  ok: boolean;
  /** Tree size of the witness's latest checkpoint before this issue (null: none). */
  had: number | null;
  wrote: boolean;
  error?: { code: string; message: string };
}

export interface IssueResult {
  checkpoint: SignedCheckpoint;
  key: string;
  /** false when the latest checkpoint already covered the whole ledger. */
  issued: boolean;
  witnesses: WitnessReport[];
}

interface Head {
  /** Strict: every entry added chains to the one before. */
  tree: LedgerTree<Frontier>;
  /** The latest checkpoint in the vault (which `tree` extends), or null. */
  checkpoint: SignedCheckpoint | null;
}

/**
 * Signs checkpoints of the ledger, never one that is inconsistent with what it
 * signed before.
 *
 * Invariants:
 * - Each checkpoint extends the previous one by construction: the tree is the last
 *   checkpoint's frontier (checked against its signed root) plus the entries since,
 *   each of which must chain to the one before; and before signing, the entry the
 *   tree stands at must still be in the ledger with the same hash, which catches any
 *   rewrite of history (a changed entry changes every later hash).
 * - A witness's latest checkpoint must be consistent with the new one and not be for
 *   a larger tree; otherwise nothing is signed.
 * - The tree state is stored before its checkpoint, so a stored checkpoint always
 *   has one (a crash between them leaves a harmless state object).
 * - Calls to issue() must not overlap (CheckpointService queues them).
 */
export class CheckpointIssuer {
  private readonly catalog: Catalog;
  private readonly store: ObjectStore;
  private readonly signer: NoteSigner;
  private readonly previous: NoteVerifier[];
  private readonly witnesses: readonly FolderWitness[];
  private readonly log: Logger;
  private head: Head | null = null;

  constructor(opts: CheckpointIssuerOptions) {
    this.catalog = opts.catalog;
    this.store = opts.store;
    this.signer = opts.signer;
    this.previous = (opts.previousKeys ?? []).map((k) => ed25519Verifier(opts.signer.name, k));
    this.witnesses = opts.witnesses ?? [];
    this.log = opts.log;
  }

  get origin(): string {
    return this.signer.name;
  }

  /** The verifier key string of the checkpoint signatures (for auditors). */
  get verifierKey(): string {
    return formatVerifierKey(this.signer);
  }

  /** The latest checkpoint this issuer knows of (after a first issue()). */
  get latest(): SignedCheckpoint | null {
    return this.head?.checkpoint ?? null;
  }

  /** Verify a checkpoint as this station's (signature by its key, its origin). */
  open(note: string | Uint8Array): SignedCheckpoint {
    return openCheckpoint(note, { publicKey: this.signer.publicKey, verifiers: this.previous, origin: this.origin });
  }

  /**
   * Feed an entry the ledger just committed (Ledger.onAppend), so the tree keeps up
   * without reading the catalog. Entries out of order are left to the next issue(),
   * which reads the catalog; an entry that breaks the chain drops the tree, and the
   * next issue() then refuses with the reason. Never throws (it runs inside appends).
   */
  observe(e: LedgerEntry): void {
    const head = this.head;
    if (!head || e.seq !== head.tree.position.seq + 1) return;
    try {
      head.tree.add(e);
    } catch (err) {
      this.head = null;
      this.log.error({ err, seq: e.seq }, 'a ledger entry does not chain to the one before: no checkpoint will be signed');
    }
  }

  /** Load the latest checkpoint and the tree it signed, from the vault (and, if need be, the ledger). */
  private async load(): Promise<Head> {
    const strict = { strict: true };
    const key = await latestCheckpointKey(this.store);
    if (key === null) return { tree: LedgerTree.extending(new Frontier(), LEDGER_START, strict), checkpoint: null };
    const note = await this.readNote(key);
    const claimed = parseCheckpoint(splitNote(note).text).origin;
    if (claimed !== this.origin) {
      throw new ProofError('CHECKPOINT_ORIGIN_CHANGED', `the vault's checkpoints are for origin ${claimed}, but checkpoints.origin says ${this.origin}: a log's origin cannot change once it signed`);
    }
    let checkpoint: SignedCheckpoint;
    try {
      checkpoint = this.open(note);
    } catch (e) {
      throw new ProofError('CHECKPOINT_INVALID', `the vault's latest checkpoint ${key} does not verify with the station key: ${errorMessage(e)}; refusing to sign over it`, { cause: e });
    }
    if (checkpointKey(checkpoint.size) !== key) throw new ProofError('CHECKPOINT_INVALID', `${key} holds a checkpoint for ${checkpoint.size} entries`);

    let state = null;
    try {
      state = await readTreeState(this.store, checkpoint.size);
    } catch (err) {
      this.log.warn({ err, size: checkpoint.size }, 'stored tree state is damaged; rebuilding it from the ledger');
    }
    if (state && state.frontier.root().equals(checkpoint.root)) {
      return { tree: LedgerTree.extending(state.frontier, state.position, strict), checkpoint };
    }
    if (state) this.log.warn({ size: checkpoint.size }, 'stored tree state does not match its checkpoint; rebuilding it from the ledger');
    // No usable state: rebuild the tree of the checkpoint's size from the ledger,
    // which must give the signed root.
    const full = LedgerTree.full(strict);
    await full.syncAsync(ledgerOf(this.catalog), { to: checkpoint.size });
    if (full.size < checkpoint.size) {
      throw new ProofError('LEDGER_INCONSISTENT', `the ledger has ${full.size} entries, fewer than the ${checkpoint.size} of the latest checkpoint: entries were removed`);
    }
    if (!full.tree.root().equals(checkpoint.root)) {
      throw new ProofError('LEDGER_INCONSISTENT', `the ledger's first ${checkpoint.size} entries do not hash to the latest checkpoint's root: history was rewritten since it was signed`);
    }
    const frontier = Frontier.of(full.tree);
    await putTreeState(this.store, { frontier, position: full.position });
    return { tree: LedgerTree.extending(frontier, full.position, strict), checkpoint };
  }

  private async readNote(key: string): Promise<string> {
    const m = /(\d{12})\.checkpoint$/.exec(key);
    const note = m ? await readCheckpointNote(this.store, Number(m[1])) : null;
    if (note === null) throw new ProofError('CHECKPOINT_INVALID', `checkpoint ${key} could not be read`);
    return note;
  }

  /**
   * Catch up with the ledger and, when it grew, sign and store a checkpoint; then
   * hand the latest checkpoint to every witness that lacks it. Resolves with the
   * latest checkpoint (null while the ledger is empty). Throws, signing nothing, when
   * the ledger does not extend the last checkpoint or a witness's.
   */
  async issue(): Promise<IssueResult | null> {
    try {
      return await this.issueNow();
    } catch (e) {
      // Whatever went wrong, start again from the vault next time.
      this.head = null;
      throw e;
    }
  }

  private async issueNow(): Promise<IssueResult | null> {
    this.head ??= await this.load();
    const head = this.head;
    const ledger = ledgerOf(this.catalog);
    // First: is the entry the tree stands at still there, with the same hash? A changed
    // entry anywhere before it changes its hash (the chain), so this catches any
    // rewrite of what was already signed, before new entries are even looked at.
    this.assertStillThere(head.tree.position);
    await head.tree.syncAsync(ledger);
    // A snapshot, taken synchronously: observe() may grow the tree during the awaits below.
    const position = head.tree.position;
    const size = head.tree.size;
    if (size === 0) return null;
    this.assertStillThere(position);
    const frontier = head.tree.tree.clone();
    const root = frontier.root();

    // Witnesses first: never sign what one of them proves inconsistent.
    const reports: WitnessReport[] = [];
    const reachable: Array<{ w: FolderWitness; had: number | null; report: WitnessReport }> = [];
    for (const w of this.witnesses) {
      let latest;
      try {
        latest = await w.latest();
      } catch (err) {
        this.log.warn({ err, witness: w.dir }, 'witness unreachable; it will get the checkpoint later');
        reports.push({ dir: w.dir, ok: false, had: null, wrote: false, error: describe(err) });
        continue;
      }
      if (latest) await this.checkWitness(w, latest, size, root);
      const report: WitnessReport = { dir: w.dir, ok: true, had: latest?.size ?? null, wrote: false };
      reports.push(report);
      reachable.push({ w, had: latest?.size ?? null, report });
    }

    let checkpoint: SignedCheckpoint;
    let issued = false;
    if (head.checkpoint && head.checkpoint.size === size) {
      checkpoint = head.checkpoint;
    } else {
      checkpoint = signCheckpoint({ origin: this.origin, size, root }, this.signer);
      await putTreeState(this.store, { frontier, position });
      const put = await putCheckpoint(this.store, checkpoint);
      head.checkpoint = checkpoint;
      issued = put.created;
      this.log.info({ size, root: root.toString('base64'), key: put.key }, put.created ? 'ledger checkpoint signed' : 'ledger checkpoint already in the vault');
    }

    for (const { w, had, report } of reachable) {
      if (had !== null && had >= checkpoint.size) continue;
      try {
        const put = await w.put(checkpoint);
        report.wrote = put.created;
      } catch (err) {
        this.log.warn({ err, witness: w.dir }, 'could not hand the checkpoint to a witness');
        report.ok = false;
        report.error = describe(err);
      }
    }
    return { checkpoint, key: checkpointKey(checkpoint.size), issued, witnesses: reports };
  }

  private assertStillThere(position: { seq: number; hash: string }): void {
    if (position.seq === 0) return;
    const now = ledgerOf(this.catalog).get(position.seq);
    if (now && now.hash === position.hash) return;
    throw new ProofError(
      'LEDGER_INCONSISTENT',
      now
        ? `entry ${position.seq} now hashes to ${now.hash}, but the signed tree holds it as ${position.hash}: history was rewritten`
        : `entry ${position.seq}, which the signed tree holds, is gone from the ledger: entries were removed`,
      { details: { seq: position.seq } },
    );
  }

  /** A witness's latest checkpoint must verify and be consistent with the tree of `size` entries. */
  private async checkWitness(w: FolderWitness, latest: { file: string; size: number; note: string }, size: number, root: Buffer): Promise<void> {
    let theirs: SignedCheckpoint;
    try {
      theirs = this.open(latest.note);
    } catch (e) {
      throw new ProofError('CHECKPOINT_WITNESS_INVALID', `witness ${latest.file} does not hold a checkpoint of this station: ${errorMessage(e)}; refusing to sign`, { cause: e, details: { witness: w.dir } });
    }
    if (theirs.size > size) {
      throw new ProofError('CHECKPOINT_WITNESS_AHEAD', `witness ${latest.file} holds a checkpoint for ${theirs.size} entries, but the ledger has only ${size}: entries were removed; refusing to sign`, {
        details: { witness: w.dir, witnessSize: theirs.size, size },
      });
    }
    if (theirs.size === size) {
      if (!theirs.root.equals(root)) throw inconsistent(latest.file, theirs.size);
      return;
    }
    // The vault's own checkpoint of that size, if any, was checked when it was signed.
    const ours = await readCheckpointNote(this.store, theirs.size);
    if (ours !== null) {
      if (ours !== latest.note && !this.open(ours).root.equals(theirs.root)) throw inconsistent(latest.file, theirs.size);
      return;
    }
    // Not in the vault (removed?): recompute that size's root from the ledger.
    const full = LedgerTree.full({ strict: false });
    await full.syncAsync(ledgerOf(this.catalog), { to: theirs.size });
    if (full.size < theirs.size || !full.tree.root().equals(theirs.root)) throw inconsistent(latest.file, theirs.size);
  }
}

function inconsistent(file: string, size: number): ProofError {
  return new ProofError('LEDGER_INCONSISTENT', `the ledger does not extend witness ${file} (${size} entries): history was rewritten since it was signed; refusing to sign`, {
    details: { witness: file, witnessSize: size },
  });
}

function describe(err: unknown): { code: string; message: string } {
  return { code: isCustodyError(err) ? err.code : ((err as NodeJS.ErrnoException | undefined)?.code ?? 'ERROR'), message: errorMessage(err) };
}
