import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../catalog/index.js';
import { CustodyError, errorMessage, type Logger, pidAlive, processStartSync, rfc3339 } from '../core/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';
import { ledgerOf, verifyVault } from '../ledger/index.js';
import { PurgeRefusedError } from './errors.js';
import { retentionDate } from './policy.js';
import {
  candidateBounds,
  clockJumpRefusal,
  dryRunOutcome,
  fractionRefusal,
  latestTime,
  planPurge,
  verificationRefusal,
  type Planned,
  type PurgePlan,
} from './purge-steps.js';

export interface PurgeSettings {
  timezone: string;
  months: number;
  minDaysAfterIngest: number;
  noticeDays: number;
  maxPurgeFraction: number;
  maxClockJumpDays: number;
}

export interface PurgeDeps {
  catalog: Catalog;
  store: ObjectStore;
  settings: PurgeSettings;
  log: Logger;
  /**
   * Whether the ledger (and the objects it references) verify; default: verifyVault
   * without re-hashing. Tests may replace it.
   */
  verify?: () => Promise<{ ok: boolean; problems: readonly { message: string }[] }>;
  /** Called after an object or thumbnail is deleted, so S3 Object Lock can delete its versions (not used by the fs vault). */
  onDeleted?: (key: string) => void;
}

export type PurgeOutcome = 'announced' | 'purged' | 'skipped';

export interface PurgeItemResult {
  evidenceId: string;
  outcome: PurgeOutcome;
  reason: string | null;
  bytesFreed: number;
  retentionDate: string;
  dueAt: string | null;
}

export interface PurgeReport {
  /** null for a dry run (nothing is recorded). */
  runId: string | null;
  dryRun: boolean;
  forced: boolean;
  startedAt: string;
  finishedAt: string;
  status: 'completed' | 'refused' | 'failed';
  /** Live items within the notice window or past their retention date (held ones too). */
  counted: number;
  announced: number;
  purged: number;
  bytesFreed: number;
  skipped: number;
  refusal: { code: string; message: string } | null;
  /** Items from earlier, interrupted runs whose objects were deleted now. */
  resumed: number;
  items: PurgeItemResult[];
}

export interface PurgeRun {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  status: 'running' | 'completed' | 'refused' | 'failed';
  dryRun: boolean;
  forced: boolean;
  actor: string;
  counted: number;
  announced: number;
  purged: number;
  bytesFreed: number;
  skipped: number;
  refusal: { code: string; message: string } | null;
}

export interface PendingItem {
  evidenceId: string;
  sha256: string;
  size: number;
  unit: string | null;
  officer: string | null;
  recordedAt: string;
  ingestedAt: string;
  retentionDate: string;
  announcedAt: string;
  dueAt: string;
}

interface Candidate {
  id: string;
  sha256: string;
  size: number;
  recorded_at: string;
  ingested_at: string;
  purge_announced_at: string | null;
  purge_due_at: string | null;
  thumbnail_sha256: string | null;
}

/** The item's browser-playable proxy (issue 15), when one was made: purged with it. */
const PROXY_OF = "(SELECT p.proxy_sha256 FROM evidence_proxies p WHERE p.evidence_id = evidence.id AND p.status = 'ready') AS proxy_sha256";

interface RunRow {
  id: string;
  started_at: string;
  finished_at: string | null;
  status: PurgeRun['status'];
  dry_run: number;
  forced: number;
  actor: string;
  counted: number;
  announced: number;
  purged: number;
  bytes_freed: number;
  skipped: number;
  refusal_code: string | null;
  refusal: string | null;
}

function runOf(r: RunRow): PurgeRun {
  return {
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    status: r.status,
    dryRun: r.dry_run === 1,
    forced: r.forced === 1,
    actor: r.actor,
    counted: r.counted,
    announced: r.announced,
    purged: r.purged,
    bytesFreed: r.bytes_freed,
    skipped: r.skipped,
    refusal: r.refusal_code === null ? null : { code: r.refusal_code, message: r.refusal ?? '' },
  };
}

const OWNER_KEY = 'retention.purge.owner';

function emptyReport(startedAt: string, dryRun: boolean, forced: boolean): PurgeReport {
  return {
    runId: null,
    dryRun,
    forced,
    startedAt,
    finishedAt: startedAt,
    status: 'completed',
    counted: 0,
    announced: 0,
    purged: 0,
    bytesFreed: 0,
    skipped: 0,
    refusal: null,
    resumed: 0,
    items: [],
  };
}

/**
 * The retention purge (Art. 11; docs/retention.md). One run: check the guard rails,
 * finish what an interrupted run left, announce items entering the notice window
 * (pending-purge), then purge announced items whose time has come.
 *
 * Invariants:
 * - Nothing is deleted unless the ledger verifies, the clock is plausible and (without
 *   force) the run stays under maxPurgeFraction of the live items.
 * - An item is marked purged, with its `evidence.purged` entry, in one transaction
 *   that re-checks it is live, announced, due and unheld; only after that commits is
 *   its object deleted, and only when no live item shares the content. A crash in
 *   between leaves an object that the ledger says is released (verify: purged, not
 *   missing), and the next run deletes it.
 * - A dry run writes nothing at all.
 */
export class PurgeService {
  private readonly q;
  private running = false;

  constructor(private readonly deps: PurgeDeps) {
    const db = deps.catalog.db;
    this.q = {
      liveCount: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM evidence WHERE status = 'live'"),
      // Candidates: a coarse bound in SQL (retention is at least `months` after recording
      // and never shorter than 28·months days), the exact date in JavaScript.
      candidates: db.prepare<[string, string], Candidate>(
        `SELECT id, sha256, size, recorded_at, ingested_at, purge_announced_at, purge_due_at, thumbnail_sha256
           FROM evidence WHERE status = 'live' AND (recorded_at <= ? OR purge_announced_at IS NOT NULL) AND ingested_at <= ?
          ORDER BY recorded_at, id`,
      ),
      held: db.prepare<[string], { n: number }>(
        `SELECT count(*) AS n FROM case_evidence ce JOIN holds h ON h.case_id = ce.case_id AND h.released_at IS NULL WHERE ce.evidence_id = ?`,
      ),
      item: db.prepare<[string], Candidate & { status: string; proxy_sha256: string | null }>(
        `SELECT id, sha256, size, recorded_at, ingested_at, purge_announced_at, purge_due_at, thumbnail_sha256, status, ${PROXY_OF} FROM evidence WHERE id = ?`,
      ),
      announce: db.prepare("UPDATE evidence SET purge_announced_at = ?, purge_due_at = ? WHERE id = ? AND status = 'live' AND purge_announced_at IS NULL"),
      markPurged: db.prepare("UPDATE evidence SET status = 'purged', purged_at = ?, purge_run_id = ? WHERE id = ? AND status = 'live'"),
      liveSharers: db.prepare<[string, string], { n: number }>("SELECT count(*) AS n FROM evidence WHERE status = 'live' AND sha256 = ? AND id <> ?"),
      // A derived object (thumbnail, proxy) stays while a live item uses the same bytes as its content, thumbnail or proxy.
      derivedUsers: db.prepare<{ key: string }, { n: number }>(
        `SELECT (SELECT count(*) FROM evidence WHERE status = 'live' AND (thumbnail_sha256 = @key OR sha256 = @key))
              + (SELECT count(*) FROM evidence_proxies p JOIN evidence e ON e.id = p.evidence_id
                  WHERE e.status = 'live' AND p.status = 'ready' AND p.proxy_sha256 = @key) AS n`,
      ),
      insertRun: db.prepare("INSERT INTO purge_runs (id, started_at, status, dry_run, forced, actor) VALUES (?, ?, 'running', 0, ?, ?)"),
      insertRefused: db.prepare(
        "INSERT INTO purge_runs (id, started_at, finished_at, status, dry_run, forced, actor, refusal_code, refusal) VALUES (?, ?, ?, 'refused', 0, ?, ?, ?, ?)",
      ),
      finishRun: db.prepare(
        'UPDATE purge_runs SET status = @status, finished_at = @now, counted = @counted, announced = @announced, purged = @purged, bytes_freed = @bytesFreed, skipped = @skipped WHERE id = @id',
      ),
      bumpRun: db.prepare('UPDATE purge_runs SET purged = purged + 1, bytes_freed = bytes_freed + ? WHERE id = ?'),
      runItem: db.prepare(
        `INSERT INTO purge_run_items (run_id, evidence_id, outcome, reason, bytes_freed, at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, evidence_id) DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason, bytes_freed = excluded.bytes_freed, at = excluded.at`,
      ),
      runItemBytes: db.prepare('UPDATE purge_run_items SET bytes_freed = bytes_freed + ? WHERE run_id = ? AND evidence_id = ?'),
      staleRuns: db.prepare<[], { id: string }>("SELECT id FROM purge_runs WHERE status = 'running'"),
      failRun: db.prepare("UPDATE purge_runs SET status = 'failed', finished_at = ? WHERE id = ? AND status = 'running'"),
      // Objects of items purged by a run that did not complete: their deletion may not have happened.
      leftovers: db.prepare<[], { sha256: string; thumbnail_sha256: string | null; proxy_sha256: string | null; run_id: string; id: string }>(
        `SELECT e.sha256, e.thumbnail_sha256, e.purge_run_id AS run_id, e.id,
                (SELECT p.proxy_sha256 FROM evidence_proxies p WHERE p.evidence_id = e.id AND p.status = 'ready') AS proxy_sha256
           FROM evidence e JOIN purge_runs r ON r.id = e.purge_run_id
          WHERE e.status = 'purged' AND r.status IN ('running', 'failed')`,
      ),
      lastCompleted: db.prepare<[], { t: string | null }>("SELECT max(started_at) AS t FROM purge_runs WHERE status = 'completed'"),
      lastLedger: db.prepare<[], { t: string | null }>('SELECT time AS t FROM ledger ORDER BY seq DESC LIMIT 1'),
      runs: db.prepare<[number], RunRow>('SELECT * FROM purge_runs ORDER BY started_at DESC, id DESC LIMIT ?'),
      run: db.prepare<[string], RunRow>('SELECT * FROM purge_runs WHERE id = ?'),
      runItems: db.prepare<[string], { evidence_id: string; outcome: PurgeOutcome; reason: string | null; bytes_freed: number; at: string }>(
        'SELECT evidence_id, outcome, reason, bytes_freed, at FROM purge_run_items WHERE run_id = ? ORDER BY at, evidence_id',
      ),
      pending: db.prepare<[], Candidate & { unit: string | null; officer: string | null }>(
        `SELECT id, sha256, size, unit, officer, recorded_at, ingested_at, purge_announced_at, purge_due_at, thumbnail_sha256
           FROM evidence WHERE status = 'live' AND purge_announced_at IS NOT NULL ORDER BY purge_due_at, id`,
      ),
    };
  }

  private retentionOf(c: { recorded_at: string; ingested_at: string }): Date {
    return retentionDate({ recordedAt: c.recorded_at, ingestedAt: c.ingested_at }, this.deps.settings);
  }

  /** The retention date of an item under the policy in force. */
  retentionDateOf(item: { recordedAt: string; ingestedAt: string }): string {
    return rfc3339(retentionDate(item, this.deps.settings));
  }

  /** Items announced for purge (pending-purge), soonest first; a unit narrows the list. */
  pending(unit?: string | null): PendingItem[] {
    return this.q
      .pending.all()
      .filter((r) => unit === undefined || unit === null || r.unit === unit)
      .map((r) => ({
        evidenceId: r.id,
        sha256: r.sha256,
        size: r.size,
        unit: r.unit,
        officer: r.officer,
        recordedAt: r.recorded_at,
        ingestedAt: r.ingested_at,
        retentionDate: rfc3339(this.retentionOf(r)),
        announcedAt: r.purge_announced_at!,
        dueAt: r.purge_due_at!,
      }));
  }

  runs(limit = 50): PurgeRun[] {
    return this.q.runs.all(limit).map(runOf);
  }

  run(id: string): (PurgeRun & { items: { evidenceId: string; outcome: PurgeOutcome; reason: string | null; bytesFreed: number; at: string }[] }) | null {
    const r = this.q.run.get(id);
    if (!r) return null;
    return {
      ...runOf(r),
      items: this.q.runItems.all(id).map((i) => ({ evidenceId: i.evidence_id, outcome: i.outcome, reason: i.reason, bytesFreed: i.bytes_freed, at: i.at })),
    };
  }

  /** One purge run. A refused run resolves with status "refused" (and is recorded unless dry). */
  async execute(opts: { actor: string; dryRun?: boolean; force?: boolean }): Promise<PurgeReport> {
    const dryRun = opts.dryRun ?? false;
    const force = opts.force ?? false;
    if (this.running) throw new CustodyError('PURGE_RUNNING', 'a purge run is already in progress');
    this.running = true;
    try {
      return await this.executeNow(opts.actor, dryRun, force);
    } finally {
      this.running = false;
    }
  }

  /**
   * The run itself: the guards in order (each refusal recorded unless dry), the plan,
   * then claim the run, finish leftovers, announce, purge. Each step is its own method
   * or a pure function of purge-steps.ts.
   */
  private async executeNow(actor: string, dryRun: boolean, force: boolean): Promise<PurgeReport> {
    const { catalog, settings } = this.deps;
    const report = emptyReport(rfc3339(catalog.clock.now()), dryRun, force);
    const run = { actor, dryRun, force };

    // Guard 1: the ledger and the objects it references verify. Not overridable.
    const unverified = verificationRefusal(await this.verify());
    if (unverified) return this.refuse(report, run, unverified);

    // Guard 2: the clock has not jumped since the last run or the last ledger entry.
    const now = catalog.clock.now();
    const last = latestTime([this.q.lastCompleted.get()?.t, this.q.lastLedger.get()?.t]);
    const jumped = clockJumpRefusal({ now, last, force, maxClockJumpDays: settings.maxClockJumpDays });
    if (jumped) return this.refuse(report, run, jumped);

    // The plan: which items enter the notice window, which are due.
    const plan = this.plan(now);
    report.counted = plan.counted;
    for (const h of plan.held) {
      report.skipped++;
      report.items.push({ evidenceId: h.c.id, outcome: 'skipped', reason: 'held', bytesFreed: 0, retentionDate: rfc3339(h.retention), dueAt: null });
    }

    // Guard 3: not too much at once.
    const tooMuch = fractionRefusal({ purging: plan.toPurge.length, live: this.q.liveCount.get()!.n, force, maxPurgeFraction: settings.maxPurgeFraction });
    if (tooMuch) return this.refuse(report, run, tooMuch);

    if (dryRun) {
      const outcome = dryRunOutcome(plan);
      report.items.push(...outcome.items);
      report.announced = outcome.announced;
      report.purged = outcome.purged;
      report.bytesFreed = outcome.bytesFreed;
      report.finishedAt = rfc3339(catalog.clock.now());
      return report;
    }

    const runId = uuidv7();
    report.runId = runId;
    this.claimRun(runId, report.startedAt, force, actor);
    let failures = 0;
    try {
      // Finish what an interrupted run left: objects of items it marked purged.
      report.resumed = await this.finishLeftovers(runId);
      this.announce(runId, actor, plan.toAnnounce, report);
      this.warnPending(runId, now, plan.toAnnounce, report);
      failures = await this.purgeDue(runId, actor, plan.toPurge, report);
    } catch (e) {
      report.status = 'failed';
      this.deps.log.error({ err: e, runId }, 'purge run failed');
      this.finish(runId, report, 'failed');
      throw e;
    }
    report.status = failures > 0 ? 'failed' : 'completed';
    this.finish(runId, report, report.status);
    this.deps.log.info(
      { runId, counted: report.counted, announced: report.announced, purged: report.purged, bytesFreed: report.bytesFreed, skipped: report.skipped, resumed: report.resumed },
      'purge run finished',
    );
    return report;
  }

  /** Whether the vault verifies (the ledger chain, sealed segments, referenced objects; no re-hashing). */
  private verify(): Promise<{ ok: boolean; problems: readonly { message: string }[] }> {
    const { catalog, store } = this.deps;
    return (this.deps.verify ?? (() => verifyVault({ catalog, store, maxProblems: 5 })))();
  }

  /** A refused run: reported, and recorded as a run unless dry. */
  private refuse(report: PurgeReport, run: { actor: string; dryRun: boolean; force: boolean }, e: PurgeRefusedError): PurgeReport {
    const { catalog, log } = this.deps;
    report.status = 'refused';
    report.refusal = { code: e.code, message: e.message };
    report.finishedAt = rfc3339(catalog.clock.now());
    if (!run.dryRun) {
      report.runId = uuidv7();
      catalog.tx(() => this.q.insertRefused.run(report.runId, report.startedAt, report.finishedAt, run.force ? 1 : 0, run.actor, e.code, e.message));
    }
    log.warn({ code: e.code, dryRun: run.dryRun, runId: report.runId }, `purge refused: ${e.message}`);
    return report;
  }

  /** The plan over the live candidates; reads only. */
  private plan(now: Date): PurgePlan<Candidate> {
    const { recordedBound, ingestBound } = candidateBounds(now, this.deps.settings);
    return planPurge({
      candidates: this.q.candidates.all(recordedBound, ingestBound),
      now,
      noticeDays: this.deps.settings.noticeDays,
      retentionOf: (c) => this.retentionOf(c),
      isHeld: (c) => this.q.held.get(c.id)!.n > 0,
    });
  }

  /**
   * Record the run as running and this process as its owner, in one transaction;
   * refused (PURGE_RUNNING) while another live process owns a running run.
   */
  private claimRun(runId: string, startedAt: string, force: boolean, actor: string): void {
    const { catalog } = this.deps;
    const start = processStartSync(process.pid);
    catalog.tx(() => {
      const owner = catalog.getMeta(OWNER_KEY);
      if (owner) {
        const o = JSON.parse(owner) as { runId: string; pid: number; start?: string | null };
        const other = this.q.run.get(o.runId);
        // The owner is alive only if its pid runs *and* started when the owner did: after
        // a crash the pid may belong to another process, which must not block the purge
        // for ever. (An owner recorded before the start time was kept: pid only.)
        const alive = pidAlive(o.pid) && (o.start === undefined || o.start === null || processStartSync(o.pid) === o.start);
        if (other?.status === 'running' && o.pid !== process.pid && alive) {
          throw new CustodyError('PURGE_RUNNING', `purge run ${o.runId} is in progress in process ${o.pid}`);
        }
      }
      catalog.setMeta(OWNER_KEY, JSON.stringify({ runId, pid: process.pid, start }));
      this.q.insertRun.run(runId, startedAt, force ? 1 : 0, actor);
    });
  }

  /**
   * Announce the planned items (pending-purge) with an `evidence.purge-announced` entry
   * each, in one transaction; an item announced meanwhile is left as it is.
   */
  private announce(runId: string, actor: string, toAnnounce: readonly Planned<Candidate>[], report: PurgeReport): void {
    const { catalog } = this.deps;
    catalog.tx(() => {
      const at = rfc3339(catalog.clock.now());
      for (const a of toAnnounce) {
        if (this.q.announce.run(at, rfc3339(a.due), a.c.id).changes === 0) continue;
        a.c.purge_announced_at = at;
        a.c.purge_due_at = rfc3339(a.due);
        ledgerOf(catalog).append({
          type: 'evidence.purge-announced',
          actor,
          subject: a.c.id,
          data: { sha256: a.c.sha256, retentionDate: rfc3339(a.retention), dueAt: rfc3339(a.due), runId },
        });
        this.q.runItem.run(runId, a.c.id, 'announced', null, 0, at);
        report.announced++;
        report.items.push({ evidenceId: a.c.id, outcome: 'announced', reason: null, bytesFreed: 0, retentionDate: rfc3339(a.retention), dueAt: rfc3339(a.due) });
      }
    });
  }

  /** Warn about announced items that are not purged by this run, so a case can be protected in time. */
  private warnPending(runId: string, now: Date, toAnnounce: readonly Planned<Candidate>[], report: PurgeReport): void {
    if (report.announced === 0) return;
    const pending = toAnnounce.filter((a) => a.due.getTime() > now.getTime());
    if (pending.length === 0) return;
    this.deps.log.warn(
      { runId, items: pending.map((a) => ({ evidenceId: a.c.id, dueAt: rfc3339(a.due) })) },
      `${pending.length} items announced for purge (pending-purge); protect a case to keep them`,
    );
  }

  /** Purge the due items, one per transaction, each object deleted after its entry commits; returns how many deletes failed. */
  private async purgeDue(runId: string, actor: string, toPurge: readonly Planned<Candidate>[], report: PurgeReport): Promise<number> {
    let failures = 0;
    for (const p of toPurge) {
      const done = this.purgeOne(runId, p.c.id, actor);
      const result: PurgeItemResult = {
        evidenceId: p.c.id,
        outcome: done.outcome,
        reason: done.reason,
        bytesFreed: 0,
        retentionDate: rfc3339(p.retention),
        dueAt: rfc3339(p.due),
      };
      report.items = report.items.filter((i) => i.evidenceId !== p.c.id);
      report.items.push(result);
      if (done.outcome === 'skipped') {
        report.skipped++;
        continue;
      }
      report.purged++;
      const freed = await this.deleteObjects(runId, p.c.id, done.sha256, done.shared, [done.thumbnail, done.proxy]);
      if (freed === null) failures++;
      else {
        result.bytesFreed = freed;
        report.bytesFreed += freed;
      }
    }
    return failures;
  }

  private finish(runId: string, report: PurgeReport, status: 'completed' | 'failed'): void {
    const { catalog } = this.deps;
    report.finishedAt = rfc3339(catalog.clock.now());
    catalog.tx(() => {
      this.q.finishRun.run({
        id: runId,
        status,
        now: report.finishedAt,
        counted: report.counted,
        announced: report.announced,
        purged: report.purged,
        bytesFreed: report.bytesFreed,
        skipped: report.skipped,
      });
    });
  }

  /**
   * Mark one item purged with its ledger entry, re-checking everything in the
   * transaction. Returns what to delete after it commits.
   */
  private purgeOne(
    runId: string,
    id: string,
    actor: string,
  ): { outcome: 'purged'; reason: null; sha256: string; shared: boolean; thumbnail: string | null; proxy: string | null } | { outcome: 'skipped'; reason: string } {
    const { catalog } = this.deps;
    return catalog.tx(() => {
      const at = rfc3339(catalog.clock.now());
      const skip = (reason: string): { outcome: 'skipped'; reason: string } => {
        this.q.runItem.run(runId, id, 'skipped', reason, 0, at);
        return { outcome: 'skipped', reason };
      };
      const c = this.q.item.get(id);
      if (!c || c.status !== 'live') return skip('not-live');
      if (this.q.held.get(id)!.n > 0) return skip('held');
      if (c.purge_announced_at === null || c.purge_due_at === null) return skip('not-announced');
      const retention = this.retentionOf(c);
      if (Date.parse(c.purge_due_at) > Date.parse(at) || retention.getTime() > Date.parse(at)) return skip('not-due');
      const shared = this.q.liveSharers.get(c.sha256, id)!.n > 0;
      this.q.markPurged.run(at, runId, id);
      ledgerOf(catalog).append({
        type: 'evidence.purged',
        actor,
        subject: id,
        data: {
          sha256: c.sha256,
          size: c.size,
          reason: 'retention',
          recordedAt: c.recorded_at,
          ingestedAt: c.ingested_at,
          retentionDate: rfc3339(retention),
          announcedAt: c.purge_announced_at,
          runId,
          // The object stays while another live item has the same content.
          objectKept: shared,
          thumbnail: c.thumbnail_sha256,
          proxy: c.proxy_sha256,
        },
      });
      this.q.runItem.run(runId, id, 'purged', shared ? 'content shared with a live item: object kept' : null, 0, at);
      return { outcome: 'purged', reason: null, sha256: c.sha256, shared, thumbnail: c.thumbnail_sha256, proxy: c.proxy_sha256 };
    });
  }

  /**
   * Delete an item's object (unless shared) and its derived objects — thumbnail and
   * browser-playable proxy — unless a live item uses the same bytes; null when a
   * delete failed.
   */
  private async deleteObjects(runId: string, id: string, sha256: string, shared: boolean, derived: readonly (string | null)[]): Promise<number | null> {
    const { catalog, store, log } = this.deps;
    let freed = 0;
    try {
      // Checked again: an item with the same content may have been ingested meanwhile.
      if (!shared && this.q.liveSharers.get(sha256, id)!.n === 0) {
        const info = await store.stat(contentKey(sha256));
        await store.delete(contentKey(sha256));
        this.deps.onDeleted?.(contentKey(sha256));
        freed += info?.size ?? 0;
      }
      for (const key of new Set(derived)) {
        if (key === null || key === sha256 || this.q.derivedUsers.get({ key })!.n > 0) continue;
        const info = await store.stat(contentKey(key));
        if (info === null) continue;
        await store.delete(contentKey(key));
        this.deps.onDeleted?.(contentKey(key));
        freed += info.size;
      }
    } catch (e) {
      log.error({ err: e, runId, evidenceId: id }, 'purge could not delete an object; the next run retries');
      catalog.tx(() => this.q.runItem.run(runId, id, 'purged', `object not deleted: ${errorMessage(e).slice(0, 200)}`, freed, rfc3339(catalog.clock.now())));
      return null;
    }
    if (freed > 0) {
      catalog.tx(() => {
        this.q.runItemBytes.run(freed, runId, id);
      });
    }
    return freed;
  }

  /** Delete the objects that interrupted runs marked purged but may not have deleted; close those runs. */
  private async finishLeftovers(currentRun: string): Promise<number> {
    const { catalog, log } = this.deps;
    const rows = this.q.leftovers.all().filter((r) => r.run_id !== currentRun);
    let n = 0;
    for (const r of rows) {
      const keys = [r.sha256, r.thumbnail_sha256, r.proxy_sha256].filter((k): k is string => k !== null);
      const present = await Promise.all(keys.map(async (k) => (await this.deps.store.stat(contentKey(k))) !== null));
      if (!present.includes(true)) continue;
      const shared = this.q.liveSharers.get(r.sha256, r.id)!.n > 0;
      const freed = await this.deleteObjects(r.run_id, r.id, r.sha256, shared, [r.thumbnail_sha256, r.proxy_sha256]);
      if (freed === null) throw new CustodyError('PURGE_DELETE_FAILED', `cannot finish the purge of ${r.id} from run ${r.run_id}`);
      if (freed > 0) n++;
    }
    const stale = this.q.staleRuns.all().filter((r) => r.id !== currentRun);
    if (stale.length > 0 || rows.length > 0) {
      catalog.tx(() => {
        // Interrupted runs stay recorded as failed; their leftovers are checked again by
        // later runs, which costs a stat each and deletes nothing twice.
        for (const s of stale) this.q.failRun.run(rfc3339(catalog.clock.now()), s.id);
      });
      log.info({ runs: stale.map((s) => s.id), items: n }, 'finished the purge of interrupted runs');
    }
    return n;
  }
}
