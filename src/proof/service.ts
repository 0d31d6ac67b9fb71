import type { Logger } from '../core/index.js';
import type { Catalog } from '../catalog/index.js';
import type { ObjectStore } from '../vault/index.js';
import { latestCheckpoint } from './checkpoint-store.js';
import type { SignedCheckpoint } from './checkpoint.js';
import { CheckpointIssuer, type IssueResult } from './issuer.js';
import type { NoteSigner } from './note.js';
import type { FolderWitness } from './witness.js';
import { ledgerOf } from '../ledger/index.js';

export interface CheckpointServiceOptions {
  catalog: Catalog;
  store: ObjectStore;
  signer: NoteSigner;
  /** Keys the station signed with before a rotation (issue 20; see CheckpointIssuerOptions). */
  previousKeys?: readonly Uint8Array[];
  /**
   * Run before each checkpoint is signed: the station seals the ledger first, so a
   * checkpoint never covers an entry the vault does not hold (a restore from the vault
   * then always extends the last checkpoint).
   */
  beforeIssue?: () => Promise<void>;
  witnesses?: readonly FolderWitness[];
  log: Logger;
  /** Issue a checkpoint this often when the ledger grew (config checkpoints.intervalSeconds); 0: no timer. */
  intervalSeconds: number;
}

/**
 * Issues signed checkpoints of the ledger: on a timer, after significant events
 * (callers use {@link issueIfGrown} after a purge run or an export) and at a clean
 * shutdown. Keeps only the tree's frontier in memory (a few KiB), fed by every
 * committed ledger entry, so an issue hashes nothing but the entries since the last.
 */
export class CheckpointService {
  private readonly issuer: CheckpointIssuer;
  private readonly store: ObjectStore;
  private readonly catalog: Catalog;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly beforeIssue: () => Promise<void>;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private backgroundQueued = false;
  private started = false;

  constructor(opts: CheckpointServiceOptions) {
    this.issuer = new CheckpointIssuer(opts);
    this.store = opts.store;
    this.catalog = opts.catalog;
    this.log = opts.log;
    this.intervalMs = opts.intervalSeconds * 1000;
    this.beforeIssue = opts.beforeIssue ?? (() => Promise.resolve());
  }

  get origin(): string {
    return this.issuer.origin;
  }

  /** The verifier key string of the checkpoint signatures (for auditors). */
  get verifierKey(): string {
    return this.issuer.verifierKey;
  }

  /** Verify a checkpoint as this station's (signature by its key, its origin). */
  open(note: string | Uint8Array): SignedCheckpoint {
    return this.issuer.open(note);
  }

  /**
   * Sign a checkpoint if the ledger grew since the last one (and hand it to the
   * witnesses). Calls queue behind each other. Throws when the ledger does not
   * extend the last checkpoint or a witness's: nothing is signed then.
   */
  issueIfGrown(): Promise<IssueResult | null> {
    const run = this.chain.then(async () => {
      await this.beforeIssue();
      return this.issuer.issue();
    });
    this.chain = run.catch(() => undefined); // the next call waits for this one, whatever its outcome
    return run;
  }

  /**
   * The latest signed checkpoint note (what GET /api/v1/ledger/checkpoint serves), or
   * null: the one this service last signed or loaded, else the vault's latest. (One
   * signed meanwhile by `custody ledger checkpoint` shows after the next issue.)
   */
  async latest(): Promise<string | null> {
    return this.issuer.latest?.note ?? latestCheckpoint(this.store);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = ledgerOf(this.catalog).onAppend((e) => this.issuer.observe(e));
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => this.background(), this.intervalMs);
      this.timer.unref();
    }
    // Load the last checkpoint and sign what was appended while the daemon was down.
    this.background();
  }

  /** Stop the timer, wait for a running issue, and sign a last checkpoint. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    try {
      await this.issueIfGrown();
    } catch (err) {
      this.log.error({ err }, 'final ledger checkpoint failed');
      throw err;
    }
  }

  private background(): void {
    if (this.backgroundQueued) return;
    this.backgroundQueued = true;
    const run = this.chain.then(async () => {
      this.backgroundQueued = false;
      await this.beforeIssue();
      return this.issuer.issue();
    });
    this.chain = run.then(
      () => undefined,
      (err: unknown) => {
        this.log.error({ err }, 'ledger checkpoint refused or failed; will try again');
      },
    );
  }
}
