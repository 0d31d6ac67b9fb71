import { randomBytes } from 'node:crypto';
import { sep } from 'node:path';
import type { Db } from '../catalog/index.js';
import { SHA256_HEX } from '../core/index.js';
import { CONTENT_PREFIX, contentKey } from '../vault/index.js';
import type { VerifyProblem } from './verify.js';

/**
 * The objects the ledger references, as verify reads them: the same queries and the
 * same judgement whether the objects are stat-ed through the store (verify.ts) or on
 * the fs store's files by a worker thread (./objects-worker.ts).
 *
 * `evidence.ingested` entries reference data.sha256 with data.size; `evidence.purged`
 * with data.sha256 releases one such reference. An object with live references must
 * exist with the recorded size (and hash, when deep); an object whose references were
 * all purged is reported purged, and may or may not still be present.
 */

export interface RefRow {
  sha256: string | null;
  first_seq: number;
  ingests: number;
  purges: number;
  purged_seq: number | null;
  size_min: number | null;
  size_max: number | null;
}

const PAGE = 2000;

/**
 * The ledger's references, read once: every `evidence.ingested` and `evidence.purged`
 * entry's seq, type and the JSON facts about its data.sha256 and data.size, in a
 * temporary table (each entry's data parsed by SQLite once, not once per question),
 * then grouped by object in another, in order of first reference. SQLite's sorter and
 * temporary tables spill to disk, so a ledger of millions of objects does not become
 * a JavaScript Map — on a read-only connection (scratchConnection, or a worker's own):
 * a writing connection keeps its temporary storage in memory. Ask {@link ReferenceTable.invalid} first, then read
 * {@link ReferenceTable.page} until it is empty; {@link ReferenceTable.drop} when done.
 */
export class ReferenceTable {
  private readonly entries: string;
  private readonly objects: string;
  private readonly stmt;
  private after = 0;
  /** Objects with at least one ingest (the ones checked). */
  readonly total: number;

  constructor(private readonly db: Db) {
    const id = randomBytes(6).toString('hex');
    this.entries = `temp.verify_ref_entries_${id}`;
    this.objects = `temp.verify_refs_${id}`;
    try {
      // A column's JSON facts only where the column is JSON (json_type of anything else is an error).
      db.exec(`
        CREATE TABLE ${this.entries} AS
        SELECT seq, type, json_valid(data) AS valid,
               CASE WHEN json_valid(data) THEN json_type(data, '$.sha256') END AS sha256_type,
               CASE WHEN json_valid(data) THEN json_extract(data, '$.sha256') END AS sha256,
               CASE WHEN json_valid(data) THEN json_type(data, '$.size') END AS size_type,
               CASE WHEN json_valid(data) THEN json_extract(data, '$.size') END AS size
          FROM ledger
         WHERE type IN ('evidence.ingested', 'evidence.purged')
         ORDER BY seq`);
      db.exec(`
        CREATE TABLE ${this.objects} AS
        SELECT sha256,
               min(seq) AS first_seq,
               sum(type = 'evidence.ingested') AS ingests,
               sum(type = 'evidence.purged') AS purges,
               max(CASE WHEN type = 'evidence.purged' THEN seq END) AS purged_seq,
               min(CASE WHEN type = 'evidence.ingested' AND size_type = 'integer' THEN size END) AS size_min,
               max(CASE WHEN type = 'evidence.ingested' AND size_type = 'integer' THEN size END) AS size_max
          FROM ${this.entries}
         WHERE valid AND sha256_type = 'text'
         GROUP BY 1
         ORDER BY 2`);
      this.total = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${this.objects} WHERE ingests > 0`).get()!.n;
      this.stmt = db.prepare<[number, number], RefRow & { rowid: number }>(`SELECT rowid, * FROM ${this.objects} WHERE rowid > ? AND ingests > 0 ORDER BY rowid LIMIT ?`);
    } catch (e) {
      this.drop();
      throw e;
    }
  }

  /**
   * REFERENCE_INVALID for every `evidence.ingested` entry without a valid data.sha256
   * (64 lowercase hex digits) and data.size, in seq order.
   */
  invalid(add: (p: VerifyProblem) => void): void {
    const bad = this.db.prepare<[number, number], { rowid: number; seq: number }>(
      `SELECT rowid, seq FROM ${this.entries}
        WHERE rowid > ? AND type = 'evidence.ingested'
          AND NOT coalesce(valid AND sha256_type = 'text' AND length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*' AND size_type = 'integer' AND size >= 0, 0)
        ORDER BY rowid LIMIT ?`,
    );
    for (let after = 0; ; ) {
      const rows = bad.all(after, PAGE);
      for (const r of rows) {
        add({ code: 'REFERENCE_INVALID', seq: r.seq, message: `entry ${r.seq} (evidence.ingested) lacks a valid data.sha256 and data.size` });
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.rowid;
    }
  }

  /** The next objects (empty once all are read). */
  page(size = 500): RefRow[] {
    const rows = this.stmt.all(this.after, size);
    if (rows.length > 0) this.after = rows[rows.length - 1]!.rowid;
    return rows;
  }

  drop(): void {
    this.db.exec(`DROP TABLE IF EXISTS ${this.objects}; DROP TABLE IF EXISTS ${this.entries}`);
  }
}

/** What a stat of an object gave: its size, null when it is not in the vault, or why it could not be stat-ed. */
export type StatOutcome = { size: number | null } | { error: string };

/** A reference as judged before its object is looked at. */
export interface ReferencePlan {
  problems: VerifyProblem[];
  purged: boolean;
  /** The object to stat (null: nothing to look at). */
  key: string | null;
}

export function planReference(r: RefRow): ReferencePlan {
  if (r.sha256 === null || !SHA256_HEX.test(r.sha256)) {
    // Reported per entry by REFERENCE_INVALID (or a purge naming no valid object).
    return { problems: [], purged: false, key: null };
  }
  const key = contentKey(r.sha256);
  const problems: VerifyProblem[] = [];
  if (r.size_min !== r.size_max) {
    problems.push({ code: 'REFERENCE_CONFLICT', seq: r.first_seq, key, message: `entries record different sizes (${r.size_min} and ${r.size_max}) for ${key}` });
  }
  if (r.purges >= r.ingests) {
    // Every reference released: the object may be gone, and if still present it is fine.
    return { problems, purged: true, key: null };
  }
  return { problems, purged: false, key };
}

/**
 * Judge a referenced object's stat, adding its problems to the plan's; true when the
 * object is present with the recorded size (so deep may go on to hash it).
 */
export function judgeStat(r: RefRow, key: string, stat: StatOutcome, problems: VerifyProblem[]): boolean {
  const seq = r.first_seq;
  if ('error' in stat) {
    problems.push({ code: 'OBJECT_UNREADABLE', seq, key, message: `cannot check ${key}: ${stat.error}` });
    return false;
  }
  if (stat.size === null) {
    const after = r.purged_seq !== null ? ` (a purge at ${r.purged_seq} released only one of its ${r.ingests} references)` : '';
    problems.push({ code: 'OBJECT_MISSING', seq, key, message: `object ${key}, ingested at entry ${seq}, is not in the vault${after}` });
    return false;
  }
  // With conflicting sizes there is no one size to compare (the conflict is reported).
  const size = r.size_min !== r.size_max ? null : r.size_max;
  if (size !== null && stat.size !== size) {
    problems.push({ code: 'OBJECT_SIZE_MISMATCH', seq, key, message: `object ${key} has ${stat.size} bytes; entry ${seq} recorded ${size}` });
    return false;
  }
  return true;
}

/**
 * The file of a content object in the fs store, given the folder of `objects/sha256`
 * (FsObjectStore.filePath of it): a content key's further parts are folders there, as
 * the store lays them out (a test holds this to FsObjectStore.filePath). Put together
 * with the separator rather than path.join: the parts are hex, nothing to normalise.
 */
export function contentFile(contentDir: string, key: string): string {
  return contentDir + sep + key.slice(CONTENT_PREFIX.length).replaceAll('/', sep);
}

/** What an objects worker is given (./objects-worker.ts). */
export interface ObjectsWorkerData {
  /** The catalog database file, opened read-only by the worker. */
  file: string;
  /** The fs store's folder of `objects/sha256` (see contentFile). */
  contentDir: string;
  maxProblems: number;
}

/** What the objects check found: REFERENCE_INVALID by seq, then the objects' problems by first reference. */
export interface ObjectsResult {
  objects: number;
  purged: number;
  problems: VerifyProblem[];
  omitted: number;
}

/** What an objects worker posts: the number of objects to check, objects checked so far after each page, then its result. */
export type ObjectsWorkerMessage = { total: number } | { done: number } | { result: ObjectsResult };
