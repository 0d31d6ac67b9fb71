import type { Db } from '../../catalog/index.js';
import type { LedgerEntry } from '../../ledger/index.js';
import { entryFromRaw, type RawLedgerRow } from '../../ledger/index.js';
import { playbackPlan } from '../../ingest/index.js';
import { API_PREFIX } from '../context.js';

export type TimeField = 'recorded' | 'ingested';

export interface EvidenceFilter {
  officer?: string | undefined;
  /** Recorder serial. */
  device?: string | undefined;
  unit?: string | undefined;
  type?: 'video' | 'audio' | 'photo' | undefined;
  /** RFC 3339 UTC (normalised), inclusive. */
  from?: string | undefined;
  /** RFC 3339 UTC (normalised), exclusive. */
  to?: string | undefined;
  time: TimeField;
  /** Only items linked to this case. */
  caseId?: string | undefined;
  /** Only items named by an unresolved flag of this rule ('any': of any rule). */
  flag?: string | undefined;
}

export interface ItemFlag {
  id: string;
  rule: string;
  state: 'open' | 'escalated' | 'resolved';
  summary: string;
  raisedAt: string;
  dueBy: string;
  resolvedAt: string | null;
}

/**
 * How the console plays an item (issue 15): the original when a browser plays it as
 * recorded, else its proxy — ready (with the URL), pending (queued or being made, or
 * the item not analysed yet), failed, or none (no proxy asked for: an item analysed
 * before proxies existed, or purged).
 */
export interface Playback {
  kind: 'original' | 'proxy';
  status: 'ready' | 'pending' | 'failed' | 'none';
  url: string | null;
}

export interface EvidenceSummary {
  id: string;
  sha256: string;
  size: number;
  type: 'video' | 'audio' | 'photo';
  officer: string | null;
  device: string;
  unit: string | null;
  recordedAt: string;
  recordedEnd: string | null;
  ingestedAt: string;
  durationMs: number | null;
  status: 'live' | 'purged';
  thumbnail: boolean;
  playback: Playback;
}

/** A position in a search: the sort time and id of the last item of a page. */
export interface SearchPosition {
  t: string;
  id: string;
}

interface SummaryRow {
  id: string;
  sha256: string;
  size: number;
  media_type: 'video' | 'audio' | 'photo';
  officer: string | null;
  recorder_serial: string;
  unit: string | null;
  recorded_at: string;
  recorded_end: string | null;
  recorded_end_corrected: string | null;
  ingested_at: string;
  duration_ms: number | null;
  status: 'live' | 'purged';
  has_thumbnail: number;
  media_json: string | null;
}

const COLUMNS = `id, sha256, size, media_type, officer, recorder_serial, unit, recorded_at, recorded_end, recorded_end_corrected,
  ingested_at, duration_ms, status, thumbnail_sha256 IS NOT NULL AS has_thumbnail, media_json`;

function parseMedia(json: string | null): Record<string, unknown> | null {
  if (json === null) return null;
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return { ok: false };
  }
}

function summary(r: SummaryRow, playback: Playback): EvidenceSummary {
  return {
    id: r.id,
    sha256: r.sha256,
    size: r.size,
    type: r.media_type,
    officer: r.officer,
    device: r.recorder_serial,
    unit: r.unit,
    recordedAt: r.recorded_at,
    recordedEnd: r.recorded_end_corrected ?? r.recorded_end,
    ingestedAt: r.ingested_at,
    durationMs: r.duration_ms,
    status: r.status,
    thumbnail: r.has_thumbnail === 1,
    playback,
  };
}

/**
 * Evidence search and the evidence's ledger history, read straight from the catalog.
 *
 * Every value from a request is bound as a parameter; the SQL text is built only
 * from fixed fragments chosen by which filters are present, so there are at most a
 * few dozen distinct statements, each prepared once.
 *
 * Index choice is explicit (INDEXED BY): the most selective equality filter leads
 * (officer, then recorder, then unit or the caller's unit scope), followed by the
 * sort time and id, so a page — first or ten-thousandth — reads about `limit` rows.
 */
export class EvidenceQueries {
  private readonly cache = new Map<string, ReturnType<Db['prepare']>>();
  private readonly stmtLedger;
  private readonly stmtAccessCount;
  private readonly stmtFlags;
  private readonly stmtProxy;
  private readonly stmtReadyProxy;

  constructor(private readonly db: Db) {
    this.stmtLedger = db.prepare<[string, number], RawLedgerRow>(
      "SELECT * FROM ledger WHERE subject = ? AND type NOT LIKE 'access.%' ORDER BY seq LIMIT ?",
    );
    this.stmtAccessCount = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM ledger WHERE subject = ? AND type LIKE 'access.%'");
    this.stmtFlags = db.prepare<[string], ItemFlag>(
      `SELECT id, rule, state, summary, raised_at AS raisedAt, due_by AS dueBy, resolved_at AS resolvedAt
         FROM flags WHERE id IN (SELECT flag_id FROM flag_evidence WHERE evidence_id = ?) ORDER BY raised_at, id`,
    );
    this.stmtReadyProxy = db.prepare<[string], { sha256: string; size: number; container: 'mp4' | 'm4a' | 'jpeg' }>(
      "SELECT proxy_sha256 AS sha256, size, container FROM evidence_proxies WHERE evidence_id = ? AND status = 'ready'",
    );
    this.stmtProxy = db.prepare<[string], { status: 'pending' | 'ready' | 'failed' }>('SELECT status FROM evidence_proxies WHERE evidence_id = ?');
  }

  /**
   * How an item plays (see {@link Playback}): from its probe record and its proxy's row.
   * Not yet analysed: a proxy, pending (the analysis decides). Purged: nothing to play.
   */
  playback(item: { id: string; mediaType: 'video' | 'audio' | 'photo'; media: Readonly<Record<string, unknown>> | null; status: 'live' | 'purged' }): Playback {
    const plan = playbackPlan(item.mediaType, item.media);
    if (item.status !== 'live') return { kind: plan.original ? 'original' : 'proxy', status: 'none', url: null };
    if (plan.original) return { kind: 'original', status: 'ready', url: `${API_PREFIX}/evidence/${item.id}/content` };
    if (item.media === null) return { kind: 'proxy', status: 'pending', url: null };
    const status = this.stmtProxy.get(item.id)?.status;
    if (status === 'ready') return { kind: 'proxy', status: 'ready', url: `${API_PREFIX}/evidence/${item.id}/proxy` };
    return { kind: 'proxy', status: status ?? 'none', url: null };
  }

  /** The item's proxy when it is ready to be served (its object, size and container). */
  readyProxy(id: string): { sha256: string; size: number; container: 'mp4' | 'm4a' | 'jpeg' } | null {
    return this.stmtReadyProxy.get(id) ?? null;
  }

  /** The compliance flags that name an item, resolved ones included. */
  flags(evidenceId: string): ItemFlag[] {
    return this.stmtFlags.all(evidenceId);
  }

  /**
   * One page, newest first. `scopeUnit` is the caller's unit (null: every unit); it is
   * ANDed with the filters, so a filter for another unit simply finds nothing.
   */
  search(scopeUnit: string | null, f: EvidenceFilter, after: SearchPosition | null, limit: number): EvidenceSummary[] {
    const col = f.time === 'recorded' ? 'recorded_at' : 'ingested_at';
    const suffix = f.time === 'recorded' ? 'time' : 'ingested';
    const index =
      f.officer !== undefined
        ? `evidence_officer_${suffix}`
        : f.device !== undefined
          ? `evidence_recorder_${suffix}`
          : f.unit !== undefined || scopeUnit !== null
            ? `evidence_unit_${suffix}`
            : suffix === 'time'
              ? 'evidence_time'
              : 'evidence_ingested';

    const where: string[] = [];
    const params: Record<string, string | number> = { limit };
    // A case or a flag names few items: let SQLite drive from those (their primary
    // keys) rather than walk a time index for matches.
    const narrow = f.caseId !== undefined || f.flag !== undefined;
    if (f.caseId !== undefined) {
      where.push('id IN (SELECT evidence_id FROM case_evidence WHERE case_id = @caseId)');
      params.caseId = f.caseId;
    }
    if (f.flag !== undefined) {
      where.push(
        // flag_evidence: every item a flag names (a late dock's flag names all its files).
        `id IN (SELECT fe.evidence_id FROM flag_evidence fe JOIN flags f ON f.id = fe.flag_id WHERE f.state <> 'resolved'${f.flag === 'any' ? '' : ' AND f.rule = @flag'})`,
      );
      if (f.flag !== 'any') params.flag = f.flag;
    }
    const eq = (column: string, name: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = @${name}`);
      params[name] = value;
    };
    eq('unit', 'scope', scopeUnit ?? undefined);
    eq('officer', 'officer', f.officer);
    eq('recorder_serial', 'device', f.device);
    eq('unit', 'unit', f.unit);
    eq('media_type', 'type', f.type);
    if (f.from !== undefined) {
      where.push(`${col} >= @from`);
      params.from = f.from;
    }
    if (f.to !== undefined) {
      where.push(`${col} < @to`);
      params.to = f.to;
    }
    if (after) {
      // The first term bounds the index range; the second breaks ties on id.
      where.push(`${col} <= @ct AND (${col} < @ct OR id < @cid)`);
      params.ct = after.t;
      params.cid = after.id;
    }
    const sql = `SELECT ${COLUMNS} FROM evidence ${narrow ? '' : `INDEXED BY ${index}`}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${col} DESC, id DESC LIMIT @limit`;
    const rows = this.prepare(sql).all(params) as SummaryRow[];
    return rows.map((r) =>
      summary(r, this.playback({ id: r.id, mediaType: r.media_type, media: parseMedia(r.media_json), status: r.status })),
    );
  }

  /** The sort key of an item for a cursor. */
  static position(item: EvidenceSummary, time: TimeField): SearchPosition {
    return { t: time === 'recorded' ? item.recordedAt : item.ingestedAt, id: item.id };
  }

  /**
   * The item's custody history: its ledger entries other than access.* (ingested,
   * analysed, wiped, purged, …), oldest first, and how many access.* entries exist.
   */
  history(id: string, limit = 200): { entries: LedgerEntry[]; accessEntries: number } {
    return {
      entries: this.stmtLedger.all(id, limit).map(entryFromRaw),
      accessEntries: this.stmtAccessCount.get(id)!.n,
    };
  }

  private prepare(sql: string): ReturnType<Db['prepare']> {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
}
