import type { Catalog } from '../../catalog/index.js';
import { type ActivityBus, rfc3339 } from '../../core/index.js';
import type { AssignmentsService } from '../assignments.js';
import type { Finding, Flag, FlagsService } from '../flags.js';
import { cachedPreparer, type Preparer } from '../statements.js';
import { localText } from '../time.js';
import { attributeUnassigned } from './attribute-unassigned.js';
import { attributionConflictFindings, evidenceConflictFindings, sessionConflictFindings } from './attribution-conflict.js';
import { clockDriftFindings } from './clock-drift.js';
import { attributeWith, type ComplianceSettings, type RuleContext, type ScanScope } from './context.js';
import { dockFindings } from './dock-findings.js';
import { lateUploadFindings, sessionLateFindings } from './late-upload.js';
import { missingUploadFindings } from './missing-upload.js';
import { recordingGapFindings } from './recording-gap.js';
import { repairOverdueFindings } from './repair-overdue.js';
import { sequenceGapFindings } from './sequence-gap.js';

export type { ComplianceSettings, ScanScope } from './context.js';
export { fileNumber } from './sequence-gap.js';

const META_EVIDENCE = 'compliance.scan.evidence-rowid';
const META_ASSIGNMENTS = 'compliance.scan.assignment-rowid';
const META_TIME = 'compliance.scan.time';

/**
 * The compliance rules (docs/compliance.md), one file per rule in this folder. Every
 * rule is a query for findings not flagged yet, so running a scan again raises nothing
 * twice (the unique dedupe key in the catalog guarantees it even for two scans at
 * once). This class raises what the rules find and keeps the scan's position.
 */
export class ComplianceRules {
  constructor(
    private readonly deps: {
      catalog: Catalog;
      settings: ComplianceSettings;
      assignments: AssignmentsService;
      flags: FlagsService;
      actor: string;
      activity?: ActivityBus | undefined;
    },
  ) {}

  private stmts: Preparer | undefined;
  private context: RuleContext | undefined;

  private get db(): Preparer {
    return (this.stmts ??= cachedPreparer(this.deps.catalog.db));
  }

  /** What the rules run with. */
  private get ctx(): RuleContext {
    const { catalog, settings, assignments } = this.deps;
    return (this.context ??= {
      db: this.db,
      settings,
      assignments,
      now: () => rfc3339(catalog.clock.now()),
      local: (iso) => localText(iso, settings.timezone),
      attribute: (ev) => attributeWith(assignments, ev),
    });
  }

  private raise(findings: Finding[]): Flag[] {
    const out: Flag[] = [];
    for (const f of findings) {
      const flag = this.deps.flags.raise(f, this.deps.actor);
      if (!flag) continue;
      out.push(flag);
      this.deps.activity?.publish({
        type: 'flag',
        flag: {
          id: flag.id,
          rule: flag.rule,
          state: flag.state,
          unit: flag.unit,
          serial: flag.recorderSerial,
          officer: flag.officer,
          evidenceId: flag.evidenceId,
          summary: flag.summary,
          raisedAt: flag.raisedAt,
          dueBy: flag.dueBy,
        },
      });
    }
    return out;
  }

  /**
   * At ingest: the attribution of one new item and its attribution conflict. Whether it
   * was late is judged for its whole session once the session has ended (checkSession,
   * or the daemon's scan after the dock), so that one late dock raises one flag.
   */
  checkEvidence(id: string): Flag[] {
    if (!this.db.prepare<[string], { id: string }>('SELECT id FROM evidence WHERE id = ?').get(id)) return [];
    this.attributeOne(id);
    return this.raise(evidenceConflictFindings(this.ctx, id));
  }

  /**
   * After an ingest session (`custody ingest`): what the daemon raises for a dock — its
   * items' attribution, one late-upload flag per recorder and officer for its late
   * items, and their attribution conflicts. Idempotent.
   */
  checkSession(sessionId: string): Flag[] {
    const first = this.db.prepare<[string], { rowid: number }>('SELECT min(rowid) AS rowid FROM evidence WHERE session_id = ?').get(sessionId);
    if (!first || first.rowid === null) return [];
    this.attributeUnassigned({ evidenceAfter: first.rowid - 1, assignmentsAfter: Number.MAX_SAFE_INTEGER, endedAfter: '' });
    const late = this.raise(sessionLateFindings(this.ctx, sessionId));
    return [...late, ...this.raise(sessionConflictFindings(this.ctx, sessionId))];
  }

  /** Rule late-upload (late-upload.ts). */
  lateUploads(scope?: ScanScope): Flag[] {
    return this.raise(lateUploadFindings(this.ctx, scope));
  }

  /** attributeUnassigned for one new item (at ingest). */
  private attributeOne(id: string): void {
    const row = this.db.prepare<[string], { rowid: number }>('SELECT rowid FROM evidence WHERE id = ? AND officer IS NULL').get(id);
    if (row) this.attributeUnassigned({ evidenceAfter: row.rowid - 1, assignmentsAfter: Number.MAX_SAFE_INTEGER, endedAfter: '' });
  }

  /** Footage without an officer attributed from the assignments (attribute-unassigned.ts). */
  attributeUnassigned(scope?: ScanScope): number {
    return attributeUnassigned(this.ctx, this.deps.catalog, scope);
  }

  /** Rule attribution-conflict, for evidence (attribution-conflict.ts). */
  attributionConflicts(scope?: ScanScope): Flag[] {
    return this.raise(attributionConflictFindings(this.ctx, scope));
  }

  /** Rule missing-upload (missing-upload.ts). */
  missingUploads(scope?: ScanScope): Flag[] {
    return this.raise(missingUploadFindings(this.ctx, scope));
  }

  /** Rule sequence-gap (sequence-gap.ts). */
  sequenceGaps(scope?: ScanScope): Flag[] {
    return this.raise(sequenceGapFindings(this.ctx, scope));
  }

  /** Rule recording-gap (recording-gap.ts). */
  recordingGaps(scope?: ScanScope): Flag[] {
    return this.raise(recordingGapFindings(this.ctx, scope));
  }

  /** Rule clock-drift, the drift measured at docks (clock-drift.ts). */
  clockDrift(): Flag[] {
    return this.raise(clockDriftFindings(this.ctx));
  }

  /** Rules attribution-conflict and clock-drift as the dock rows say them (dock-findings.ts). */
  dockFindings(): Flag[] {
    return this.raise(dockFindings(this.ctx));
  }

  /** Rule repair-overdue (repair-overdue.ts). */
  repairOverdue(): Flag[] {
    return this.raise(repairOverdueFindings(this.ctx));
  }

  /**
   * The scope of an incremental scan: what changed since the last one. A shift is
   * judged until well past its upload deadline (a day more), because it may be judged
   * only once its recorder has docked; after that its findings can no longer appear.
   */
  private incrementalScope(): ScanScope {
    const meta = (k: string) => this.deps.catalog.getMeta(k);
    const last = meta(META_TIME);
    const endedAfter = last === null ? '' : new Date(Date.parse(last) - (this.deps.settings.uploadDeadlineHours + 24) * 3_600_000).toISOString();
    return { evidenceAfter: Number(meta(META_EVIDENCE) ?? 0), assignmentsAfter: Number(meta(META_ASSIGNMENTS) ?? 0), endedAfter };
  }

  /**
   * Every rule, then escalation of overdue flags. Idempotent. Incremental unless
   * `full`: evidence and assignments already scanned are not read again (a full scan
   * finds nothing an incremental one missed, it only costs more).
   */
  scan(opts: { full?: boolean } = {}): { raised: Flag[]; escalated: Flag[] } {
    const scope = opts.full ? undefined : this.incrementalScope();
    // Taken before the rules run: rows added meanwhile are scanned next time.
    const top = this.db
      .prepare<[], { e: number | null; a: number | null }>('SELECT (SELECT max(rowid) FROM evidence) AS e, (SELECT max(rowid) FROM assignments) AS a')
      .get()!;
    // Evidence of a recorder whose session is still running is not judged by every rule
    // yet (sequence-gap waits for the session's end): the position stays before it, so the
    // scan after its undock reads it again (the rules are idempotent).
    const heldBack = this.db
      .prepare<[number], { r: number | null }>(
        'SELECT min(rowid) AS r FROM evidence WHERE rowid > ? AND recorder_serial IN (SELECT recorder_serial FROM docks WHERE undocked_at IS NULL AND session_status IS NULL)',
      )
      .get(scope?.evidenceAfter ?? 0)!.r;
    if (heldBack !== null && top.e !== null) top.e = Math.min(top.e, heldBack - 1);
    const startedAt = this.ctx.now();
    this.attributeUnassigned(scope);
    const raised = [
      ...this.lateUploads(scope),
      ...this.attributionConflicts(scope),
      ...this.missingUploads(scope),
      ...this.sequenceGaps(scope),
      ...this.recordingGaps(scope),
      ...this.clockDrift(),
      ...this.dockFindings(),
      ...this.repairOverdue(),
    ];
    this.deps.catalog.tx(() => {
      const prevE = Number(this.deps.catalog.getMeta(META_EVIDENCE) ?? 0);
      const prevA = Number(this.deps.catalog.getMeta(META_ASSIGNMENTS) ?? 0);
      this.deps.catalog.setMeta(META_EVIDENCE, String(Math.max(prevE, top.e ?? 0)));
      this.deps.catalog.setMeta(META_ASSIGNMENTS, String(Math.max(prevA, top.a ?? 0)));
      const prevT = this.deps.catalog.getMeta(META_TIME);
      if (prevT === null || prevT < startedAt) this.deps.catalog.setMeta(META_TIME, startedAt);
    });
    const escalated = this.deps.flags.escalateOverdue(this.deps.actor);
    for (const f of escalated) {
      this.deps.activity?.publish({
        type: 'flag',
        flag: { id: f.id, rule: f.rule, state: f.state, unit: f.unit, serial: f.recorderSerial, officer: f.officer, summary: f.summary, raisedAt: f.raisedAt, dueBy: f.dueBy },
      });
    }
    return { raised, escalated };
  }
}
