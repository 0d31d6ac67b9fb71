import type { Catalog } from '../catalog/index.js';
import { ledgerOf } from './ledger.js';
import type { Db } from '../catalog/index.js';
import { LedgerError, errorMessage } from '../core/index.js';
import { SHA256_HEX } from '../core/index.js';
import type { Logger } from '../core/index.js';
import { rfc3339 } from '../core/index.js';
import { canonicalJson, canonicalLine, type LedgerEntry } from './ledger.js';
import {
  CatalogRowWindow,
  ChainCursor,
  SEGMENT_PREFIX,
  SegmentReader,
  parseEntryLine,
  parseSegmentKey,
  rawCanonicalLine,
  recordSegment,
  type SealedSegment,
} from './segments.js';
import type { ObjectStore } from '../vault/index.js';
import type { VerifyProblem } from './verify.js';

export interface RebuildOptions {
  catalog: Catalog;
  store: ObjectStore;
  log?: Logger;
  /** Also rebuild `evidence` and `recorders` rows from the entries (default true; only into empty tables). */
  evidence?: boolean;
  onProgress?: (p: { pass: 'check' | 'insert' | 'compare'; segments: number; entries: number }) => void;
}

export interface RebuildResult {
  /** rebuilt: the catalog ledger was empty and now holds the sealed entries; compared: it was not, and was only read. */
  mode: 'rebuilt' | 'compared';
  ok: boolean;
  /** Sealed entries inserted (rebuilt) or compared. */
  entries: number;
  segments: number;
  /** The first problem found; rebuild stops there. */
  problems: VerifyProblem[];
  evidence: { rebuilt: number; skipped: number; reason?: string };
}

export interface ScanVisitor {
  entry?(e: LedgerEntry, seg: { key: string }): VerifyProblem | null;
  segmentDone?(seg: SealedSegment): void;
}

/**
 * Walk the segment objects in seq order, checking as it goes that the keys are
 * well-formed and contiguous from 1, that each line is the canonical line of an
 * entry, that the entry's range matches its key, and that the chain holds. Stops at
 * the first problem. Reads each object once, a line at a time.
 */
export async function scanSegments(
  store: ObjectStore,
  visit: ScanVisitor,
  progress: (segments: number, entries: number) => void,
): Promise<{ problem: VerifyProblem | null; segments: number; entries: number }> {
  const cursor = new ChainCursor();
  let segments = 0;
  let entries = 0;
  for await (const obj of store.list(SEGMENT_PREFIX)) {
    const range = parseSegmentKey(obj.key);
    if (!range) {
      return { problem: { code: 'SEGMENT_BAD_KEY', key: obj.key, message: `${obj.key} is under ${SEGMENT_PREFIX} but is not a segment key` }, segments, entries };
    }
    if (range.firstSeq !== cursor.expectSeq) {
      const message =
        range.firstSeq > cursor.expectSeq
          ? `no segment holds entries ${cursor.expectSeq}..${range.firstSeq - 1} (next segment is ${obj.key})`
          : `segment ${obj.key} overlaps the one before it (which ends at ${cursor.expectSeq - 1})`;
      return { problem: { code: 'SEGMENT_RANGE', seq: cursor.expectSeq, key: obj.key, message }, segments, entries };
    }
    const reader = new SegmentReader(await store.get(obj.key));
    try {
      for await (const line of reader.lines()) {
        const seq = cursor.expectSeq;
        if (seq > range.lastSeq) {
          return { problem: { code: 'SEGMENT_LINE_MISMATCH', seq, key: obj.key, message: `segment ${obj.key} has lines past entry ${range.lastSeq}` }, segments, entries };
        }
        if (!line.terminated) {
          return { problem: { code: 'SEGMENT_TRUNCATED', seq, key: obj.key, message: `segment ${obj.key} ends inside the line of entry ${seq}` }, segments, entries };
        }
        let e: LedgerEntry;
        try {
          e = parseEntryLine(line.text);
        } catch (err) {
          return { problem: { code: 'SEGMENT_BAD_LINE', seq, key: obj.key, message: `line for entry ${seq} in ${obj.key}: ${errorMessage(err)}` }, segments, entries };
        }
        const broken = cursor.check(e);
        if (broken) return { problem: { code: broken.code, seq, key: obj.key, message: `${broken.message} (in ${obj.key})` }, segments, entries };
        const p = visit.entry?.(e, obj) ?? null;
        if (p) return { problem: p, segments, entries };
        cursor.advance(e);
        entries++;
      }
    } catch (err) {
      return { problem: { code: 'SEGMENT_UNREADABLE', seq: cursor.expectSeq, key: obj.key, message: `cannot read ${obj.key}: ${errorMessage(err)}` }, segments, entries };
    }
    if (cursor.expectSeq !== range.lastSeq + 1) {
      return {
        problem: { code: 'SEGMENT_TRUNCATED', seq: cursor.expectSeq, key: obj.key, message: `segment ${obj.key} ends before entry ${cursor.expectSeq} (it should run to ${range.lastSeq})` },
        segments,
        entries,
      };
    }
    segments++;
    visit.segmentDone?.({ firstSeq: range.firstSeq, lastSeq: range.lastSeq, key: obj.key, sha256: reader.sha256, size: reader.size, sealedAt: '' });
    progress(segments, entries);
  }
  return { problem: null, segments, entries };
}

/**
 * Rebuild the catalog's ledger from the sealed segment objects alone (after the
 * catalog was lost), or, when the catalog's ledger is not empty, compare the two and
 * report the first difference. It never overwrites or deletes a catalog entry.
 *
 * A rebuild first checks every segment, and inserts nothing unless all of them hold
 * one unbroken chain; then it inserts segment by segment, each in one transaction
 * with its `ledger_segments` row (sealed_at is the time of the rebuild: the original
 * sealing time is not part of the segment).
 *
 * Entries after the last sealed segment were only in the lost catalog; they cannot
 * be recovered from the vault.
 */
export async function rebuildLedger(opts: RebuildOptions): Promise<RebuildResult> {
  const { catalog, store } = opts;
  const db = catalog.db;
  const onProgress = opts.onProgress ?? (() => undefined);
  const ledgerRows = ledgerOf(catalog).count();
  const segmentRows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM ledger_segments').get()!.n;

  if (ledgerRows > 0) {
    const window = new CatalogRowWindow(db);
    const scan = await scanSegments(
      store,
      {
        entry(e, seg) {
          const row = window.get(e.seq);
          if (!row) return { code: 'REBUILD_CATALOG_MISSING', seq: e.seq, key: seg.key, message: `the catalog ledger has no entry ${e.seq}, which ${seg.key} holds` };
          if (rawCanonicalLine(row) !== canonicalLine(e)) {
            return { code: 'REBUILD_DIFFERS', seq: e.seq, key: seg.key, message: `entry ${e.seq} in the catalog differs from its sealed copy in ${seg.key}` };
          }
          return null;
        },
      },
      (segments, entries) => onProgress({ pass: 'compare', segments, entries }),
    );
    return {
      mode: 'compared',
      ok: scan.problem === null,
      entries: scan.entries,
      segments: scan.segments,
      problems: scan.problem ? [scan.problem] : [],
      evidence: { rebuilt: 0, skipped: 0, reason: 'the catalog ledger is not empty; nothing was written' },
    };
  }
  if (segmentRows > 0) {
    throw new LedgerError('LEDGER_REBUILD_CONFLICT', `the catalog ledger is empty but records ${segmentRows} sealed segments; refusing to rebuild into it`);
  }

  const check = await scanSegments(store, {}, (segments, entries) => onProgress({ pass: 'check', segments, entries }));
  if (check.problem) {
    return { mode: 'rebuilt', ok: false, entries: 0, segments: 0, problems: [check.problem], evidence: { rebuilt: 0, skipped: 0, reason: 'nothing inserted' } };
  }

  const evidenceEmpty = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM evidence').get()!.n === 0;
  const evidence = opts.evidence !== false && evidenceEmpty ? new EvidenceRebuilder(db) : null;
  const insert = db.prepare('INSERT INTO ledger (seq, time, type, actor, subject, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  let batch: LedgerEntry[] = [];
  const done = await scanSegments(
    store,
    {
      entry(e) {
        batch.push(e);
        return null;
      },
      segmentDone(seg) {
        const entries = batch;
        batch = [];
        // One transaction per segment: its entries, the derived rows and its segment row.
        catalog.tx(() => {
          for (const e of entries) {
            insert.run(e.seq, e.time, e.type, e.actor, e.subject, canonicalJson(e.data), e.prev, e.hash);
            evidence?.apply(e);
          }
          recordSegment(db, { ...seg, sealedAt: rfc3339(catalog.clock.now()) });
        });
      },
    },
    (segments, entries) => onProgress({ pass: 'insert', segments, entries }),
  );
  if (done.problem) {
    // Only possible if the vault changed between the two passes.
    opts.log?.error({ problem: done.problem }, 'ledger rebuild stopped part-way: the segments changed during the rebuild');
  }
  if (evidence && evidence.skipped > 0) {
    opts.log?.warn({ skipped: evidence.skipped }, 'some evidence.ingested entries lacked the fields of an evidence row and were not rebuilt');
  }
  return {
    mode: 'rebuilt',
    ok: done.problem === null,
    entries: done.entries,
    segments: done.segments,
    problems: done.problem ? [done.problem] : [],
    evidence: evidence
      ? { rebuilt: evidence.rebuilt, skipped: evidence.skipped }
      : { rebuilt: 0, skipped: 0, reason: opts.evidence === false ? 'not asked for' : 'the evidence table is not empty' },
  };
}

const MEDIA_TYPES = new Set(['video', 'audio', 'photo']);
const RECORDED_SOURCES = new Set(['metadata', 'filename', 'mtime']);

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function optStr(v: unknown): string | null | undefined {
  return v === undefined || v === null ? null : typeof v === 'string' ? v : undefined;
}

function optInt(v: unknown): number | null | undefined {
  return v === undefined || v === null ? null : Number.isSafeInteger(v) ? (v as number) : undefined;
}

/**
 * Rebuilds `recorders` and `evidence` rows from the ledger, the only record that
 * survives a lost catalog. It uses the fields ingest writes into `evidence.ingested`
 * (subject = evidence id; data: sha256, size, mediaType, recorder {serial, model},
 * officer, unit, sourcePath, sourceName, sourceMtime, recordedStart/End,
 * recordedSource, clockDriftMs, recordedStart/EndCorrected, ingestedAt, sessionId),
 * `evidence.wiped` (sets wiped_at) and `evidence.purged` (sets status). What the
 * ledger does not carry (duration, media details, thumbnail) stays empty; an entry
 * lacking a required field is counted as skipped, never guessed.
 *
 * Cases, links, holds and purge announcements (issue 7) are replayed too: a catalog
 * rebuilt without its holds would let the purge take protected footage. So are the
 * browser-playable proxies (`evidence.proxied`, issue 15): the purge and `verify` follow
 * them, and the console plays them.
 */
export class EvidenceRebuilder {
  rebuilt = 0;
  skipped = 0;
  private readonly q;

  constructor(db: Db) {
    this.q = {
      recorder: db.prepare(
        `INSERT INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES (@serial, @model, @officer, @unit, @time, @time)
         ON CONFLICT(serial) DO UPDATE SET model = coalesce(excluded.model, model), officer = coalesce(excluded.officer, officer),
           unit = coalesce(excluded.unit, unit), last_seen = excluded.last_seen`,
      ),
      evidence: db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name,
        source_mtime_ms, recorded_start, recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected,
        ingested_at, session_id)
        VALUES (@id, @sha256, @size, @mediaType, @serial, @officer, @unit, @sourcePath, @sourceName,
        @sourceMtimeMs, @recordedStart, @recordedEnd, @recordedSource, @clockDriftMs, @recordedStartCorrected, @recordedEndCorrected,
        @ingestedAt, @sessionId)`),
      wiped: db.prepare('UPDATE evidence SET wiped_at = ? WHERE id = ?'),
      purged: db.prepare("UPDATE evidence SET status = 'purged', purged_at = ?, purge_run_id = ? WHERE id = ?"),
      caseCreated: db.prepare('INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)'),
      caseLinked: db.prepare('INSERT OR IGNORE INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, ?, ?)'),
      holdPlaced: db.prepare('INSERT INTO holds (id, case_id, reason, reason_text, placed_at, placed_by) VALUES (?, ?, ?, ?, ?, ?)'),
      holdRequested: db.prepare('UPDATE holds SET release_requested_at = ?, release_requested_by = ?, release_reason = ? WHERE id = ?'),
      holdReleased: db.prepare('UPDATE holds SET released_at = ?, released_by = ? WHERE id = ?'),
      announced: db.prepare('UPDATE evidence SET purge_announced_at = ?, purge_due_at = ? WHERE id = ?'),
      unannounced: db.prepare('UPDATE evidence SET purge_announced_at = NULL, purge_due_at = NULL WHERE id = ?'),
      proxied: db.prepare(`INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container,
          video_codec, audio_codec, width, height, duration_ms, created_at, updated_at)
        VALUES (@id, @source, @kind, 'ready', @reason, @sha256, @size, @container, @videoCodec, @audioCodec, @width, @height, @durationMs, @time, @time)
        ON CONFLICT (evidence_id) DO UPDATE SET source_sha256 = excluded.source_sha256, kind = excluded.kind, status = 'ready', reason = excluded.reason,
          proxy_sha256 = excluded.proxy_sha256, size = excluded.size, container = excluded.container, video_codec = excluded.video_codec,
          audio_codec = excluded.audio_codec, width = excluded.width, height = excluded.height, duration_ms = excluded.duration_ms,
          error = NULL, updated_at = excluded.updated_at`),
    };
  }

  /** Cases, holds and purge announcements; returns false when the entry is not one of them. */
  private applyRetention(e: LedgerEntry): boolean {
    const d = e.data;
    const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    switch (e.type) {
      case 'case.created':
        this.q.caseCreated.run(e.subject, s(d.number), s(d.name), s(d.unit), e.time, e.actor);
        return true;
      case 'case.linked':
        this.q.caseLinked.run(s(d.caseId), e.subject, e.time, e.actor);
        if (d.purgeAnnouncementWithdrawn === true) this.q.unannounced.run(e.subject);
        return true;
      case 'hold.placed':
        this.q.holdPlaced.run(s(d.holdId), e.subject, s(d.reason), s(d.text), e.time, e.actor);
        for (const id of Array.isArray(d.purgeAnnouncementsWithdrawn) ? d.purgeAnnouncementsWithdrawn : []) this.q.unannounced.run(s(id));
        return true;
      case 'hold.release-requested':
        this.q.holdRequested.run(e.time, e.actor, s(d.reason), s(d.holdId));
        return true;
      case 'hold.released':
        this.q.holdReleased.run(e.time, e.actor, s(d.holdId));
        return true;
      case 'evidence.purge-announced':
        this.q.announced.run(e.time, s(d.dueAt), e.subject);
        return true;
      case 'evidence.proxied': {
        // A browser-playable proxy (issue 15): without its row the console could not play the item.
        const p = (d.proxy ?? {}) as Record<string, unknown>;
        const n = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
        this.q.proxied.run({
          id: e.subject,
          source: s(d.sha256),
          kind: s(d.kind),
          reason: s(d.reason),
          sha256: s(p.sha256),
          size: n(p.size),
          container: s(p.container),
          videoCodec: s(p.videoCodec),
          audioCodec: s(p.audioCodec),
          width: n(p.width),
          height: n(p.height),
          durationMs: n(p.durationMs),
          time: e.time,
        });
        return true;
      }
      default:
        return false;
    }
  }

  /** Call inside the transaction that inserts the entry. */
  apply(e: LedgerEntry): void {
    if (e.type === 'evidence.wiped' && e.subject) this.q.wiped.run(e.time, e.subject);
    else if (e.type === 'evidence.purged' && e.subject) this.q.purged.run(e.time, typeof e.data.runId === 'string' ? e.data.runId : null, e.subject);
    else if (e.type.startsWith('case.') || e.type.startsWith('hold.') || e.type === 'evidence.purge-announced' || e.type === 'evidence.proxied') {
      try {
        this.applyRetention(e);
      } catch {
        // A constraint refused it (as for evidence rows): counted, never guessed.
        this.skipped++;
      }
    }
    else if (e.type === 'evidence.ingested') {
      const row = this.row(e);
      if (!row) {
        this.skipped++;
        return;
      }
      try {
        this.q.recorder.run({ serial: row.serial, model: row.model, officer: row.officer, unit: row.unit, time: e.time });
        this.q.evidence.run(row);
        this.rebuilt++;
      } catch {
        // A constraint refused the row (e.g. the same id twice). SQLite undid just that
        // statement; the ledger entry itself is still inserted, and the skip is counted.
        this.skipped++;
      }
    }
  }

  private row(e: LedgerEntry): Record<string, string | number | null> | null {
    const d = e.data;
    const recorder = (d.recorder ?? null) as Record<string, unknown> | null;
    const serial = recorder && typeof recorder === 'object' ? str(recorder.serial) : null;
    const mtime = str(d.sourceMtime);
    const sourceMtimeMs = mtime ? Date.parse(mtime) : NaN;
    const fields = {
      id: str(e.subject),
      sha256: typeof d.sha256 === 'string' && SHA256_HEX.test(d.sha256) ? d.sha256 : null,
      size: Number.isSafeInteger(d.size) && (d.size as number) >= 0 ? (d.size as number) : null,
      mediaType: typeof d.mediaType === 'string' && MEDIA_TYPES.has(d.mediaType) ? d.mediaType : null,
      serial,
      sourcePath: str(d.sourcePath),
      sourceName: str(d.sourceName),
      sourceMtimeMs: Number.isFinite(sourceMtimeMs) ? sourceMtimeMs : null,
      recordedStart: str(d.recordedStart),
      recordedSource: typeof d.recordedSource === 'string' && RECORDED_SOURCES.has(d.recordedSource) ? d.recordedSource : null,
      ingestedAt: str(d.ingestedAt),
      sessionId: str(d.sessionId),
    };
    if (Object.values(fields).some((v) => v === null)) return null;
    const optional = {
      model: recorder ? optStr(recorder.model) : null,
      officer: optStr(d.officer),
      unit: optStr(d.unit),
      recordedEnd: optStr(d.recordedEnd),
      clockDriftMs: optInt(d.clockDriftMs),
      recordedStartCorrected: optStr(d.recordedStartCorrected),
      recordedEndCorrected: optStr(d.recordedEndCorrected),
    };
    if (Object.values(optional).some((v) => v === undefined)) return null;
    return { ...fields, ...(optional as Record<string, string | number | null>) };
  }
}
