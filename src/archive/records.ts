import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, NotFoundError } from '../core/index.js';
import { ledgerOf, type LedgerEntry } from '../ledger/index.js';
import { parseCheckpoint, readCheckpointNote, splitNote } from '../proof/index.js';
import type { ObjectStore } from '../vault/index.js';
import type { ExportReport } from './verify.js';

/**
 * What the station recorded about its archival exports, read from the ledger (the
 * `export.created` entry is the record; the job table only says how a run went): the
 * data of each copy's disc label and of the handover sheet (Att. 1 Art. 12: making
 * unit, maker, time, case name and number), and the checks of copies re-mounted later
 * (`export.verified`).
 */

export interface ExportCopyRecord {
  copy: number;
  copies: number;
  destination: string;
  /** The copy's folder name on its destination, when it was written. */
  dir: string | null;
  ok: boolean;
  verified: boolean;
  tagManifestSha256: string | null;
  error: string | null;
}

export interface ExportVerificationRecord {
  seq: number;
  time: string;
  actor: string;
  copy: number | null;
  ok: boolean;
  /** The checked copy's tag manifest is the one recorded for that copy at export. */
  matches: boolean;
  tagManifestSha256: string | null;
  problems: number;
  codes: string[];
  key: 'given' | 'bag' | null;
  via: 'cli' | 'api';
}

export interface ExportRecord {
  exportId: string;
  caseId: string;
  caseNumber: string;
  caseName: string;
  /** 制作单位: the case's unit, else archive.sourceOrganization. */
  organization: string;
  /** 制作人 */
  maker: string;
  /** 制作时间: when the copies were made (the time on the copies' own labels). */
  createdAt: string;
  /** Who ran the export (actor). */
  actor: string;
  items: number;
  bytes: number;
  held: boolean;
  ok: boolean;
  /** The signed checkpoint the copies carry, with its root; null when they carry none. */
  checkpoint: { size: number; root: string | null; origin: string | null } | null;
  copies: ExportCopyRecord[];
  /** seq of export.created */
  seq: number;
  recordedAt: string;
  verifications: ExportVerificationRecord[];
}

export class ExportRecordError extends CustodyError {}

interface CreatedData {
  exportId: string;
  caseNumber: string;
  caseName: string;
  organization: string;
  maker: string;
  held: boolean;
  items: unknown[];
  bytes: number;
  checkpointSize: number | null;
  ok: boolean;
  createdAt?: string;
  copies: Array<{ copy: number; destination: string; dir: string | null; ok: boolean; verified: boolean; tagManifestSha256: string | null; error: string | null }>;
}

/** SHA-256 of a copy's tagmanifest-sha256.txt: what identifies the copy's whole content. */
export async function tagManifestDigest(dir: string): Promise<string | null> {
  try {
    return createHash('sha256').update(await readFile(join(dir, 'tagmanifest-sha256.txt'))).digest('hex');
  } catch {
    return null;
  }
}

export class ExportRecords {
  private readonly byExport;
  private readonly byCase;
  private readonly verificationsOf;

  constructor(
    private readonly catalog: Catalog,
    private readonly store: ObjectStore,
  ) {
    const db = catalog.db;
    this.byExport = db.prepare<[string], { seq: number }>(`SELECT seq FROM ledger WHERE type = 'export.created' AND json_extract(data, '$.exportId') = ? ORDER BY seq LIMIT 1`);
    this.byCase = db.prepare<[string], { seq: number }>(`SELECT seq FROM ledger WHERE subject = ? AND type = 'export.created' ORDER BY seq DESC`);
    this.verificationsOf = db.prepare<[string, string], { seq: number }>(
      `SELECT seq FROM ledger WHERE subject = ? AND type = 'export.verified' AND json_extract(data, '$.exportId') = ? ORDER BY seq`,
    );
  }

  /** The export's record, or null when no export.created entry has this id. */
  async get(exportId: string): Promise<ExportRecord | null> {
    const row = this.byExport.get(exportId);
    if (!row) return null;
    return this.recordOf(ledgerOf(this.catalog).get(row.seq)!);
  }

  /** Every recorded export of a case, newest first. */
  async forCase(caseId: string): Promise<ExportRecord[]> {
    const out: ExportRecord[] = [];
    for (const { seq } of this.byCase.all(caseId)) out.push(await this.recordOf(ledgerOf(this.catalog).get(seq)!));
    return out;
  }

  /**
   * Record the check of a copy re-mounted later (`custody verify-export --record`, or
   * the API): `export.verified`, about the case, naming the export and the copy, whether
   * it verified and whether its tag manifest is the one recorded for that copy. A copy
   * of another export, or a folder that is no custody copy, is refused.
   */
  async recordVerification(x: { exportId: string; report: ExportReport; tagManifestSha256: string | null; actor: string; via: 'cli' | 'api' }): Promise<LedgerEntry> {
    const rec = await this.get(x.exportId);
    if (!rec) throw new NotFoundError('export', x.exportId);
    const c = x.report.custody;
    if (!c || c.exportId !== x.exportId) {
      throw new ExportRecordError('EXPORT_COPY_MISMATCH', `the folder checked is ${c?.exportId ? `a copy of export ${c.exportId}` : 'not a custody export copy'}, not of export ${x.exportId}`);
    }
    const recorded = rec.copies.find((k) => k.copy === c.copy) ?? null;
    const matches = recorded !== null && recorded.tagManifestSha256 !== null && recorded.tagManifestSha256 === x.tagManifestSha256;
    const ok = x.report.ok && matches;
    return this.catalog.tx(() =>
      ledgerOf(this.catalog).append({
        type: 'export.verified',
        actor: x.actor,
        subject: rec.caseId,
        data: {
          exportId: x.exportId,
          caseNumber: rec.caseNumber,
          copy: c.copy,
          ok,
          matches,
          tagManifestSha256: x.tagManifestSha256,
          problems: x.report.problems.length,
          codes: [...new Set(x.report.problems.map((p) => p.code))].slice(0, 20),
          key: c.checkpoint?.key ?? null,
          via: x.via,
        },
      }),
    );
  }

  private async recordOf(e: LedgerEntry): Promise<ExportRecord> {
    const d = e.data as unknown as CreatedData;
    let checkpoint: ExportRecord['checkpoint'] = null;
    if (d.checkpointSize !== null) {
      checkpoint = { size: d.checkpointSize, root: null, origin: null };
      try {
        const note = await readCheckpointNote(this.store, d.checkpointSize);
        if (note !== null) {
          const cp = parseCheckpoint(splitNote(note).text);
          checkpoint = { size: cp.size, root: cp.root.toString('base64'), origin: cp.origin };
        }
      } catch {
        // An unreadable note: the sheet still names the size, and says the root could not be read.
      }
    }
    const verifications = this.verificationsOf.all(e.subject ?? '', d.exportId).map(({ seq }) => {
      const v = ledgerOf(this.catalog).get(seq)!;
      const vd = v.data as { copy: number | null; ok: boolean; matches: boolean; tagManifestSha256: string | null; problems: number; codes: string[]; key: 'given' | 'bag' | null; via: 'cli' | 'api' };
      return { seq, time: v.time, actor: v.actor, copy: vd.copy, ok: vd.ok, matches: vd.matches, tagManifestSha256: vd.tagManifestSha256, problems: vd.problems, codes: vd.codes, key: vd.key, via: vd.via };
    });
    return {
      exportId: d.exportId,
      caseId: e.subject ?? '',
      caseNumber: d.caseNumber,
      caseName: d.caseName,
      organization: d.organization,
      maker: d.maker,
      createdAt: d.createdAt ?? e.time,
      actor: e.actor,
      items: d.items.length,
      bytes: d.bytes,
      held: d.held,
      ok: d.ok,
      checkpoint,
      copies: d.copies.map((c) => ({
        copy: c.copy,
        copies: d.copies.length,
        destination: c.destination,
        dir: c.dir,
        ok: c.ok,
        verified: c.verified,
        tagManifestSha256: c.tagManifestSha256,
        error: c.error,
      })),
      seq: e.seq,
      recordedAt: e.time,
      verifications,
    };
  }
}
