import type { Db } from '../catalog/index.js';
import type { IdentityConflict } from './driver.js';
import { type HealthReason, type HealthState, isHealthReasonCode, type RecordedReason, type Verdict } from './health-check.js';

/** A recorder's service status (the rules' Att.1 Art.14). */
export const RECORDER_STATUSES = ['in-service', 'reported-damaged', 'in-repair', 'retired'] as const;
export type RecorderServiceStatus = (typeof RECORDER_STATUSES)[number];

/**
 * The changes a recorder's status may make (Att.1 Art.14): a recorder in service is
 * reported damaged (报修) or retired (报废); a reported one is handed in for repair
 * (维修中) or retired; a repaired one goes back in service (在用) or is retired. A
 * retired recorder stays retired. Every path (CLI, API, console) goes through this.
 */
export const RECORDER_STATUS_NEXT: Readonly<Record<RecorderServiceStatus, readonly RecorderServiceStatus[]>> = {
  'in-service': ['reported-damaged', 'retired'],
  'reported-damaged': ['in-repair', 'retired'],
  'in-repair': ['in-service', 'retired'],
  retired: [],
};

/** One dock of a recorder: its pre-duty health snapshot, verdict and what the session did. */
export interface DockRecord {
  id: string;
  recorderSerial: string | null;
  location: string;
  dockedAt: string;
  undockedAt: string | null;
  batteryPercent: number | null;
  deviceClock: string | null;
  clockDriftMs: number | null;
  storageTotalBytes: number | null;
  storageFreeBytes: number | null;
  verdict: Verdict | null;
  /** The three-state verdict (ready, not-ready, unchecked); null before migration 011. */
  healthState: HealthState | null;
  /** How the drift was found (device-clock, status-file, newest-file-estimate); null when none was. */
  clockDriftMethod: string | null;
  /** Where files or the USB serial named the recorder otherwise than the recorder itself. */
  identityConflicts: IdentityConflict[] | null;
  /** Why the clock could not be set after the session, when it could not. */
  clockSyncError: string | null;
  /**
   * Why not ready, one sentence each (column `reasons`, a JSON array of strings, as
   * the API shows it, for scripts and people). Readers that decide or translate use
   * `reasonDetails`.
   */
  reasons: string[];
  /**
   * The same reasons, in the same order, as code, sentence and figures (column
   * `reason_details`, migration 015). A dock recorded before has code null and no
   * figures: only its sentence is known (its codes are in its `device.docked` entry).
   */
  reasonDetails: RecordedReason[];
  clockSyncedAt: string | null;
  /** complete | paused | aborted | recorder-gone | failed | interrupted (daemon stopped mid-way) | null (running). */
  sessionStatus: string | null;
  filesIngested: number;
  filesFailed: number;
  bytesIngested: number;
  /** Why the dock ended (removed, unmounted, usb-detach, recorder-gone, custody-stopped); null while docked or before migration 009. */
  undockReason: string | null;
  /** The recorder went while its check or session was still running. */
  pulled: boolean;
}

export interface DeviceRecord {
  serial: string;
  model: string | null;
  officer: string | null;
  unit: string | null;
  firstSeen: string;
  lastSeen: string;
  status: RecorderServiceStatus;
  statusChangedAt: string | null;
  statusNote: string | null;
}

/** A `docks` row as SQLite returns it (SELECT * or the same columns). */
export interface DockRow {
  id: string;
  recorder_serial: string | null;
  location: string;
  docked_at: string;
  undocked_at: string | null;
  battery_percent: number | null;
  device_clock: string | null;
  clock_drift_ms: number | null;
  storage_total_bytes: number | null;
  storage_free_bytes: number | null;
  verdict: Verdict | null;
  reasons: string;
  /** Migration 015; NULL for docks recorded before, absent from queries that name their columns without it. */
  reason_details?: string | null;
  clock_synced_at: string | null;
  session_status: string | null;
  files_ingested: number;
  files_failed: number;
  bytes_ingested: number;
  undock_reason: string | null;
  pulled: number;
  /** Migration 011; absent from queries that name their columns without them. */
  health_state?: HealthState | null;
  clock_drift_method?: string | null;
  identity_conflicts?: string | null;
  clock_sync_error?: string | null;
}

interface RecorderRow {
  serial: string;
  model: string | null;
  officer: string | null;
  unit: string | null;
  first_seen: string;
  last_seen: string;
  status: RecorderServiceStatus;
  status_changed_at: string | null;
  status_note: string | null;
}

function parseJsonArray(text: string | null | undefined): unknown[] | null {
  if (text === null || text === undefined) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function parseReasons(text: string): string[] {
  return (parseJsonArray(text) ?? []).map(String);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One stored figure: a scalar, as HealthReasonParams has them. */
const isFigure = (v: unknown): v is string | number | boolean | null => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * A dock's reasons as code, sentence and figures: from `reason_details` when the dock
 * has it, else from its sentences with code null (docks recorded before migration 015).
 * A code this version does not know reads as null, so readers fall back to the sentence.
 */
function parseReasonDetails(details: string | null | undefined, reasons: string[]): RecordedReason[] {
  const stored = parseJsonArray(details);
  if (!stored) return reasons.map((message) => ({ code: null, message, params: {} }));
  return stored.map((v) => {
    if (!isObject(v)) return { code: null, message: String(v), params: {} };
    const params = isObject(v.params) ? Object.fromEntries(Object.entries(v.params).filter(([, x]) => isFigure(x))) : {};
    return { code: isHealthReasonCode(v.code) ? v.code : null, message: typeof v.message === 'string' ? v.message : '', params: params as RecordedReason['params'] };
  });
}

/** A dock row as a domain record; the one mapping, used by the registry and the API. */
export function dockFromRow(r: DockRow): DockRecord {
  return {
    id: r.id,
    recorderSerial: r.recorder_serial,
    location: r.location,
    dockedAt: r.docked_at,
    undockedAt: r.undocked_at,
    batteryPercent: r.battery_percent,
    deviceClock: r.device_clock,
    clockDriftMs: r.clock_drift_ms,
    storageTotalBytes: r.storage_total_bytes,
    storageFreeBytes: r.storage_free_bytes,
    verdict: r.verdict,
    healthState: r.health_state ?? null,
    clockDriftMethod: r.clock_drift_method ?? null,
    identityConflicts: r.identity_conflicts ? (JSON.parse(r.identity_conflicts) as IdentityConflict[]) : null,
    clockSyncError: r.clock_sync_error ?? null,
    reasons: parseReasons(r.reasons),
    reasonDetails: parseReasonDetails(r.reason_details, parseReasons(r.reasons)),
    clockSyncedAt: r.clock_synced_at,
    sessionStatus: r.session_status,
    filesIngested: r.files_ingested,
    filesFailed: r.files_failed,
    bytesIngested: r.bytes_ingested,
    undockReason: r.undock_reason,
    pulled: r.pulled === 1,
  };
}

function deviceFromRow(r: RecorderRow): DeviceRecord {
  return {
    serial: r.serial,
    model: r.model,
    officer: r.officer,
    unit: r.unit,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    status: r.status,
    statusChangedAt: r.status_changed_at,
    statusNote: r.status_note,
  };
}

/** A dock as recorded at its check: its reasons as the check gave them (both columns are made from them). */
export type NewDock = Omit<
  DockRecord,
  'undockedAt' | 'clockSyncedAt' | 'sessionStatus' | 'filesIngested' | 'filesFailed' | 'bytesIngested' | 'undockReason' | 'pulled' | 'clockSyncError' | 'reasons' | 'reasonDetails'
> & { reasons: readonly HealthReason[] };

/**
 * The device registry and dock history in the catalog (tables `recorders` and
 * `docks`, migration 004). Writes must run inside `Catalog.tx`, with the ledger
 * entry that records them.
 */
export class DeviceRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insertDock: db.prepare(`INSERT INTO docks (id, recorder_serial, location, docked_at, battery_percent, device_clock, clock_drift_ms,
        storage_total_bytes, storage_free_bytes, verdict, reasons, reason_details, health_state, clock_drift_method, identity_conflicts)
        VALUES (@id, @recorderSerial, @location, @dockedAt, @batteryPercent, @deviceClock, @clockDriftMs,
        @storageTotalBytes, @storageFreeBytes, @verdict, @reasons, @reasonDetails, @healthState, @clockDriftMethod, @identityConflicts)`),
      clockSyncFailed: db.prepare('UPDATE docks SET clock_sync_error = ? WHERE id = ?'),
      endSession: db.prepare(`UPDATE docks SET session_status = @status, files_ingested = @ingested, files_failed = @failed,
        bytes_ingested = @bytes WHERE id = @id`),
      clockSynced: db.prepare('UPDATE docks SET clock_synced_at = ? WHERE id = ?'),
      undocked: db.prepare('UPDATE docks SET undocked_at = @at, undock_reason = @reason, pulled = @pulled WHERE id = @id AND undocked_at IS NULL'),
      openDocks: db.prepare<[], DockRow>('SELECT * FROM docks WHERE undocked_at IS NULL ORDER BY docked_at, rowid'),
      interrupted: db.prepare("UPDATE docks SET session_status = 'interrupted' WHERE session_status IS NULL"),
      dock: db.prepare<[string], DockRow>('SELECT * FROM docks WHERE id = ?'),
      docksOf: db.prepare<[string, number], DockRow>('SELECT * FROM docks WHERE recorder_serial = ? ORDER BY docked_at DESC, rowid DESC LIMIT ?'),
      recentDocks: db.prepare<[number], DockRow>('SELECT * FROM docks ORDER BY docked_at DESC, rowid DESC LIMIT ?'),
      lastDocks: db.prepare<[], DockRow>(`SELECT d.* FROM docks d WHERE d.rowid = (SELECT d2.rowid FROM docks d2
        WHERE d2.recorder_serial = d.recorder_serial ORDER BY d2.docked_at DESC, d2.rowid DESC LIMIT 1)`),
      recorders: db.prepare<[], RecorderRow>('SELECT * FROM recorders ORDER BY serial'),
      recorder: db.prepare<[string], RecorderRow>('SELECT * FROM recorders WHERE serial = ?'),
      setStatus: db.prepare('UPDATE recorders SET status = @status, status_changed_at = @at, status_note = @note WHERE serial = @serial'),
      evidenceCount: db.prepare<[string], { n: number; bytes: number | null }>(
        "SELECT count(*) AS n, sum(size) AS bytes FROM evidence WHERE recorder_serial = ? AND status = 'live'",
      ),
    };
  }

  insertDock(d: NewDock): void {
    this.q.insertDock.run({
      ...d,
      reasons: JSON.stringify(d.reasons.map((r) => r.message)),
      reasonDetails: JSON.stringify(d.reasons.map(({ code, message, params }) => ({ code, message, params }))),
      identityConflicts: d.identityConflicts ? JSON.stringify(d.identityConflicts) : null,
    });
  }

  setClockSyncFailed(id: string, error: string): void {
    this.q.clockSyncFailed.run(error, id);
  }

  endSession(id: string, s: { status: string; ingested: number; failed: number; bytes: number }): void {
    this.q.endSession.run({ id, ...s });
  }

  setClockSynced(id: string, at: string): void {
    this.q.clockSynced.run(at, id);
  }

  /** Close a dock row; false when it was closed already. */
  setUndocked(id: string, at: string, reason: string, pulled: boolean): boolean {
    return this.q.undocked.run({ id, at, reason, pulled: pulled ? 1 : 0 }).changes > 0;
  }

  /** Docks with no undock time: at start-up, those a stopped process left open. */
  openDocks(): DockRecord[] {
    return this.q.openDocks.all().map(dockFromRow);
  }

  /** Sessions left running by a process that stopped: mark them interrupted; returns how many. */
  markInterrupted(): number {
    return this.q.interrupted.run().changes;
  }

  dock(id: string): DockRecord | null {
    const r = this.q.dock.get(id);
    return r ? dockFromRow(r) : null;
  }

  docksOf(serial: string, limit = 50): DockRecord[] {
    return this.q.docksOf.all(serial, limit).map(dockFromRow);
  }

  recentDocks(limit = 50): DockRecord[] {
    return this.q.recentDocks.all(limit).map(dockFromRow);
  }

  /** The latest dock of every recorder, by serial. */
  lastDocks(): Map<string, DockRecord> {
    const m = new Map<string, DockRecord>();
    for (const r of this.q.lastDocks.all()) if (r.recorder_serial) m.set(r.recorder_serial, dockFromRow(r));
    return m;
  }

  recorders(): DeviceRecord[] {
    return this.q.recorders.all().map(deviceFromRow);
  }

  recorder(serial: string): DeviceRecord | null {
    const r = this.q.recorder.get(serial);
    return r ? deviceFromRow(r) : null;
  }

  setStatus(serial: string, status: RecorderServiceStatus, note: string | null, at: string): void {
    this.q.setStatus.run({ serial, status, note, at });
  }

  evidenceCount(serial: string): { items: number; bytes: number } {
    const r = this.q.evidenceCount.get(serial);
    return { items: r?.n ?? 0, bytes: r?.bytes ?? 0 };
  }
}
