import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DateTime } from 'luxon';
import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, type Logger, NotFoundError, UsageError } from '../core/index.js';
import { LedgerTree, type SignedCheckpoint } from '../proof/index.js';
import { canonicalLine, type LedgerEntry, ledgerOf } from '../ledger/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { CaseSource, type CaseRecord } from './case-source.js';
import { confirmDestination, resolveDestinations } from './destinations.js';
import { payloadName } from './documents.js';
import { EXPORT_FORMAT, PROOFS_FORMAT, type ExportItem, type ExportManifest, type ExportProofs } from './layout.js';
import { bagNameOf, copyErrorOf, diskWarnings, excerptEntries, excerptSeqs, scrub } from './export-steps.js';
import { verifyExport, type ExportProblem } from './verify.js';
import { ExportWriteError, writeCopy } from './writer.js';

/**
 * Archival export of a protected case (the rules' Att. 1 Art. 12; issue 8): two (or
 * `copies`) independent BagIt copies, each read back from its destination and fully
 * verified before the export is reported good, labelled with the making unit, the
 * maker, the time and the case, and recorded in the ledger as `export.created`.
 *
 * Invariants:
 * - Copies share nothing: each reads its payload from the vault itself and writes into
 *   a temporary folder on its own destination; no hard links, no common temp.
 * - A copy is published (renamed to its final name) only when whole and synced; a copy
 *   that fails leaves nothing behind and is named in the result, and the other copies
 *   are still reported as they are.
 * - The result and the ledger entry report a copy good only after verifyExport
 *   accepted it as read back from its destination.
 */

export interface ArchiveServiceOptions {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  /** Zone for readable names, the bagging date and the label (config.timezone). */
  timezone: string;
  /** Copies an export must make (config.archive.copies). */
  copies: number;
  /** The making unit when the case has none (config.archive.sourceOrganization). */
  sourceOrganization: string;
  /**
   * A signed checkpoint covering the ledger as it is now (the CLI issues one with the
   * station key; the daemon asks its CheckpointService). null: none (the copy then has
   * the ledger excerpt without proofs).
   */
  checkpoint?: () => Promise<SignedCheckpoint | null>;
  /** The station's checkpoint verifier key string, written into each copy. */
  verifierKey?: string | null;
  /**
   * Folders every destination must resolve inside (config.archive.destinationRoots;
   * symlinks resolved, none allowed below a root). Empty or absent: no such limit (the
   * CLI without destinationRoots); the API never builds the service without roots.
   */
  destinationRoots?: readonly string[];
  /** Called after export.created was appended (e.g. to sign a checkpoint covering it). */
  afterExport?: () => Promise<void>;
  now?: () => Date;
}

export interface ExportRequest {
  /** Case id or number. */
  caseRef: string;
  destinations: string[];
  maker: string;
  actor: string;
  /**
   * The exporter's grant (issue 14: an archival export is an access). Only the case's
   * items that it names are exported, and each one is registered in the ledger
   * (`access.exported`) before anything is written. authorizeExport finds it.
   */
  access: ExportAccess;
  iso?: boolean;
  signal?: AbortSignal;
  /** The export's id (a job gives its own, so its status and the ledger name one export); default a new UUIDv7. */
  exportId?: string;
  /** Called as the copies progress (often: throttle what it does). */
  onProgress?: (copies: readonly CopyProgress[]) => void;
}

/**
 * How one copy is getting on. `verified` only once the copy, read back from its
 * destination, passed every check; `failed` with the copy's error in the result.
 */
export interface CopyProgress {
  copy: number;
  phase: 'waiting' | 'writing' | 'verifying' | 'verified' | 'failed';
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
  /** Payload files and bytes checked as read back from the destination. */
  checkedFiles: number;
  checkedBytes: number;
}

/** What authorizeExport found: the access request that lets this user export these items. */
export interface ExportAccess {
  /** The approved access request for the case. */
  requestId: string;
  /** Who approved it (user id). */
  approvedBy: string;
  /** The items the exporter may export: in their scope and named by the request. */
  evidenceIds: ReadonlySet<string>;
}

export interface CopyResult {
  copy: number;
  destination: string;
  /** The bag folder, when written. */
  dir: string | null;
  ok: boolean;
  /** SHA-256 of the copy's tagmanifest-sha256.txt (as written and as read back). */
  tagManifestSha256: string | null;
  verified: boolean;
  problems: ExportProblem[];
  error: { code: string; message: string } | null;
  warnings: string[];
  iso: { path: string; size: number; sha256: string } | null;
}

export interface ExportResult {
  ok: boolean;
  exportId: string;
  case: CaseRecord;
  items: number;
  bytes: number;
  checkpointSize: number | null;
  /** The case was protected by an unreleased hold. */
  held: boolean;
  copies: CopyResult[];
  seq: number;
}

export class ExportError extends CustodyError {}

/** The ledger excerpt a copy carries, with the checkpoint it stops at and the inclusion proofs. */
interface LedgerExcerpt {
  checkpoint: SignedCheckpoint | null;
  ledgerJsonl: string;
  proofs: ExportProofs | null;
}

const finalDirOf = (dest: string, bagName: string): string => join(dest, bagName);

export { scrub } from './export-steps.js';

function sha256File(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

/** xorriso on PATH, or null. */
export function findXorriso(): Promise<string | null> {
  return new Promise((res) => {
    execFile('xorriso', ['-version'], { timeout: 10_000 }, (err) => res(err ? null : 'xorriso'));
  });
}

export class ArchiveService {
  private readonly source: CaseSource;

  constructor(private readonly o: ArchiveServiceOptions) {
    this.source = new CaseSource(o.catalog.db);
  }

  /** The station's checkpoint verifier key the copies carry (null: none readable). */
  get verifierKey(): string | null {
    return this.o.verifierKey ?? null;
  }

  /**
   * One export: the request checked, the items chosen, the ledger excerpt (and its
   * proofs) taken, the vault objects checked, each item registered as accessed, then
   * every copy written and verified as read back, and the export recorded. Each step
   * is its own method below; the pure decisions are in export-steps.ts.
   */
  async exportCase(req: ExportRequest): Promise<ExportResult> {
    const { kase, dests, xorriso } = await this.checkRequest(req);
    const live = this.exportable(kase, req.access);
    const now = this.o.now?.() ?? new Date();
    const exportId = req.exportId ?? uuidv7({ msecs: now.getTime() });
    const excerpt = await this.ledgerExcerpt(kase, live);
    const items = this.exportItems(live);
    const bytes = items.reduce((s, i) => s + i.size, 0);
    const progress: CopyProgress[] = dests.map((_d, i) => ({ copy: i + 1, phase: 'waiting', files: 0, filesTotal: items.length, bytes: 0, bytesTotal: bytes, checkedFiles: 0, checkedBytes: 0 }));
    const report = (): void => req.onProgress?.(progress);
    report();
    await this.checkSources(items);
    this.registerAccess(req, kase, items, exportId, dests.length);

    const held = this.source.isHeld(kase.id);
    const manifestOf = (copy: number): ExportManifest => ({
      format: EXPORT_FORMAT,
      exportId,
      createdAt: now.toISOString(),
      case: { id: kase.id, number: kase.number, name: kase.name, unit: kase.unit, held },
      organization: kase.unit ?? this.o.sourceOrganization,
      maker: req.maker.trim(),
      copy,
      copies: dests.length,
      items,
    });
    const baggingDate = DateTime.fromJSDate(now).setZone(this.o.timezone).toFormat('yyyy-MM-dd');
    const vaultDev = this.o.store.kind === 'fs' ? await stat(this.o.store.location).then((s) => s.dev).catch(() => null) : null;
    const devs = new Map<number, number>();
    const copies: CopyResult[] = [];
    for (const [i, dest] of dests.entries()) {
      const copy = i + 1;
      const p = progress[i]!;
      const r = await this.writeCopy({ req, dest, given: req.destinations[i]!, copy, copies: dests.length, exportId, manifest: manifestOf(copy), excerpt, baggingDate, xorriso, vaultDev, devs, progress: p, report });
      p.phase = r.ok ? 'verified' : 'failed';
      report();
      copies.push(r);
    }

    const ok = copies.every((c) => c.ok);
    const entry = this.recordExport(req, kase, { exportId, createdAt: now.toISOString(), held, items, bytes, checkpointSize: excerpt.checkpoint?.size ?? null, ok, copies });
    await this.o.afterExport?.().catch((e: unknown) => this.o.log.error({ err: e }, 'no checkpoint after the export'));
    return { ok, exportId, case: kase, items: items.length, bytes, checkpointSize: excerpt.checkpoint?.size ?? null, held, copies, seq: entry.seq };
  }

  /**
   * The request, checked before anything is read or written: the case exists, one
   * destination per copy (resolved, symlinks too, separate, inside the roots), a maker
   * for the label, and xorriso when --iso asks for images.
   */
  private async checkRequest(req: ExportRequest): Promise<{ kase: CaseRecord; dests: string[]; xorriso: string | null }> {
    const kase = this.source.findCase(req.caseRef);
    if (!kase) throw new NotFoundError('case', req.caseRef);
    if (req.destinations.length !== this.o.copies) {
      throw new UsageError(`an export makes ${this.o.copies} copies: give ${this.o.copies} destinations (--to), got ${req.destinations.length}`);
    }
    // Resolved (symlinks too) before any check; separate folders; inside the roots.
    const dests = await resolveDestinations(req.destinations, this.o.destinationRoots ?? []);
    if (!req.maker.trim()) throw new UsageError('the maker (--maker) must be named: it goes on the label');
    const xorriso = req.iso ? await findXorriso() : null;
    if (req.iso && !xorriso) {
      throw new ExportError('EXPORT_ISO_UNAVAILABLE', '--iso needs xorriso, which is not installed (Debian/Ubuntu: apt-get install xorriso); export without --iso and burn the folders, or install it');
    }
    return { kase, dests, xorriso };
  }

  /** The case's live items that the exporter's grant names; none is EXPORT_EMPTY. */
  private exportable(kase: CaseRecord, access: ExportAccess): ReturnType<CaseSource['items']> {
    const live = this.source.items(kase.id).filter((e) => e.status === 'live' && access.evidenceIds.has(e.id));
    if (live.length === 0) throw new ExportError('EXPORT_EMPTY', `case ${kase.number} has no live items to export`);
    return live;
  }

  /**
   * The ledger: a checkpoint first (so it covers every entry exported), then the
   * excerpt of the case's and its items' history up to it, with an inclusion proof of
   * each entry. A ledger that no longer hashes to the checkpoint stops the export.
   */
  private async ledgerExcerpt(kase: CaseRecord, live: ReturnType<CaseSource['items']>): Promise<LedgerExcerpt> {
    const checkpoint = (await this.o.checkpoint?.()) ?? null;
    const ledger = ledgerOf(this.o.catalog);
    const seqs = excerptSeqs(this.source.entriesAbout([kase.id, ...live.map((e) => e.id)]), checkpoint?.size ?? null);
    const entries = excerptEntries(seqs.map((s) => ledger.get(s)));
    const ledgerJsonl = entries.map((e) => canonicalLine(e) + '\n').join('');
    let proofs: ExportProofs | null = null;
    if (checkpoint) {
      const tree = LedgerTree.build(ledger, { strict: false }).tree;
      if (tree.size < checkpoint.size || !tree.root(checkpoint.size).equals(checkpoint.root)) {
        throw new ExportError('LEDGER_INCONSISTENT', `the ledger's first ${checkpoint.size} entries no longer hash to the signed checkpoint's root: nothing exported`);
      }
      proofs = { format: PROOFS_FORMAT, treeSize: checkpoint.size, rootHash: checkpoint.root.toString('base64'), proofs: {} };
      for (const e of entries) {
        if (e.seq <= checkpoint.size) proofs.proofs[String(e.seq)] = tree.inclusionProof(e.seq - 1, checkpoint.size).map((h) => h.toString('base64'));
      }
    }
    return { checkpoint, ledgerJsonl, proofs };
  }

  /** Each item with its readable payload name and its `evidence.ingested` entry; an item without one is EXPORT_UNRECORDED. */
  private exportItems(live: ReturnType<CaseSource['items']>): ExportItem[] {
    const taken = new Set<string>();
    return live.map((e) => {
      const ingestSeq = this.source.ingestEntry(e.id);
      if (ingestSeq === null) throw new ExportError('EXPORT_UNRECORDED', `evidence ${e.id} has no evidence.ingested entry in the ledger`);
      const recordedStart = e.recordedStartCorrected ?? e.recordedStart;
      return {
        path: payloadName({ officer: e.officer, recorder: e.recorderSerial, recordedStart, sourceName: e.sourceName, evidenceId: e.id }, this.o.timezone, taken),
        evidenceId: e.id,
        sha256: e.sha256,
        size: e.size,
        mediaType: e.mediaType,
        officer: e.officer,
        recorder: e.recorderSerial,
        recordedStart,
        sourceName: e.sourceName,
        ingestSeq,
      };
    });
  }

  /** Missing (or resized) vault objects stop the export before anything is written. */
  private async checkSources(items: readonly ExportItem[]): Promise<void> {
    for (const i of items) {
      const st = await this.o.store.stat(contentKey(i.sha256));
      if (!st || st.size !== i.size) throw new ExportError('EXPORT_SOURCE_MISSING', `the vault object of ${i.evidenceId} is ${st ? `${st.size} bytes, not ${i.size}` : 'missing'}`);
    }
  }

  /**
   * Art. 13: an export is a retrieval. Each item is registered (who, under which
   * request, in which export) before a byte of it is written anywhere.
   */
  private registerAccess(req: ExportRequest, kase: CaseRecord, items: readonly ExportItem[], exportId: string, copies: number): void {
    this.o.catalog.tx(() => {
      for (const i of items) {
        ledgerOf(this.o.catalog).append({
          type: 'access.exported',
          actor: req.actor,
          subject: i.evidenceId,
          data: {
            exportId,
            caseId: kase.id,
            caseNumber: kase.number,
            request: req.access.requestId,
            approvedBy: req.access.approvedBy,
            sha256: i.sha256,
            size: i.size,
            copies,
          },
        });
      }
    });
  }

  /**
   * One copy: written into its own temp folder on its destination, published whole,
   * then read back and verified (and imaged with --iso). A failure is reported on the
   * copy, never thrown: the other copies are still made and reported.
   */
  private async writeCopy(c: {
    req: ExportRequest;
    dest: string;
    given: string;
    copy: number;
    copies: number;
    exportId: string;
    manifest: ExportManifest;
    excerpt: LedgerExcerpt;
    baggingDate: string;
    xorriso: string | null;
    vaultDev: number | null;
    devs: Map<number, number>;
    progress: CopyProgress;
    report: () => void;
  }): Promise<CopyResult> {
    const { req, dest, given, copy, exportId, excerpt } = c;
    const log = this.o.log;
    const bagName = bagNameOf(c.manifest.case.number, exportId, copy, c.copies);
    const r: CopyResult = { copy, destination: given, dir: null, ok: false, tagManifestSha256: null, verified: false, problems: [], error: null, warnings: [], iso: null };
    try {
      await mkdir(dest, { recursive: true });
      await confirmDestination(dest);
      r.warnings.push(...diskWarnings({ copy, given, dev: (await stat(dest)).dev, vaultDev: c.vaultDev, devs: c.devs }));
      const finalDir = finalDirOf(dest, bagName);
      const written = await writeCopy({
        store: this.o.store,
        manifest: c.manifest,
        ledgerJsonl: excerpt.ledgerJsonl,
        checkpointNote: excerpt.checkpoint?.note ?? null,
        verifierKey: this.o.verifierKey ?? null,
        proofs: excerpt.proofs,
        zone: this.o.timezone,
        baggingDate: c.baggingDate,
        finalDir,
        tempDir: join(dest, `.${bagName}.partial`),
        ...(req.signal ? { signal: req.signal } : {}),
        onProgress: (files, bytes) => {
          c.progress.phase = 'writing';
          c.progress.files = files;
          c.progress.bytes = bytes;
          c.report();
        },
      });
      c.progress.phase = 'verifying';
      c.report();
      r.dir = join(given, bagName);
      r.tagManifestSha256 = written.tagManifestSha256;
      // Read back from the destination: the whole bag, every checksum, the excerpt and proofs.
      const check = await verifyExport(finalDir, {
        ...(this.o.verifierKey ? { verifierKey: this.o.verifierKey } : {}),
        onFile: (_path, size) => {
          c.progress.checkedFiles++;
          c.progress.checkedBytes += size;
          c.report();
        },
      });
      const readBack = await sha256File(join(finalDir, 'tagmanifest-sha256.txt'));
      r.problems = check.problems.map((p) => ({ ...p, message: scrub(p.message) }));
      if (readBack !== written.tagManifestSha256) r.problems.push({ code: 'TAG_MANIFEST_CHANGED', path: 'tagmanifest-sha256.txt', message: 'the tag manifest read back differs from the one written' });
      r.verified = r.problems.length === 0;
      if (r.verified && c.xorriso) r.iso = await this.makeIso(c.xorriso, finalDir, dest, bagName, copy, c.copies, exportId);
      r.ok = r.verified;
      if (!r.ok) r.error = { code: 'EXPORT_COPY_INVALID', message: `copy ${copy} does not verify as read back from ${given}` };
    } catch (e) {
      r.ok = false;
      // The caller sees the code and a plain sentence; the system's own message (with
      // station paths) stays in the log.
      r.error = copyErrorOf(e, copy);
      log.error({ exportId, copy, destination: dest, err: e }, 'export copy failed');
    }
    if (r.ok) log.info({ exportId, copy, dir: finalDirOf(dest, bagName), tagManifestSha256: r.tagManifestSha256 }, 'export copy written and verified');
    else log.error({ exportId, copy, destination: dest, error: r.error, problems: r.problems.slice(0, 5) }, 'export copy failed');
    return r;
  }

  /** `export.created`: what was exported, by whom, and how each copy went. */
  private recordExport(
    req: ExportRequest,
    kase: CaseRecord,
    x: { exportId: string; createdAt: string; held: boolean; items: readonly ExportItem[]; bytes: number; checkpointSize: number | null; ok: boolean; copies: readonly CopyResult[] },
  ): LedgerEntry {
    return this.o.catalog.tx(() =>
      ledgerOf(this.o.catalog).append({
        type: 'export.created',
        actor: req.actor,
        subject: kase.id,
        data: {
          exportId: x.exportId,
          createdAt: x.createdAt,
          caseNumber: kase.number,
          caseName: kase.name,
          held: x.held,
          organization: kase.unit ?? this.o.sourceOrganization,
          maker: req.maker.trim(),
          items: x.items.map((i) => ({ evidenceId: i.evidenceId, sha256: i.sha256 })),
          bytes: x.bytes,
          checkpointSize: x.checkpointSize,
          ok: x.ok,
          copies: x.copies.map((c) => ({
            copy: c.copy,
            destination: c.destination,
            dir: c.dir === null ? null : basename(c.dir),
            ok: c.ok,
            verified: c.verified,
            tagManifestSha256: c.tagManifestSha256,
            error: c.error?.code ?? null,
            problems: c.problems.length,
            iso: c.iso ? { sha256: c.iso.sha256, size: c.iso.size } : null,
          })),
        },
      }),
    );
  }

  private async makeIso(xorriso: string, bagDir: string, dest: string, bagName: string, copy: number, copies: number, exportId: string): Promise<CopyResult['iso']> {
    const iso = join(dest, `${bagName}.iso`);
    const tmp = join(dest, `.${bagName}.iso.partial`);
    const volid = `CUSTODY_${exportId.slice(-8).toUpperCase()}_${copy}OF${copies}`;
    try {
      await new Promise<void>((res, rej) => {
        // ISO 9660 with Rock Ridge and Joliet (long Unicode names), readable on any system.
        execFile(xorriso, ['-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-V', volid, '-o', tmp, bagDir], { timeout: 3_600_000 }, (err, _o, stderr) =>
          err ? rej(new ExportWriteError('EXPORT_ISO_FAILED', `xorriso failed: ${stderr.trim() || err.message}`)) : res(),
        );
      });
      await rename(tmp, iso);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { path: iso, size: (await stat(iso)).size, sha256: await sha256File(iso) };
  }
}
