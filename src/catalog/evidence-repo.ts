import type { Db } from './db.js';

export type MediaType = 'video' | 'audio' | 'photo';

export interface Evidence {
  id: string;
  sha256: string;
  size: number;
  mediaType: MediaType;
  recorderSerial: string;
  officer: string | null;
  unit: string | null;
  sourcePath: string;
  sourceName: string;
  sourceMtimeMs: number;
  recordedStart: string;
  recordedEnd: string | null;
  recordedSource: 'metadata' | 'filename' | 'mtime';
  clockDriftMs: number | null;
  recordedStartCorrected: string | null;
  recordedEndCorrected: string | null;
  ingestedAt: string;
  sessionId: string;
  status: 'live' | 'purged';
  wipedAt: string | null;
  durationMs: number | null;
  media: Record<string, unknown> | null;
  thumbnailSha256: string | null;
}

interface Row {
  id: string;
  sha256: string;
  size: number;
  media_type: MediaType;
  recorder_serial: string;
  officer: string | null;
  unit: string | null;
  source_path: string;
  source_name: string;
  source_mtime_ms: number;
  recorded_start: string;
  recorded_end: string | null;
  recorded_source: Evidence['recordedSource'];
  clock_drift_ms: number | null;
  recorded_start_corrected: string | null;
  recorded_end_corrected: string | null;
  ingested_at: string;
  session_id: string;
  status: Evidence['status'];
  wiped_at: string | null;
  duration_ms: number | null;
  media_json: string | null;
  thumbnail_sha256: string | null;
}

function fromRow(r: Row): Evidence {
  return {
    id: r.id,
    sha256: r.sha256,
    size: r.size,
    mediaType: r.media_type,
    recorderSerial: r.recorder_serial,
    officer: r.officer,
    unit: r.unit,
    sourcePath: r.source_path,
    sourceName: r.source_name,
    sourceMtimeMs: r.source_mtime_ms,
    recordedStart: r.recorded_start,
    recordedEnd: r.recorded_end,
    recordedSource: r.recorded_source,
    clockDriftMs: r.clock_drift_ms,
    recordedStartCorrected: r.recorded_start_corrected,
    recordedEndCorrected: r.recorded_end_corrected,
    ingestedAt: r.ingested_at,
    sessionId: r.session_id,
    status: r.status,
    wipedAt: r.wiped_at,
    durationMs: r.duration_ms,
    media: r.media_json ? (JSON.parse(r.media_json) as Record<string, unknown>) : null,
    thumbnailSha256: r.thumbnail_sha256,
  };
}

export interface IngestFailure {
  recorderSerial: string;
  sourcePath: string;
  code: string;
  message: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

/** Evidence, recorders and ingest failures in the catalog. Writes must run inside Catalog.tx. */
export class EvidenceRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      bySource: db.prepare<[string, string], Row>('SELECT * FROM evidence WHERE recorder_serial = ? AND source_path = ? ORDER BY ingested_at'),
      byRecorderSha: db.prepare<[string, string], Row>('SELECT * FROM evidence WHERE recorder_serial = ? AND sha256 = ? LIMIT 1'),
      byId: db.prepare<[string], Row>('SELECT * FROM evidence WHERE id = ?'),
      insert: db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name,
        source_mtime_ms, recorded_start, recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected,
        ingested_at, session_id, duration_ms)
        VALUES (@id, @sha256, @size, @mediaType, @recorderSerial, @officer, @unit, @sourcePath, @sourceName,
        @sourceMtimeMs, @recordedStart, @recordedEnd, @recordedSource, @clockDriftMs, @recordedStartCorrected, @recordedEndCorrected,
        @ingestedAt, @sessionId, @durationMs)`),
      recorder: db.prepare<[string], { serial: string }>('SELECT serial FROM recorders WHERE serial = ?'),
      insertRecorder: db.prepare(
        'INSERT INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES (@serial, @model, @officer, @unit, @now, @now)',
      ),
      touchRecorder: db.prepare(
        'UPDATE recorders SET model = coalesce(@model, model), officer = coalesce(@officer, officer), unit = coalesce(@unit, unit), last_seen = @now WHERE serial = @serial',
      ),
      setWiped: db.prepare('UPDATE evidence SET wiped_at = ? WHERE id = ?'),
      setMedia: db.prepare('UPDATE evidence SET media_json = @media, duration_ms = coalesce(@durationMs, duration_ms), recorded_end = coalesce(recorded_end, @recordedEnd), recorded_end_corrected = coalesce(recorded_end_corrected, @recordedEndCorrected) WHERE id = @id'),
      setThumb: db.prepare('UPDATE evidence SET thumbnail_sha256 = ? WHERE id = ?'),
      failure: db.prepare(`INSERT INTO ingest_failures (recorder_serial, source_path, code, message, attempts, first_failed_at, last_failed_at)
        VALUES (@serial, @path, @code, @message, 1, @now, @now)
        ON CONFLICT (recorder_serial, source_path) DO UPDATE SET code = excluded.code, message = excluded.message,
          attempts = attempts + 1, last_failed_at = excluded.last_failed_at`),
      clearFailure: db.prepare('DELETE FROM ingest_failures WHERE recorder_serial = ? AND source_path = ?'),
      failures: db.prepare<[string], Record<string, unknown>>('SELECT * FROM ingest_failures WHERE recorder_serial = ? ORDER BY source_path'),
      withoutMedia: db.prepare<[number], { id: string }>("SELECT id FROM evidence WHERE status = 'live' AND media_json IS NULL ORDER BY ingested_at LIMIT ?"),
    };
  }

  /** Every item ingested from this recorder path (a recorder may reuse a file name). */
  bySource(serial: string, path: string): Evidence[] {
    return this.q.bySource.all(serial, path).map(fromRow);
  }

  byRecorderSha(serial: string, sha256: string): Evidence | null {
    const r = this.q.byRecorderSha.get(serial, sha256);
    return r ? fromRow(r) : null;
  }

  get(id: string): Evidence | null {
    const r = this.q.byId.get(id);
    return r ? fromRow(r) : null;
  }

  /** Insert or refresh a recorder; true when it was new. */
  upsertRecorder(r: { serial: string; model: string | null; officer: string | null; unit: string | null }, now: string): boolean {
    if (this.q.recorder.get(r.serial)) {
      this.q.touchRecorder.run({ ...r, now });
      return false;
    }
    this.q.insertRecorder.run({ ...r, now });
    return true;
  }

  insert(e: Omit<Evidence, 'status' | 'wipedAt' | 'media' | 'thumbnailSha256'>): void {
    this.q.insert.run(e);
  }

  setWiped(id: string, at: string): void {
    this.q.setWiped.run(at, id);
  }

  setMedia(id: string, media: Record<string, unknown>, durationMs: number | null, recordedEnd: string | null, recordedEndCorrected: string | null): void {
    this.q.setMedia.run({ id, media: JSON.stringify(media), durationMs, recordedEnd, recordedEndCorrected });
  }

  setThumbnail(id: string, sha256: string): void {
    this.q.setThumb.run(sha256, id);
  }

  recordFailure(serial: string, path: string, code: string, message: string, now: string): void {
    this.q.failure.run({ serial, path, code, message, now });
  }

  clearFailure(serial: string, path: string): void {
    this.q.clearFailure.run(serial, path);
  }

  failures(serial: string): IngestFailure[] {
    return this.q.failures.all(serial).map((r) => ({
      recorderSerial: r.recorder_serial as string,
      sourcePath: r.source_path as string,
      code: r.code as string,
      message: r.message as string,
      attempts: r.attempts as number,
      firstFailedAt: r.first_failed_at as string,
      lastFailedAt: r.last_failed_at as string,
    }));
  }

  /** Live items whose media has not been probed yet (follow-up work to (re)queue). */
  withoutMedia(limit = 1000): string[] {
    return this.q.withoutMedia.all(limit).map((r) => r.id);
  }
}
