import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { basename } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { type Catalog, EvidenceRepo } from '../catalog/index.js';
import { type Clock, CustodyError, type ErrorCode, errorMessage, isCustodyError, type Logger, ObjectCorruptError, rfc3339, SourceFileError, VaultFullError } from '../core/index.js';
import { type RecorderDriver, type RecorderFile, type RecorderHealth, type RecorderIdentity, sourceError } from '../devices/index.js';
import { hashStream, type FileSource, type LocalCopier, type ObjectStore, type PutBody, type PutOptions, type PutResult, type StagedPut } from '../vault/index.js';
import { mediaTypeOf, type MediaType } from './media-types.js';
import { recordedTime } from './recorded-time.js';
import { registerRecorder } from './recorders.js';
import { ledgerOf } from '../ledger/index.js';
import { abandonWipe, WipeIntents, type WipeAbandonReason, type WipeIntent } from './wipe-intents.js';
import { type CommitWindow, DEFAULT_COMMIT_WINDOW, GroupCommit } from './group-commit.js';
import type { SessionSlots } from './slots.js';
import type { CopyThreads } from './copy-threads.js';

/** What ingest needs to know about a file's media before it is stored (fast, header only). */
export type HeaderProbe = (file: string, signal: AbortSignal) => Promise<{ creationTime: Date | null; durationMs: number | null }>;

export interface IngestSettings {
  timezone: string;
  wipeAfterIngest: boolean;
  wipeRereadSource: boolean;
  settleSeconds: number;
  readBufferKb: number;
  /** Files of one recorder in flight at once (each also needs a global slot). */
  perRecorder: number;
  /** Group commit of finished files (default {@link DEFAULT_COMMIT_WINDOW}). */
  commitWindow?: CommitWindow | undefined;
}

export interface IngestedItem {
  evidenceId: string;
  sha256: string;
  path: string;
  size: number;
  recordedAt: string;
  wiped: boolean;
}

export interface FileError {
  path: string;
  code: ErrorCode;
  message: string;
}

export type SessionStatus = 'complete' | 'paused' | 'aborted' | 'recorder-gone' | 'failed';

export interface SessionReport {
  sessionId: string;
  serial: string | null;
  status: SessionStatus;
  ingested: number;
  skipped: number;
  failed: number;
  bytes: number;
  items: IngestedItem[];
  errors: FileError[];
  identity: RecorderIdentity | null;
  health: RecorderHealth | null;
  /** Set when the whole session stopped early (vault full, recorder pulled, …). */
  error: FileError | null;
}

export interface SessionProgress {
  sessionId: string;
  serial: string | null;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the session so far. */
  rate: number;
  etaSeconds: number | null;
}

export interface SessionDeps {
  catalog: Catalog;
  store: ObjectStore;
  slots: SessionSlots;
  log: Logger;
  clock: Clock;
  settings: IngestSettings;
  probe?: HeaderProbe | undefined;
  actor: string;
  /**
   * The copy threads this session may take one of (the service's budget); without it,
   * the session's copier is not bounded by anything else.
   */
  copyThreads?: CopyThreads | undefined;
  /**
   * Identity and health already read by the caller (the dock manager's pre-duty
   * check). The drift in it was measured before any clock sync, so it is the one that
   * corrects this session's recorded times; the driver is not asked again.
   */
  snapshot?: { identity: RecorderIdentity; health: RecorderHealth | null } | undefined;
}

interface PlannedFile extends RecorderFile {
  mediaType: MediaType;
}

type Header = { creationTime: Date | null; durationMs: number | null };

/** A file copied and checked, waiting for its group commit: staged (fs) or already put (stores without staging). */
interface Copied {
  file: PlannedFile;
  header: Header;
  staged: StagedPut | null;
  put: PutResult | null;
}

/** What a group commit did with one file. */
type Committed =
  | { kind: 'ingested'; item: IngestedItem }
  | { kind: 'duplicate'; sha256: string; evidenceId: string }
  | { kind: 'failed'; error: unknown };

const PROGRESS_INTERVAL_MS = 250;

/**
 * One dock session: everything that is ingested from one recorder in one go.
 *
 * Safety invariants:
 * - an `evidence.ingested` entry is written only after the object is published and
 *   checked, in the same transaction as the catalog row;
 * - files are committed in groups (group commit): the objects of a group are synced
 *   and published together, then their rows and entries go in one transaction; a
 *   file is reported, announced ('file') or wiped only after its group's transaction
 *   committed, so a crash before it leaves the group unrecorded and on the recorder;
 * - a file is deleted from the recorder only after that transaction committed, and
 *   (by default) after a second read of the source hashed the same, and after its
 *   `evidence.wipe-intended` entry committed: every wipe is in the ledger;
 * - an aborted or crashed session leaves no partial object (the store publishes
 *   whole objects only) and no entry for an incomplete file; the next run skips what
 *   was committed and redoes the rest.
 */
export class IngestSession extends EventEmitter {
  readonly id = uuidv7();
  private readonly abortController = new AbortController();
  private readonly repo: EvidenceRepo;
  private readonly intents: WipeIntents;
  private readonly log: Logger;
  private identity: RecorderIdentity | null = null;
  private health: RecorderHealth | null = null;
  private stopIntake = false;
  private stopReason: FileError | null = null;
  private status: SessionStatus = 'complete';
  private readonly report: Omit<SessionReport, 'sessionId' | 'serial' | 'status' | 'identity' | 'health' | 'error'> = {
    ingested: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    items: [],
    errors: [],
  };
  private filesTotal = 0;
  private filesDone = 0;
  private bytesTotal = 0;
  private bytesDone = 0;
  private startedAt = 0;
  private lastProgress = 0;
  private readonly commits: GroupCommit<Copied, Committed>;
  /** What follows each commit (report, wipe): awaited before the session ends. */
  private readonly afterCommits = new Set<Promise<void>>();
  /** The vault's copier of small files for this session, made at its first small file. */
  private copier: LocalCopier | null = null;
  /** Its thread's place in the service's budget (given back once the thread has ended), once it has one. */
  private copierPlace: (() => void) | null = null;

  constructor(
    readonly driver: RecorderDriver,
    private readonly deps: SessionDeps,
  ) {
    super();
    this.repo = new EvidenceRepo(deps.catalog.db);
    this.intents = new WipeIntents(deps.catalog.db);
    this.log = deps.log.child({ session: this.id, recorder: driver.location });
    this.commits = new GroupCommit((group) => this.commitGroup(group), deps.settings.commitWindow ?? DEFAULT_COMMIT_WINDOW);
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** Stop taking new files; copies in flight finish (graceful) or are rolled back (abort). */
  stop(reason: FileError, mode: 'graceful' | 'abort', status: SessionStatus = 'aborted'): void {
    if (!this.stopReason) {
      this.stopReason = reason;
      this.status = status;
    }
    this.stopIntake = true;
    if (mode === 'abort') this.abortController.abort(new CustodyError(reason.code, reason.message));
  }

  async run(): Promise<SessionReport> {
    this.startedAt = Date.now();
    try {
      const snapshot = this.deps.snapshot;
      this.identity = snapshot ? snapshot.identity : await this.driver.identify();
      this.log.info({ serial: this.identity.serial, officer: this.identity.officer }, 'dock session started');
      this.health = snapshot
        ? snapshot.health
        : await this.driver.health().catch((e: unknown) => {
            this.log.warn({ err: e }, 'recorder health could not be read');
            return null;
          });
      const plan = await this.plan(this.identity);
      // A recorder pulled before or while it was listed leaves its mount point behind
      // as an empty folder: a listing of that is not the recorder's, and "complete"
      // would be a lie.
      if (!(await this.driver.present())) {
        this.stop({ path: '', code: 'RECORDER_GONE', message: `recorder ${this.driver.location} disappeared` }, 'abort', 'recorder-gone');
        this.log.warn({ planned: plan.length }, 'recorder pulled before its files were copied');
      } else await this.copyAll(plan);
    } catch (e) {
      if (!this.stopReason) {
        if (e instanceof SourceFileError && !(await this.driver.present())) {
          // The listing (or the identity) failed because the recorder was pulled.
          this.stopReason = { path: '', code: 'RECORDER_GONE', message: `recorder ${this.driver.location} disappeared` };
          this.status = 'recorder-gone';
        } else {
          this.stopReason = { path: '', code: isCustodyError(e) ? e.code : 'SESSION_FAILED', message: errorMessage(e) };
          this.status = 'failed';
        }
      }
      if (this.status === 'recorder-gone') this.log.warn({ err: e }, 'recorder pulled mid-session');
      else this.log.error({ err: e }, 'dock session failed');
    }
    this.emitProgress(true);
    const report: SessionReport = {
      sessionId: this.id,
      serial: this.identity?.serial ?? null,
      status: this.status,
      ...this.report,
      identity: this.identity,
      health: this.health,
      error: this.stopReason,
    };
    this.log.info(
      { serial: report.serial, status: report.status, ingested: report.ingested, skipped: report.skipped, failed: report.failed, bytes: report.bytes },
      'dock session ended',
    );
    this.emit('end', report);
    return report;
  }

  /** List media, skip what the vault has (same recorder, path, size, mtime), finish interrupted wipes. */
  private async plan(identity: RecorderIdentity): Promise<PlannedFile[]> {
    const todo: PlannedFile[] = [];
    // Wipes a previous run meant to do and may have done (intent committed, no
    // `evidence.wiped`): each is settled below, once the listing shows whether the file is gone.
    const intents = new Map(this.intents.open(identity.serial).map((i) => [i.evidenceId, i]));
    const stillThere = new Set<string>();
    const listed = new Map<string, RecorderFile>();
    for await (const f of this.driver.listFiles()) {
      const mediaType = mediaTypeOf(f.path);
      if (!mediaType) continue;
      listed.set(f.path, f);
      const known = this.repo.bySource(identity.serial, f.path).find((e) => e.size === f.size && e.sourceMtimeMs === f.mtimeMs);
      if (known) {
        this.report.skipped++;
        const intended = intents.has(known.id);
        stillThere.add(known.id);
        if (this.deps.settings.wipeAfterIngest && known.wipedAt === null && known.status === 'live') {
          // A previous run committed the evidence but stopped before its wipe.
          await this.wipe(identity, f, known.id, known.sha256, intended);
        } else if (intended) {
          // Meant to be wiped by a run that stopped, but this station no longer wipes it: it stays, and the intent is closed.
          this.abandonIntent(identity, intents.get(known.id)!, 'not-wiping', f);
        }
        continue;
      }
      todo.push({ ...f, mediaType });
    }
    // An intent whose path shows another file (size or time) did not delete it: closed, and that file is new footage.
    for (const i of intents.values()) if (!stillThere.has(i.evidenceId) && listed.has(i.sourcePath)) this.abandonIntent(identity, i, 'changed', listed.get(i.sourcePath)!);
    await this.settleIntents(identity, [...intents.values()].filter((i) => !stillThere.has(i.evidenceId) && !listed.has(i.sourcePath)));
    this.filesTotal = todo.length;
    this.bytesTotal = todo.reduce((n, f) => n + f.size, 0);
    this.emitProgress(true);
    return todo;
  }

  private async copyAll(plan: PlannedFile[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.stopIntake && next < plan.length) {
        const file = plan[next++]!;
        let release: (() => void) | undefined;
        try {
          release = await this.deps.slots.acquire(this.signal);
        } catch {
          return; // aborted while waiting for a slot
        }
        try {
          if (this.stopIntake) return;
          await this.ingestOne(this.identity!, file);
        } finally {
          release();
        }
      }
    };
    const n = Math.max(1, Math.min(this.deps.settings.perRecorder, plan.length));
    try {
      await Promise.all(Array.from({ length: n }, worker));
    } finally {
      // Whatever the workers handed over is committed (or dropped, when aborted) and
      // its wipe done before the session reports.
      await this.commits.idle();
      while (this.afterCommits.size > 0) await Promise.all([...this.afterCommits]);
      this.endCopier();
    }
  }

  /**
   * Copy one file into the vault (staged, not yet durable) under the worker's slot and
   * hand it to the group commit; the worker goes on with the next file meanwhile.
   */
  private async ingestOne(identity: RecorderIdentity, file: PlannedFile): Promise<void> {
    const now = this.deps.clock.now();
    let copied: Copied | null = null;
    try {
      if (file.size === 0) throw new SourceFileError('SOURCE_EMPTY', `${file.path} is empty (0 bytes)`);
      if (now.getTime() - file.mtimeMs < this.deps.settings.settleSeconds * 1000) {
        throw new SourceFileError('SOURCE_STILL_WRITING', `${file.path} was modified moments ago and may still be written`);
      }
      // The listing's stat is the file as it was before the copy: the stat after the copy
      // must find it unchanged (a file changed since the listing fails as changed, and is
      // taken by the next run).
      const before: RecorderFile = file;
      const header = await this.readHeader(file);
      const { staged, put, after: seen } = await this.copy(file, before);
      copied = { file, header, staged, put };
      const after = seen ?? (await this.driver.stat(file.path));
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        throw new SourceFileError('SOURCE_CHANGED', `${file.path} changed while it was copied`);
      }
    } catch (e) {
      if (copied?.staged) await this.discard(copied.staged);
      this.fileDone(file.size);
      await this.fail(identity, file, e);
      return;
    }
    // Unsynced work is bounded: wait while a full commit window is already waiting.
    await this.commits.room();
    const done: Promise<void> = this.commits
      .add(copied, file.size)
      .catch((error: unknown): Committed => ({ kind: 'failed', error }))
      .then((c) => this.afterCommit(identity, file, c))
      .catch((e: unknown) => this.log.error({ file: file.path, err: e }, 'after-commit step failed'))
      .finally(() => this.afterCommits.delete(done));
    this.afterCommits.add(done);
  }

  /**
   * One group commit: the group's objects made durable and published together (one
   * sync per file, one per folder, for the group), then every row and ledger entry in
   * one transaction. Until that transaction commits, nothing of the group is reported,
   * announced or wiped.
   */
  private async commitGroup(group: Copied[]): Promise<Committed[]> {
    const { store, catalog } = this.deps;
    if (this.signal.aborted) {
      // Rolled back: the copies are dropped; the next run redoes them.
      await Promise.all(group.map((c) => (c.staged ? this.discard(c.staged) : undefined)));
      const error = this.signal.reason as unknown;
      return group.map(() => ({ kind: 'failed', error }));
    }
    const out: Committed[] = group.map(() => ({ kind: 'failed', error: new Error('not committed') }));
    const staged = group.map((c, i) => ({ c, i })).filter(({ c }) => c.staged !== null);
    if (staged.length > 0) {
      const published = await store.publishStaged!(staged.map(({ c }) => c.staged!));
      staged.forEach(({ c, i }, k) => {
        const p = published[k]!;
        if (p.ok) c.put = p.put;
        else out[i] = { kind: 'failed', error: p.error };
      });
    }
    const ready = group.map((c, i) => ({ c, i })).filter(({ c }) => c.put !== null);
    if (ready.length === 0) return out;
    const identity = this.identity!;
    try {
      catalog.tx(() => {
        const ingestedAt = rfc3339(catalog.clock.now());
        registerRecorder(catalog, this.repo, identity, this.deps.actor, ingestedAt);
        for (const { c, i } of ready) {
          const { sha256, size } = c.put!;
          // Same bytes from this recorder already in the vault (renamed or re-stamped
          // file), also earlier in this very group.
          const dup = this.repo.byRecorderSha(identity.serial, sha256);
          if (dup) {
            this.repo.clearFailure(identity.serial, c.file.path);
            out[i] = { kind: 'duplicate', sha256, evidenceId: dup.id };
          } else {
            out[i] = { kind: 'ingested', item: this.record(identity, c.file, sha256, size, c.header, ingestedAt) };
          }
        }
      });
    } catch (e) {
      // Nothing of the group was recorded (one transaction): every file of it fails.
      for (const { i } of ready) out[i] = { kind: 'failed', error: e };
    }
    return out;
  }

  /** After a file's group committed (or failed): report it, then wipe it when asked. */
  private async afterCommit(identity: RecorderIdentity, file: PlannedFile, c: Committed): Promise<void> {
    if (c.kind === 'failed') {
      this.fileDone(file.size);
      await this.fail(identity, file, c.error);
      return;
    }
    if (c.kind === 'duplicate') {
      this.report.skipped++;
      this.log.info({ file: file.path, sha256: c.sha256, evidenceId: c.evidenceId }, 'already in the vault under another name');
      this.fileDone(file.size);
      return;
    }
    const { item } = c;
    this.report.ingested++;
    this.report.bytes += item.size;
    this.log.info({ file: file.path, bytes: item.size, sha256: item.sha256, evidenceId: item.evidenceId }, 'ingested');
    if (this.deps.settings.wipeAfterIngest) item.wiped = await this.withSlot(() => this.wipe(identity, file, item.evidenceId, item.sha256), false);
    this.report.items.push(item);
    this.emit('file', item);
    this.fileDone(file.size);
  }

  /** Run fn under one of the service's I/O slots (a wipe re-reads the source); `aborted` when the session is. */
  private async withSlot<T>(fn: () => Promise<T>, aborted: T): Promise<T> {
    let release: () => void;
    try {
      release = await this.deps.slots.acquire(this.signal);
    } catch {
      return aborted;
    }
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private async discard(staged: StagedPut): Promise<void> {
    try {
      await this.deps.store.discardStaged?.(staged);
    } catch (e) {
      this.log.warn({ err: e }, 'could not remove a dropped copy from the vault temp folder; the next start does');
    }
  }

  private async readHeader(file: PlannedFile): Promise<{ creationTime: Date | null; durationMs: number | null }> {
    const local = this.driver.localPath(file.path);
    if (!this.deps.probe || !local || file.mediaType === 'photo') return { creationTime: null, durationMs: null };
    try {
      return await this.deps.probe(local, this.signal);
    } catch (e) {
      // A file ffprobe cannot read is still evidence: fall back to name and mtime.
      this.log.warn({ file: file.path, err: e }, 'could not read media header; recorded time falls back');
      return { creationTime: null, durationMs: null };
    }
  }

  /**
   * Read the source once, hashing while it is written into the vault: staged for the
   * group commit when the store can (fs), else put whole. A driver that hands out the
   * file is read by the vault with its own reused buffers (a small file whole, by its
   * path, in the vault's copy thread, which also stat-s it again: `after`); others
   * through their stream. Errors of the recorder are turned into SourceFileError where
   * they happen, so a failure of the vault (say ENOSPC) is never mistaken for one of the
   * recorder, or the reverse.
   */
  private async copy(
    file: PlannedFile,
    before: RecorderFile,
  ): Promise<{ staged: StagedPut | null; put: PutResult | null; after: RecorderFile | null }> {
    const bufferBytes = this.deps.settings.readBufferKb * 1024;
    const toSourceError = (e: unknown): Error => (isCustodyError(e) ? e : sourceError(e, file.path));
    let last = 0;
    const opts: PutOptions & { expectedSize: number } = {
      expectedSize: before.size,
      signal: this.signal,
      bufferBytes,
      onProgress: (n) => {
        this.bytesDone += n - last;
        last = n;
        this.emitProgress(false);
      },
    };
    try {
      const local = this.copyThreadPath(file);
      if (local !== null) {
        const { staged, after } = await this.copier!.stage(local, { ...opts, readError: toSourceError });
        if (!after.isFile) {
          await this.discard(staged);
          throw new SourceFileError('RECORDER_NOT_A_FILE', `${file.path} is not a regular file`);
        }
        // The copier's stat after the read, as the driver's stat would give it.
        return { staged, put: null, after: { path: file.path, size: after.size, mtimeMs: Math.trunc(after.mtimeMs) } };
      }
      return { ...(await this.copyOpened(file, opts, toSourceError)), after: null };
    } catch (e) {
      this.bytesDone -= last;
      if (e instanceof ObjectCorruptError && e.details && 'expectedSize' in e.details) {
        throw new SourceFileError('SOURCE_CHANGED', `${file.path} changed size while it was copied`);
      }
      throw e;
    }
  }

  /**
   * The local path of a file small enough for the vault's copy thread, when the store
   * has one and the driver hands out files (so reading the path read-only, without
   * following a symlink, is what its openFile does); else null.
   */
  private copyThreadPath(file: PlannedFile): string | null {
    const { store } = this.deps;
    if (!this.driver.openFile || !store.localCopier || !store.publishStaged) return null;
    this.copier ??= store.localCopier();
    if (file.size > this.copier.maxBytes) return null;
    // The thread's place in the service's budget; none free: this file goes through the
    // I/O thread pool, and the next small file asks again.
    if (!this.copierPlace) {
      const place = this.deps.copyThreads ? this.deps.copyThreads.take() : () => undefined;
      if (!place) return null;
      this.copierPlace = place;
    }
    return this.driver.localPath(file.path);
  }

  /** End the copy thread; its place in the budget is given back once it has ended (a hung read delays that). */
  private endCopier(): void {
    const { copier, copierPlace } = this;
    this.copier = null;
    this.copierPlace = null;
    if (!copier) return;
    const ended = copier.close();
    if (copierPlace) void ended.then(copierPlace, copierPlace);
  }

  /** The source opened by the driver, then staged (or put) by the store. */
  private async copyOpened(
    file: PlannedFile,
    opts: PutOptions,
    toSourceError: (e: unknown) => Error,
  ): Promise<{ staged: StagedPut | null; put: PutResult | null }> {
    const bufferBytes = opts.bufferBytes!;
    let body: PutBody;
    let close: () => Promise<void>;
    try {
      if (this.driver.openFile) {
        const handle = await this.driver.openFile(file.path);
        body = { handle, readError: toSourceError } satisfies FileSource;
        close = () => handle.close();
      } else {
        const raw = await this.driver.open(file.path, { highWaterMark: bufferBytes });
        const source = new PassThrough({ highWaterMark: bufferBytes });
        raw.once('error', (e) => source.destroy(toSourceError(e)));
        source.once('close', () => raw.destroy());
        raw.pipe(source);
        body = source;
        close = async () => void source.destroy();
      }
    } catch (e) {
      throw toSourceError(e);
    }
    try {
      const { store } = this.deps;
      if (store.stage && store.publishStaged) return { staged: await store.stage(body, opts), put: null };
      return { staged: null, put: await store.putContent(body, opts) };
    } finally {
      await close().catch(() => undefined);
    }
  }

  /** The catalog row and its ledger entry; called inside the group's transaction. */
  private record(
    identity: RecorderIdentity,
    file: PlannedFile,
    sha256: string,
    size: number,
    header: Header,
    ingestedAt: string,
  ): IngestedItem {
    const drift = this.health?.clockDriftMs ?? null;
    const t = recordedTime({
      name: basename(file.path),
      mtimeMs: file.mtimeMs,
      creationTime: header.creationTime,
      durationMs: header.durationMs,
      zone: this.deps.settings.timezone,
      clockDriftMs: drift,
    });
    const id = uuidv7();
    const iso = (d: Date | null): string | null => (d ? rfc3339(d) : null);
    const { catalog } = this.deps;
    const row = {
      id,
      sha256,
      size,
      mediaType: file.mediaType,
      recorderSerial: identity.serial,
      officer: identity.officer,
      unit: identity.unit,
      sourcePath: file.path,
      sourceName: basename(file.path),
      sourceMtimeMs: file.mtimeMs,
      recordedStart: rfc3339(t.start),
      recordedEnd: iso(t.end),
      recordedSource: t.source,
      clockDriftMs: drift,
      recordedStartCorrected: iso(t.startCorrected),
      recordedEndCorrected: iso(t.endCorrected),
      ingestedAt,
      sessionId: this.id,
      durationMs: header.durationMs,
    };
    this.repo.insert(row);
    this.repo.clearFailure(identity.serial, file.path);
    ledgerOf(catalog).append({
      type: 'evidence.ingested',
      actor: this.deps.actor,
      subject: id,
      data: {
        sha256,
        size,
        mediaType: file.mediaType,
        recorder: { serial: identity.serial, model: identity.model },
        officer: identity.officer,
        unit: identity.unit,
        sourcePath: file.path,
        sourceName: row.sourceName,
        sourceMtime: rfc3339(new Date(file.mtimeMs)),
        recordedStart: row.recordedStart,
        recordedEnd: row.recordedEnd,
        recordedSource: row.recordedSource,
        clockDriftMs: drift,
        recordedStartCorrected: row.recordedStartCorrected,
        recordedEndCorrected: row.recordedEndCorrected,
        ingestedAt,
        sessionId: this.id,
      },
    });
    return { evidenceId: id, sha256, path: file.path, size, recordedAt: rfc3339(t.start), wiped: false };
  }

  /**
   * Delete a file from the recorder. Only called once its evidence is committed;
   * by default the source is read again and must hash the same as the vault copy.
   *
   * The order makes every wipe visible in the ledger, whatever moment a crash picks:
   * `evidence.wipe-intended` is committed before the file is deleted, `evidence.wiped`
   * after. A crash between the two leaves an open intent, which the next session of
   * this recorder settles (`settleIntents`): the file gone is recorded as wiped, the
   * file still there is wiped again (under the same intent) or left as it is.
   */
  private async wipe(identity: RecorderIdentity, file: RecorderFile, evidenceId: string, sha256: string, intended = false): Promise<boolean> {
    try {
      if (this.deps.settings.wipeRereadSource) {
        const again = await hashStream(await this.driver.open(file.path, { highWaterMark: this.deps.settings.readBufferKb * 1024 }));
        if (again.sha256 !== sha256) {
          throw new SourceFileError('WIPE_SOURCE_MISMATCH', `${file.path} no longer hashes as its vault copy; not wiped`);
        }
      }
      if (this.signal.aborted) return false;
      const data = { sha256, recorder: identity.serial, sourcePath: file.path, reread: this.deps.settings.wipeRereadSource };
      if (!intended) {
        this.deps.catalog.tx(() => ledgerOf(this.deps.catalog).append({ type: 'evidence.wipe-intended', actor: this.deps.actor, subject: evidenceId, data }));
      }
      await this.driver.delete(file.path);
      this.recordWiped(evidenceId, data);
      this.log.info({ file: file.path, evidenceId }, 'wiped from recorder');
      return true;
    } catch (e) {
      if (intended && isCustodyError(e) && e.code === 'WIPE_SOURCE_MISMATCH') {
        this.abandonIntent(identity, { evidenceId, sha256, sourcePath: file.path, reread: true }, 'changed', file);
      }
      this.report.errors.push({ path: file.path, code: isCustodyError(e) ? e.code : 'WIPE_FAILED', message: `not wiped: ${errorMessage(e)}` });
      this.log.warn({ file: file.path, err: e }, 'wipe failed; the file stays on the recorder');
      return false;
    }
  }

  private recordWiped(evidenceId: string, data: { sha256: string; recorder: string; sourcePath: string; reread: boolean; resumed?: boolean }): void {
    this.deps.catalog.tx(() => {
      this.repo.setWiped(evidenceId, rfc3339(this.deps.catalog.clock.now()));
      ledgerOf(this.deps.catalog).append({ type: 'evidence.wiped', actor: this.deps.actor, subject: evidenceId, data });
    });
  }

  /**
   * Open wipe intents whose file the listing did not show (with the size and mtime
   * it was ingested with): the deletion happened before a crash took the commit, so it
   * is recorded now, marked `resumed`. Only a recorder still present is believed: the
   * empty folder a pulled recorder leaves behind proves nothing.
   */
  private async settleIntents(identity: RecorderIdentity, gone: WipeIntent[]): Promise<void> {
    if (gone.length === 0 || !(await this.driver.present())) return;
    for (const i of gone) {
      this.recordWiped(i.evidenceId, { sha256: i.sha256, recorder: identity.serial, sourcePath: i.sourcePath, reread: i.reread, resumed: true });
      this.log.warn({ file: i.sourcePath, evidenceId: i.evidenceId }, 'a wipe interrupted before its commit is recorded now');
    }
  }

  /** Close an open intent without a wipe (see WipeAbandonReason); a failure to record it leaves it open for the next session. */
  private abandonIntent(identity: RecorderIdentity, intent: WipeIntent, reason: WipeAbandonReason, seen: RecorderFile): void {
    try {
      abandonWipe(this.deps.catalog, this.deps.actor, intent, identity.serial, reason, { size: seen.size, mtimeMs: seen.mtimeMs });
      this.log.warn({ file: intent.sourcePath, evidenceId: intent.evidenceId, reason }, 'an open wipe intent is closed without a wipe; the file stays on the recorder');
    } catch (e) {
      this.log.error({ err: e, file: intent.sourcePath }, 'could not close an open wipe intent');
    }
  }

  private async fail(identity: RecorderIdentity, file: PlannedFile, e: unknown): Promise<void> {
    if (this.signal.aborted) {
      // Rolled back by an abort: nothing was recorded for this file; it is redone next time.
      return;
    }
    const code = isCustodyError(e) ? e.code : 'INGEST_FAILED';
    const message = errorMessage(e);
    if (e instanceof VaultFullError) {
      this.stop({ path: file.path, code, message }, 'graceful', 'paused');
      this.log.error({ file: file.path, err: e }, 'vault is full: session paused, nothing is wiped');
    } else if (code === 'VAULT_UNAVAILABLE') {
      // The store went away (an S3 endpoint down, the vault's folder gone): every file
      // left would fail the same way, so the session pauses like a full vault; what was
      // committed stays, the rest is taken when the store answers again.
      this.stop({ path: file.path, code, message }, 'graceful', 'paused');
      this.log.error({ file: file.path, err: e }, 'vault unavailable: session paused, nothing is wiped');
    } else if (e instanceof SourceFileError && !(await this.driver.present())) {
      this.stop({ path: file.path, code: 'RECORDER_GONE', message: `recorder ${this.driver.location} disappeared` }, 'abort', 'recorder-gone');
      this.log.warn({ file: file.path }, 'recorder pulled mid-session');
      return;
    }
    this.report.failed++;
    this.report.errors.push({ path: file.path, code, message });
    this.log.warn({ file: file.path, code, err: e }, 'file not ingested; will be retried');
    try {
      this.deps.catalog.tx(() => this.repo.recordFailure(identity.serial, file.path, code, message, rfc3339(this.deps.clock.now())));
    } catch (dbErr) {
      this.log.error({ err: dbErr, file: file.path }, 'could not record the failure');
    }
  }

  private fileDone(_size: number): void {
    this.filesDone++;
    this.emitProgress(false);
  }

  private emitProgress(force: boolean): void {
    const t = Date.now();
    if (!force && t - this.lastProgress < PROGRESS_INTERVAL_MS && this.filesDone < this.filesTotal) return;
    this.lastProgress = t;
    const elapsed = Math.max(0.001, (t - this.startedAt) / 1000);
    const rate = this.bytesDone / elapsed;
    const remaining = Math.max(0, this.bytesTotal - this.bytesDone);
    const p: SessionProgress = {
      sessionId: this.id,
      serial: this.identity?.serial ?? null,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      rate,
      etaSeconds: rate > 0 ? remaining / rate : null,
    };
    this.emit('progress', p);
  }
}
