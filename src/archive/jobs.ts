import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, type Logger, processTag, processTagAlive, rfc3339 } from '../core/index.js';
import { ledgerOf } from '../ledger/index.js';
import type { CaseRecord } from './case-source.js';
import type { ArchiveService, CopyProgress, ExportAccess, ExportResult } from './export.js';
import { scrub } from './export-steps.js';

/**
 * Archival exports as jobs (issue 19). The API starts an export and answers at once
 * with the job; the export runs in the daemon's process, one at a time, and its row in
 * `export_jobs` (migration 016) is what the status endpoint reads: per copy the files
 * and bytes written and the files checked as read back, then the result.
 *
 * Invariants:
 * - A copy is reported good only by the export's result, and the result says so only
 *   after the copy verified as read back from its destination (ArchiveService).
 * - A job that was queued or running when the daemon stopped is marked `interrupted`
 *   when it starts again (and ledgered as `export.interrupted`), never resumed and
 *   never reported good: it recorded no export, whatever it had written.
 * - Progress is written to the row at most every PROGRESS_EVERY_MS, and at each change
 *   of a copy's phase, so a reload of the page (or another reader) sees it.
 */

export type ExportJobState = 'queued' | 'running' | 'done' | 'failed' | 'interrupted';

export interface ExportJobResult extends Omit<ExportResult, 'case'> {
  caseId: string;
}

export interface ExportJob {
  id: string;
  caseId: string;
  caseNumber: string;
  caseName: string;
  caseUnit: string | null;
  actor: string;
  maker: string;
  destinations: string[];
  iso: boolean;
  status: ExportJobState;
  progress: CopyProgress[];
  result: ExportJobResult | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface Row {
  id: string;
  case_id: string;
  number: string;
  name: string;
  unit: string | null;
  actor: string;
  maker: string;
  destinations: string;
  iso: number;
  status: ExportJobState;
  progress: string;
  result: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** processTag of the process that runs it; null for jobs of before migration 020. */
  owner: string | null;
}

export class ExportJobError extends CustodyError {}

const PROGRESS_EVERY_MS = 250;

export interface ExportJobsOptions {
  catalog: Catalog;
  archive: () => Promise<ArchiveService>;
  log: Logger;
  /** Copies an export makes (config.archive.copies): the progress shows them before it starts. */
  copies: number;
  /** Told each time a job is queued, its progress is saved, or it ends (the console follows it live). */
  onChange?: (job: ExportJob) => void;
}

export interface StartExport {
  kase: CaseRecord;
  destinations: string[];
  maker: string;
  actor: string;
  access: ExportAccess;
  iso: boolean;
}

export class ExportJobs {
  private readonly q;
  private running: { id: string; abort: AbortController; task: Promise<void> } | null = null;
  private stopped = false;

  constructor(private readonly o: ExportJobsOptions) {
    const db = o.catalog.db;
    const select = `SELECT j.*, c.number, c.name, c.unit FROM export_jobs j JOIN cases c ON c.id = j.case_id`;
    this.q = {
      get: db.prepare<[string], Row>(`${select} WHERE j.id = ?`),
      forCase: db.prepare<[string, number], Row>(`${select} WHERE j.case_id = ? ORDER BY j.created_at DESC, j.id DESC LIMIT ?`),
      // A unit's own newest, not the station's newest then filtered (a unit would see fewer).
      recent: db.prepare<[string | null, string | null, number], Row>(`${select} WHERE (? IS NULL OR c.unit = ?) ORDER BY j.created_at DESC, j.id DESC LIMIT ?`),
      live: db.prepare<[], Row>(`${select} WHERE j.status IN ('queued', 'running')`),
      insert: db.prepare(
        `INSERT INTO export_jobs (id, case_id, actor, maker, destinations, iso, status, progress, created_at, owner)
         VALUES (@id, @caseId, @actor, @maker, @destinations, @iso, 'queued', @progress, @at, @owner)`,
      ),
      started: db.prepare(`UPDATE export_jobs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'`),
      progress: db.prepare(`UPDATE export_jobs SET progress = ? WHERE id = ? AND status = 'running'`),
      finish: db.prepare(
        `UPDATE export_jobs SET status = @status, progress = @progress, result = @result, error = @error, finished_at = @at WHERE id = @id AND status IN ('queued', 'running')`,
      ),
    };
  }

  /**
   * At start: every job left queued or running by a process that is gone (a daemon that
   * stopped or crashed) is interrupted (and ledgered); the jobs of a process still
   * running are left to it. Call once, before any export is started.
   */
  recover(actor: string): number {
    const { catalog, log } = this.o;
    // Another process's jobs are its own while it runs (a custody serve beside the daemon).
    const left = this.q.live.all().filter((r) => r.owner === null || !processTagAlive(r.owner));
    if (left.length === 0) return 0;
    const at = rfc3339(catalog.clock.now());
    catalog.tx(() => {
      for (const r of left) {
        const progress = JSON.parse(r.progress) as CopyProgress[];
        this.q.finish.run({
          id: r.id,
          status: 'interrupted',
          progress: r.progress,
          result: null,
          error: JSON.stringify({ code: 'EXPORT_INTERRUPTED', message: 'the station stopped while this export ran: nothing of it is recorded as an archival copy; start the export again' }),
          at,
        });
        ledgerOf(catalog).append({
          type: 'export.interrupted',
          actor,
          subject: r.case_id,
          data: { exportId: r.id, caseNumber: r.number, status: r.status as 'queued' | 'running', startedAt: r.started_at, copies: progress.map((p) => ({ copy: p.copy, phase: p.phase, files: p.files, bytes: p.bytes })) },
        });
      }
    });
    log.warn({ exports: left.map((r) => r.id) }, 'exports interrupted by a stop of the station');
    return left.length;
  }

  get(id: string): ExportJob | null {
    const r = this.q.get.get(id);
    return r ? jobOf(r) : null;
  }

  forCase(caseId: string, limit = 50): ExportJob[] {
    return this.q.forCase.all(caseId, limit).map(jobOf);
  }

  /** The newest jobs, of the cases of one unit when `unit` is given (null: every unit's). */
  recent(limit = 200, unit: string | null = null): ExportJob[] {
    return this.q.recent.all(unit, unit, limit).map(jobOf);
  }

  /** Queue the export and start it in the background; one at a time (409 EXPORT_RUNNING). */
  start(s: StartExport): ExportJob {
    if (this.stopped) throw new ExportJobError('EXPORT_RUNNING', 'the station is stopping: no export is started');
    if (this.running || this.q.live.all().length > 0) throw new ExportJobError('EXPORT_RUNNING', 'an export is running; try again when it has finished');
    const { catalog } = this.o;
    const now = catalog.clock.now();
    const id = uuidv7({ msecs: now.getTime() });
    const waiting: CopyProgress[] = s.destinations.map((_d, i) => ({ copy: i + 1, phase: 'waiting', files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0, checkedFiles: 0, checkedBytes: 0 }));
    this.q.insert.run({ id, caseId: s.kase.id, actor: s.actor, maker: s.maker.trim(), destinations: JSON.stringify(s.destinations), iso: s.iso ? 1 : 0, progress: JSON.stringify(waiting), at: rfc3339(now), owner: processTag() });
    const abort = new AbortController();
    const task = this.run(id, s, abort.signal).finally(() => {
      if (this.running?.id === id) this.running = null;
    });
    this.running = { id, abort, task };
    const job = this.get(id)!;
    this.o.onChange?.(job);
    return job;
  }

  /** For tests and the server's stop: resolves when the running export (if any) has ended. */
  async settled(): Promise<void> {
    await this.running?.task;
  }

  /**
   * Stop: no new export; a running one is aborted (its copies fail, nothing is
   * published half-made) and the job is marked interrupted. Resolves when it ended.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const r = this.running;
    if (!r) return;
    r.abort.abort(new ExportJobError('EXPORT_INTERRUPTED', 'the station is stopping'));
    await r.task;
  }

  /** Tell the listener the job as it now stands; a listener's failure is logged, never the export's. */
  private changed(id: string): void {
    if (!this.o.onChange) return;
    try {
      const job = this.get(id);
      if (job) this.o.onChange(job);
    } catch (err) {
      this.o.log.warn({ err, exportId: id }, 'could not announce the export job');
    }
  }

  private async run(id: string, s: StartExport, signal: AbortSignal): Promise<void> {
    const { catalog, log } = this.o;
    let last = 0;
    let lastPhases = '';
    let progress: readonly CopyProgress[] = [];
    const save = (p: readonly CopyProgress[]): void => {
      progress = p;
      const phases = p.map((c) => c.phase).join();
      const now = Date.now();
      if (phases === lastPhases && now - last < PROGRESS_EVERY_MS) return;
      last = now;
      lastPhases = phases;
      try {
        this.q.progress.run(JSON.stringify(p), id);
        this.changed(id);
      } catch (err) {
        log.warn({ err, exportId: id }, 'could not save the export progress');
      }
    };
    const end = (status: ExportJobState, result: ExportJobResult | null, error: { code: string; message: string } | null): void => {
      try {
        this.q.finish.run({ id, status, progress: JSON.stringify(progress), result: result ? JSON.stringify(result) : null, error: error ? JSON.stringify(error) : null, at: rfc3339(catalog.clock.now()) });
        this.changed(id);
      } catch (err) {
        // The catalog closed under a stopping station: the next start marks the job interrupted.
        log.error({ err, exportId: id }, 'could not record how the export ended');
      }
    };
    try {
      this.q.started.run(rfc3339(catalog.clock.now()), id);
      const archive = await this.o.archive();
      const r = await archive.exportCase({
        caseRef: s.kase.id,
        destinations: s.destinations,
        maker: s.maker,
        actor: s.actor,
        access: s.access,
        iso: s.iso,
        exportId: id,
        signal,
        onProgress: save,
      });
      const { case: kase, ...rest } = r;
      const result: ExportJobResult = { ...rest, caseId: kase.id };
      if (signal.aborted) end('interrupted', result, { code: 'EXPORT_INTERRUPTED', message: 'the station stopped while this export ran; the copies it reports good were verified, the others were not made' });
      else end(r.ok ? 'done' : 'failed', result, r.ok ? null : { code: 'EXPORT_COPY_FAILED', message: 'a copy was not written or did not verify: see each copy' });
      log.info({ exportId: id, ok: r.ok, copies: r.copies.map((c) => ({ copy: c.copy, ok: c.ok })) }, 'export job ended');
    } catch (e) {
      const error = e instanceof CustodyError ? { code: e.code, message: scrub(e.message) } : { code: 'EXPORT_FAILED', message: 'the export stopped on a system error; see the log' };
      log.error({ err: e, exportId: id }, 'export job failed');
      end(signal.aborted ? 'interrupted' : 'failed', null, signal.aborted ? { code: 'EXPORT_INTERRUPTED', message: 'the station stopped while this export ran: nothing of it is recorded' } : error);
    }
  }
}

function jobOf(r: Row): ExportJob {
  return {
    id: r.id,
    caseId: r.case_id,
    caseNumber: r.number,
    caseName: r.name,
    caseUnit: r.unit,
    actor: r.actor,
    maker: r.maker,
    destinations: JSON.parse(r.destinations) as string[],
    iso: r.iso === 1,
    status: r.status,
    progress: JSON.parse(r.progress) as CopyProgress[],
    result: r.result === null ? null : (JSON.parse(r.result) as ExportJobResult),
    error: r.error === null ? null : (JSON.parse(r.error) as { code: string; message: string }),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
