import type { Db } from '../../catalog/index.js';
import type { LedgerEntry } from '../../ledger/index.js';
import { entryFromRaw, type RawLedgerRow } from '../../ledger/index.js';
import { playbackPlan, type PlaybackPlan } from '../../ingest/index.js';
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

type ProxyStatus = 'pending' | 'ready' | 'failed';

/**
 * How an item plays (see {@link Playback}), from its playback plan (its probe record's
 * verdict) and, only when it is analysed, live and needs a proxy, its proxy's status
 * (asked lazily: most items never need it). Not yet analysed: a proxy, pending (the
 * analysis decides). Purged: nothing to play.
 */
function playbackOf(
  item: { id: string; status: 'live' | 'purged'; analysed: boolean },
  plan: PlaybackPlan,
  proxyStatus: () => ProxyStatus | undefined,
): Playback {
  if (item.status !== 'live') return { kind: plan.original ? 'original' : 'proxy', status: 'none', url: null };
  if (plan.original) return { kind: 'original', status: 'ready', url: `${API_PREFIX}/evidence/${item.id}/content` };
  if (!item.analysed) return { kind: 'proxy', status: 'pending', url: null };
  const status = proxyStatus();
  if (status === 'ready') return { kind: 'proxy', status: 'ready', url: `${API_PREFIX}/evidence/${item.id}/proxy` };
  return { kind: 'proxy', status: status ?? 'none', url: null };
}

function parseMedia(json: string | null): Record<string, unknown> | null {
  if (json === null) return null;
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return { ok: false };
  }
}

/** An SQL string literal of a text we wrote (not a request value). */
const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The SQL function that gives an analysed item's playback plan (registered on the
 * connection): 1 when the original plays, 0 when it needs a proxy, 2 when its record
 * reads as no record at all (the item counts as not analysed).
 */
const PLAN_FN = 'custody_playback_plan';
const ORIGINAL = 1;
const PROXY = 0;
const NO_RECORD = 2;

/** The playback of an item not analysed yet: the same for every such item (it has no URL). */
const unanalysed = (status: 'live' | 'purged'): string =>
  JSON.stringify(playbackOf({ id: '', status, analysed: false }, playbackPlan('video', null), () => undefined));

const PROXY_STATUS = '(SELECT p.status FROM evidence_proxies p WHERE p.evidence_id = evidence.id)';

/**
 * An item of a search answer as JSON text, built by SQLite: the same fields, in the
 * same order and of the same JSON types as the API's EvidenceSummary and Playback
 * schemas (src/api/schemas.ts, routes/evidence.ts).
 *
 * Its playback is playbackOf's, written in SQL (the test in evidence.test.ts holds the
 * two together for every outcome): an item not yet analysed plays the same whatever it
 * is; an analysed one by its plan, decided in JavaScript (playbackPlan, through
 * PLAN_FN) from what of its probe record the plan reads (playback_input, migration 021:
 * items recorded alike have the same, so a plan is decided once for them all), and,
 * when it needs a proxy, by its proxy's status. A function call returning a number per
 * item is what keeps this cheap: returning each item's playback as JSON text from
 * JavaScript doubled the search's CPU.
 */
const ITEM_JSON = `json_object(
    'id', id, 'sha256', sha256, 'size', size, 'type', media_type, 'officer', officer, 'device', recorder_serial, 'unit', unit,
    'recordedAt', recorded_at, 'recordedEnd', coalesce(recorded_end_corrected, recorded_end), 'ingestedAt', ingested_at,
    'durationMs', duration_ms, 'status', status, 'thumbnail', CASE WHEN thumbnail_sha256 IS NULL THEN json('false') ELSE json('true') END,
    'playback', CASE
      WHEN media_json IS NULL THEN CASE status WHEN 'live' THEN json(${literal(unanalysed('live'))}) ELSE json(${literal(unanalysed('purged'))}) END
      WHEN status <> 'live' THEN json_object('kind', CASE ${PLAN_FN}(media_type, coalesce(playback_input, media_json)) WHEN ${ORIGINAL} THEN 'original' ELSE 'proxy' END,
        'status', 'none', 'url', NULL)
      ELSE CASE ${PLAN_FN}(media_type, coalesce(playback_input, media_json))
        WHEN ${ORIGINAL} THEN json_object('kind', 'original', 'status', 'ready', 'url', ${literal(`${API_PREFIX}/evidence/`)} || id || '/content')
        WHEN ${NO_RECORD} THEN json(${literal(unanalysed('live'))})
        ELSE CASE ${PROXY_STATUS}
          WHEN 'ready' THEN json_object('kind', 'proxy', 'status', 'ready', 'url', ${literal(`${API_PREFIX}/evidence/`)} || id || '/proxy')
          ELSE json_object('kind', 'proxy', 'status', coalesce(${PROXY_STATUS}, 'none'), 'url', NULL) END
        END
    END)`;

/** How many playback plans a search remembers per media type, by plan input (the oldest is forgotten first). */
const PLANS = 1000;

/**
 * The SQL of a search with these filters present. Only fixed fragments, chosen by which
 * filters are present; every value is a named parameter (bound by searchJson).
 */
function searchSql(scopeUnit: string | null, f: EvidenceFilter, after: SearchPosition | null): string {
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
  // A case or a flag names few items: let SQLite drive from those (their primary
  // keys) rather than walk a time index for matches.
  const narrow = f.caseId !== undefined || f.flag !== undefined;
  if (f.caseId !== undefined) where.push('id IN (SELECT evidence_id FROM case_evidence WHERE case_id = @caseId)');
  if (f.flag !== undefined) {
    where.push(
      // flag_evidence: every item a flag names (a late dock's flag names all its files).
      `id IN (SELECT fe.evidence_id FROM flag_evidence fe JOIN flags f ON f.id = fe.flag_id WHERE f.state <> 'resolved'${f.flag === 'any' ? '' : ' AND f.rule = @flag'})`,
    );
  }
  if (scopeUnit !== null) where.push('unit = @scope');
  if (f.officer !== undefined) where.push('officer = @officer');
  if (f.device !== undefined) where.push('recorder_serial = @device');
  if (f.unit !== undefined) where.push('unit = @unit');
  if (f.type !== undefined) where.push('media_type = @type');
  if (f.from !== undefined) where.push(`${col} >= @from`);
  if (f.to !== undefined) where.push(`${col} < @to`);
  // The first term bounds the index range; the second breaks ties on id.
  if (after) where.push(`${col} <= @ct AND (${col} < @ct OR id < @cid)`);
  return `SELECT ${ITEM_JSON} FROM evidence ${narrow ? '' : `INDEXED BY ${index}`}
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${col} DESC, id DESC LIMIT @limit`;
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
  /** The search statements, by which filters they have (a few dozen at most). */
  private readonly searches = new Map<string, ReturnType<Db['prepare']>>();
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
    this.stmtProxy = db.prepare<[string], { status: ProxyStatus }>('SELECT status FROM evidence_proxies WHERE evidence_id = ?');
    // Called by SQLite while the search statement runs: it must not use the connection.
    const plans = new Map<string, Map<string, number>>();
    db.function(PLAN_FN, (mediaType, planInput) => {
      let byInput = plans.get(mediaType as string);
      if (!byInput) plans.set(mediaType as string, (byInput = new Map()));
      let verdict = byInput.get(planInput as string);
      if (verdict === undefined) {
        const media = parseMedia(planInput as string);
        verdict = media === null ? NO_RECORD : playbackPlan(mediaType as 'video' | 'audio' | 'photo', media).original ? ORIGINAL : PROXY;
        if (byInput.size >= PLANS) byInput.delete(byInput.keys().next().value!);
        byInput.set(planInput as string, verdict);
      }
      return verdict;
    });
  }

  /**
   * How an item plays (see {@link Playback}): from its probe record and its proxy's row.
   * Not yet analysed: a proxy, pending (the analysis decides). Purged: nothing to play.
   */
  playback(item: { id: string; mediaType: 'video' | 'audio' | 'photo'; media: Readonly<Record<string, unknown>> | null; status: 'live' | 'purged' }): Playback {
    return playbackOf({ id: item.id, status: item.status, analysed: item.media !== null }, playbackPlan(item.mediaType, item.media), () => this.stmtProxy.get(item.id)?.status);
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
    return this.searchJson(scopeUnit, f, after, limit).map((j) => JSON.parse(j) as EvidenceSummary);
  }

  /**
   * The same page as {@link search}, each item as its JSON text, ready to be sent.
   *
   * SQLite builds each item's JSON (ITEM_JSON), so a page is one string per item rather
   * than fifteen values per item turned into JavaScript strings, mapped into objects
   * and serialised again: that was most of a search request's CPU (docs/benchmarks.md).
   */
  searchJson(scopeUnit: string | null, f: EvidenceFilter, after: SearchPosition | null, limit: number): string[] {
    const params: Record<string, string | number> = { limit };
    if (f.caseId !== undefined) params.caseId = f.caseId;
    if (f.flag !== undefined && f.flag !== 'any') params.flag = f.flag;
    if (scopeUnit !== null) params.scope = scopeUnit;
    if (f.officer !== undefined) params.officer = f.officer;
    if (f.device !== undefined) params.device = f.device;
    if (f.unit !== undefined) params.unit = f.unit;
    if (f.type !== undefined) params.type = f.type;
    if (f.from !== undefined) params.from = f.from;
    if (f.to !== undefined) params.to = f.to;
    if (after) {
      params.ct = after.t;
      params.cid = after.id;
    }
    // Which filters are present (not their values) decides the statement.
    const shape = `${f.time}|${f.flag === 'any' ? 'any' : ''}|${Object.keys(params).join(',')}`;
    let stmt = this.searches.get(shape);
    if (!stmt) {
      stmt = this.db.prepare(searchSql(scopeUnit, f, after)).pluck(true);
      this.searches.set(shape, stmt);
    }
    return stmt.all(params) as string[];
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

}
