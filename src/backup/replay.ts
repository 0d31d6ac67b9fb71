import { randomBytes } from 'node:crypto';
import type { Db } from '../catalog/index.js';
import { EvidenceRebuilder, type LedgerEntry } from '../ledger/index.js';

/**
 * Replays ledger entries onto a catalog: the state each entry records, as the service
 * that wrote it changed it in the same transaction. A restore applies every sealed
 * entry after its snapshot (docs/operations.md). Evidence, cases, holds, purge
 * announcements and proxies are the ledger rebuild's own replay (EvidenceRebuilder);
 * users, access requests, officers, assignments, flags, recorders and docks are
 * replayed here.
 *
 * What the ledger never carries is not restored: secrets (a replayed user gets a
 * token hash nobody holds, and no password: both are re-issued), sign-in sessions,
 * media details beyond the duration, the jobs queue, purge-run reports and the USB
 * devices seen. An entry the catalog refuses (a constraint) is counted, never guessed.
 */
export class CatalogReplayer {
  /** Entries whose state was applied. */
  applied = 0;
  /** Entries that record no catalog state (views, sign-ins, checkpoints of their own …). */
  recordOnly = 0;
  /** Entries the catalog refused, by type. */
  readonly refused = new Map<string, number>();
  private readonly evidence: EvidenceRebuilder;
  private readonly q;

  constructor(private readonly db: Db) {
    this.evidence = new EvidenceRebuilder(db);
    this.q = {
      userCreated: db.prepare(`INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, token_expires_at, created_at, created_by)
        VALUES (@id, @name, @role, @unit, @tokenHash, @time, @expires, @time, @actor)`),
      userRevoked: db.prepare('UPDATE users SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL'),
      userToken: db.prepare('UPDATE users SET token_issued_at = ?, token_expires_at = ? WHERE id = ?'),
      userRole: db.prepare('UPDATE users SET role = ?, unit = ? WHERE id = ?'),
      officerRegistered: db.prepare('INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      officerUpdated: db.prepare('UPDATE officers SET name = ?, unit = ?, user_id = ?, updated_at = ? WHERE number = ?'),
      assignmentCreated: db.prepare(
        'INSERT INTO assignments (id, officer, recorder_serial, unit, starts_at, ends_at, source, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      assignmentEnded: db.prepare('UPDATE assignments SET ends_at = ?, ended_by = ? WHERE id = ?'),
      flagRaised: db.prepare(`INSERT INTO flags (id, rule, dedupe_key, officer, recorder_serial, evidence_id, assignment_id, dock_id, unit, seen, summary, raised_at, due_by)
        VALUES (@id, @rule, @key, @officer, @recorder, @evidence, @assignment, @dock, @unit, @seen, @summary, @time, @dueBy)`),
      flagEvidence: db.prepare('INSERT OR IGNORE INTO flag_evidence (flag_id, evidence_id) VALUES (?, ?)'),
      flagEscalated: db.prepare("UPDATE flags SET state = 'escalated', escalated_at = ? WHERE id = ? AND state = 'open'"),
      flagResolved: db.prepare("UPDATE flags SET state = 'resolved', resolved_at = ?, resolved_by = ?, approved_by = ?, resolution = ? WHERE id = ?"),
      requestCreated: db.prepare('INSERT INTO access_requests (id, requester_id, reason, created_at) VALUES (?, ?, ?, ?)'),
      requestItem: db.prepare('INSERT INTO access_request_items (request_id, evidence_id) VALUES (?, ?)'),
      requestDecided: db.prepare(
        "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?, expires_at = ? WHERE id = ? AND status = 'pending'",
      ),
      requestRevoked: db.prepare("UPDATE access_requests SET status = 'expired', expired_at = ?, expires_at = ? WHERE id = ? AND status = 'approved'"),
      requestExpired: db.prepare("UPDATE access_requests SET status = 'expired', expired_at = ? WHERE id = ? AND status = 'approved'"),
      recorder: db.prepare(
        `INSERT INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES (@serial, @model, @officer, @unit, @time, @time)
         ON CONFLICT(serial) DO UPDATE SET model = coalesce(excluded.model, model), officer = coalesce(excluded.officer, officer),
           unit = coalesce(excluded.unit, unit), last_seen = excluded.last_seen`,
      ),
      recorderSeen: db.prepare('UPDATE recorders SET last_seen = ? WHERE serial = ?'),
      recorderStatus: db.prepare('UPDATE recorders SET status = ?, status_changed_at = ?, status_note = ? WHERE serial = ?'),
      docked: db.prepare(`INSERT INTO docks (id, recorder_serial, location, docked_at, battery_percent, device_clock, clock_drift_ms,
          storage_total_bytes, storage_free_bytes, verdict, reasons, reason_details, health_state, clock_drift_method)
        VALUES (@id, @serial, @location, @time, @battery, @deviceClock, @drift, @total, @free, @verdict, @reasons, @details, @state, @method)`),
      undocked: db.prepare(`UPDATE docks SET undocked_at = @time, undock_reason = @reason, pulled = @pulled, session_status = @sessionStatus,
          files_ingested = @ingested, files_failed = @failed, bytes_ingested = @bytes WHERE id = @id AND undocked_at IS NULL`),
      clockSynced: db.prepare('UPDATE docks SET clock_synced_at = ? WHERE id = ?'),
      clockSyncFailed: db.prepare('UPDATE docks SET clock_sync_error = ? WHERE id = ?'),
      // As the analysis sets them: the end from the duration, and the corrected end from the corrected start.
      analysed: db.prepare(`UPDATE evidence SET duration_ms = @duration, thumbnail_sha256 = @thumb, recorded_end = coalesce(recorded_end, @end),
          recorded_end_corrected = coalesce(recorded_end_corrected, CASE WHEN recorded_start_corrected IS NOT NULL AND @duration IS NOT NULL
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', recorded_start_corrected, printf('%+.3f seconds', @duration / 1000.0)) END)
        WHERE id = @id`),
      attributed: db.prepare('UPDATE evidence SET officer = ?, unit = coalesce(unit, ?) WHERE id = ? AND officer IS NULL'),
    };
  }

  /** Evidence rows rebuilt and entries the evidence replay skipped. */
  get evidenceCounts(): { rebuilt: number; skipped: number } {
    return { rebuilt: this.evidence.rebuilt, skipped: this.evidence.skipped };
  }

  /** Apply one entry. Call inside the transaction that inserts it into the ledger. */
  apply(e: LedgerEntry): void {
    const before = this.evidence.skipped;
    if (EVIDENCE_TYPES.has(e.type) || e.type.startsWith('case.') || e.type.startsWith('hold.')) {
      this.evidence.apply(e);
      if (this.evidence.skipped > before) this.refuse(e.type);
      else this.applied++;
      return;
    }
    try {
      // A statement the catalog refuses is undone alone (SQLite statement rollback); the
      // entry itself is still inserted by the caller.
      if (this.applyOther(e)) this.applied++;
      else this.recordOnly++;
    } catch {
      this.refuse(e.type);
    }
  }

  private refuse(type: string): void {
    this.refused.set(type, (this.refused.get(type) ?? 0) + 1);
  }

  private applyOther(e: LedgerEntry): boolean {
    const d = e.data;
    const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const userOf = (actor: string): string | null => (actor.startsWith('user:') ? actor.slice(5) : null);
    switch (e.type) {
      case 'user.created':
        this.q.userCreated.run({
          id: e.subject,
          name: s(d.name),
          role: s(d.role),
          unit: s(d.unit),
          // A token nobody holds: tokens are secrets, never ledgered; `custody users token` re-issues one.
          tokenHash: randomBytes(32).toString('hex'),
          time: e.time,
          expires: s(d.tokenExpiresAt),
          actor: e.actor,
        });
        return true;
      case 'user.revoked':
        this.q.userRevoked.run(e.time, e.actor, e.subject);
        return true;
      case 'user.token-issued':
        this.q.userToken.run(e.time, s(d.tokenExpiresAt), e.subject);
        return true;
      case 'user.role-changed': {
        const to = (d.to ?? {}) as Record<string, unknown>;
        this.q.userRole.run(s(to.role), s(to.unit), e.subject);
        return true;
      }
      case 'officer.registered':
        this.q.officerRegistered.run(e.subject, s(d.name), s(d.unit), s(d.userId), e.time, e.time);
        return true;
      case 'officer.updated': {
        const to = (d.to ?? {}) as Record<string, unknown>;
        this.q.officerUpdated.run(s(to.name), s(to.unit), s(to.userId), e.time, e.subject);
        return true;
      }
      case 'assignment.created':
        this.q.assignmentCreated.run(e.subject, s(d.officer), s(d.recorder), s(d.unit), s(d.startsAt), s(d.endsAt), s(d.source), e.time, e.actor);
        return true;
      case 'assignment.ended':
        this.q.assignmentEnded.run(s(d.endsAt), e.actor, e.subject);
        return true;
      case 'flag.raised': {
        this.q.flagRaised.run({
          id: e.subject,
          rule: s(d.rule),
          key: s(d.key),
          officer: s(d.officer),
          recorder: s(d.recorder),
          evidence: s(d.evidence),
          assignment: s(d.assignment),
          dock: s(d.dock),
          unit: s(d.unit),
          seen: JSON.stringify(d.seen ?? {}),
          summary: s(d.summary),
          time: e.time,
          dueBy: s(d.dueBy),
        });
        const named = new Set([...(s(d.evidence) ? [s(d.evidence)!] : []), ...(Array.isArray(d.evidenceIds) ? d.evidenceIds.filter((x): x is string => typeof x === 'string') : [])]);
        for (const id of named) this.q.flagEvidence.run(e.subject, id);
        return true;
      }
      case 'flag.escalated':
        this.q.flagEscalated.run(e.time, e.subject);
        return true;
      case 'flag.resolved':
        this.q.flagResolved.run(e.time, e.actor, s(d.approvedBy), s(d.reason), e.subject);
        return true;
      case 'access.request.created':
        this.q.requestCreated.run(e.subject, s(d.requester), s(d.reason), e.time);
        for (const id of Array.isArray(d.evidenceIds) ? d.evidenceIds : []) this.q.requestItem.run(e.subject, s(id));
        return true;
      case 'access.request.approved':
      case 'access.request.denied':
        this.q.requestDecided.run(e.type === 'access.request.approved' ? 'approved' : 'denied', userOf(e.actor), e.time, s(d.note), s(d.expiresAt), e.subject);
        return true;
      case 'access.request.revoked':
        this.q.requestRevoked.run(e.time, e.time, e.subject);
        return true;
      case 'access.request.expired':
        this.q.requestExpired.run(e.time, e.subject);
        return true;
      case 'recorder.registered':
        this.q.recorder.run({ serial: s(d.serial) ?? e.subject, model: s(d.model), officer: s(d.officer), unit: s(d.unit), time: e.time });
        return true;
      case 'device.status-changed':
        this.q.recorderStatus.run(s(d.to), e.time, s(d.note), e.subject);
        return true;
      case 'device.docked': {
        const h = (d.health ?? {}) as Record<string, unknown>;
        const reasons = (Array.isArray(d.reasons) ? d.reasons : []) as { code?: unknown; message?: unknown; params?: unknown }[];
        this.q.docked.run({
          id: s(d.dockId),
          serial: e.subject,
          location: s(d.location) ?? '',
          time: e.time,
          battery: n(h.batteryPercent),
          deviceClock: s(h.deviceClock),
          drift: n(h.clockDriftMs),
          total: n(h.storageTotalBytes),
          free: n(h.storageFreeBytes),
          verdict: s(d.verdict),
          reasons: JSON.stringify(reasons.map((r) => r.message)),
          details: JSON.stringify(reasons.map(({ code, message, params }) => ({ code, message, params }))),
          state: s(d.state),
          method: s(h.clockDriftMethod),
        });
        if (e.subject) this.q.recorderSeen.run(e.time, e.subject);
        return true;
      }
      case 'device.undocked':
        this.q.undocked.run({
          id: s(d.dockId),
          time: e.time,
          reason: s(d.reason),
          pulled: d.pulled === true ? 1 : 0,
          sessionStatus: s(d.sessionStatus),
          ingested: n(d.ingested) ?? 0,
          failed: n(d.failed) ?? 0,
          bytes: n(d.bytes) ?? 0,
        });
        return true;
      case 'device.clock-synced':
        if (!s(d.dockId)) return false;
        this.q.clockSynced.run(s(d.setTo), s(d.dockId));
        return true;
      case 'device.clock-sync-failed': {
        if (!s(d.dockId)) return false;
        const err = d.error;
        this.q.clockSyncFailed.run(typeof err === 'string' ? err : JSON.stringify(err), s(d.dockId));
        return true;
      }
      case 'evidence.analysed': {
        const thumb = d.thumbnail as { sha256?: unknown } | null | undefined;
        this.q.analysed.run({ duration: n(d.durationMs), thumb: s(thumb?.sha256), end: s(d.recordedEnd), id: e.subject });
        return true;
      }
      case 'evidence.attributed':
        this.q.attributed.run(s(d.officer), s(d.unit), e.subject);
        return true;
      default:
        return false;
    }
  }
}

/** The evidence entries the ledger rebuild's own replay handles. */
const EVIDENCE_TYPES = new Set(['evidence.ingested', 'evidence.wiped', 'evidence.purged', 'evidence.purge-announced', 'evidence.proxied']);
