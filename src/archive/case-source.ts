import type { Db } from '../catalog/index.js';
import { EvidenceRepo, type Evidence } from '../catalog/index.js';
import { CustodyError } from '../core/index.js';

/** A case as the export reads it (table `cases`, migration 006). */
export interface CaseRecord {
  id: string;
  number: string;
  name: string;
  unit: string | null;
  createdAt: string;
  createdBy: string;
}

interface CaseRow {
  id: string;
  number: string;
  name: string;
  unit: string | null;
  created_at: string;
  created_by: string;
}

function recordOf(r: CaseRow): CaseRecord {
  return { id: r.id, number: r.number, name: r.name, unit: r.unit, createdAt: r.created_at, createdBy: r.created_by };
}

/**
 * The catalog reads an export needs: the case, its items, and the seqs of the ledger
 * entries about them. Read-only; every statement prepared once.
 */
export class CaseSource {
  private readonly evidence: EvidenceRepo;
  private readonly byId;
  private readonly byNumber;
  private readonly links;
  private readonly ingestSeq;
  private readonly subjectSeqs;
  private readonly activeHold;

  constructor(db: Db) {
    this.evidence = new EvidenceRepo(db);
    this.byId = db.prepare<[string], CaseRow>('SELECT id, number, name, unit, created_at, created_by FROM cases WHERE id = ?');
    this.byNumber = db.prepare<[string], CaseRow>('SELECT id, number, name, unit, created_at, created_by FROM cases WHERE number = ? ORDER BY unit, id');
    this.links = db.prepare<[string], { evidence_id: string }>('SELECT evidence_id FROM case_evidence WHERE case_id = ? ORDER BY evidence_id');
    this.ingestSeq = db.prepare<[string], { seq: number }>("SELECT seq FROM ledger WHERE subject = ? AND type = 'evidence.ingested' ORDER BY seq LIMIT 1");
    this.subjectSeqs = db.prepare<[string], { seq: number }>('SELECT seq FROM ledger WHERE subject = ? ORDER BY seq');
    this.activeHold = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM holds WHERE case_id = ? AND released_at IS NULL LIMIT 1');
  }

  /**
   * A case by its id or, failing that, by its number among the cases a caller of
   * `scope` sees (null: the whole bureau; a unit: that unit's only). The caller checks
   * the scope of a case found by id (so that a probe is answered, and recorded, as
   * such). Case numbers are unique per unit (migration 012): a number that several
   * visible units use names no case, and the error says which units and their ids.
   */
  findCase(idOrNumber: string, scope: string | null = null): CaseRecord | null {
    const r = this.byId.get(idOrNumber);
    if (r) return recordOf(r);
    const found = this.byNumber.all(idOrNumber).filter((c) => scope === null || c.unit === scope);
    if (found.length > 1) {
      const which = found.map((c) => `${c.unit ?? 'bureau-wide'}: ${c.id}`).join(', ');
      throw new CustodyError('CASE_NUMBER_AMBIGUOUS', `case number ${idOrNumber} is used in more than one unit (${which}): name the case by its id`, {
        details: { number: idOrNumber, cases: found.map((c) => ({ id: c.id, unit: c.unit })) },
      });
    }
    return found[0] ? recordOf(found[0]) : null;
  }

  /** The unit of an evidence item (undefined: no such item). */
  unitOf(evidenceId: string): string | null | undefined {
    const e = this.evidence.get(evidenceId);
    return e ? e.unit : undefined;
  }

  /** Is the case protected (an unreleased hold, Art. 12)? */
  isHeld(caseId: string): boolean {
    return this.activeHold.get(caseId) !== undefined;
  }

  /** The case's items, in recorded-time order. */
  items(caseId: string): Evidence[] {
    const out: Evidence[] = [];
    for (const { evidence_id } of this.links.all(caseId)) {
      const e = this.evidence.get(evidence_id);
      if (e) out.push(e);
    }
    return out.sort((a, b) => (a.recordedStart < b.recordedStart ? -1 : a.recordedStart > b.recordedStart ? 1 : a.id < b.id ? -1 : 1));
  }

  /** seq of the evidence.ingested entry of an item. */
  ingestEntry(evidenceId: string): number | null {
    return this.ingestSeq.get(evidenceId)?.seq ?? null;
  }

  /** seqs of every ledger entry whose subject is one of `subjects`, ascending. */
  entriesAbout(subjects: readonly string[]): number[] {
    const seqs = new Set<number>();
    for (const s of subjects) for (const { seq } of this.subjectSeqs.all(s)) seqs.add(seq);
    return [...seqs].sort((a, b) => a - b);
  }
}
