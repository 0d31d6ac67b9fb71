import type { Db } from '../../catalog/index.js';
import { dockFromRow, type DockRecord as RegistryDockRecord, type DockRow } from '../../devices/index.js';

export type DeviceStatus = 'in-service' | 'reported-damaged' | 'in-repair' | 'retired';

/** One dock of a recorder with the pre-duty health snapshot taken then (Art. 4). */
export type DockRecord = Omit<RegistryDockRecord, 'recorderSerial'>;

export interface Device {
  serial: string;
  model: string | null;
  officer: string | null;
  unit: string | null;
  status: DeviceStatus;
  statusChangedAt: string | null;
  statusNote: string | null;
  firstSeen: string;
  lastSeen: string;
  lastDock: DockRecord | null;
}

interface RecorderRow {
  serial: string;
  model: string | null;
  officer: string | null;
  unit: string | null;
  status: DeviceStatus;
  status_changed_at: string | null;
  status_note: string | null;
  first_seen: string;
  last_seen: string;
}


const RECORDER_COLUMNS = 'serial, model, officer, unit, status, status_changed_at, status_note, first_seen, last_seen';
const DOCK_COLUMNS = `id, recorder_serial, location, docked_at, undocked_at, battery_percent, device_clock, clock_drift_ms, storage_total_bytes,
  storage_free_bytes, verdict, reasons, reason_details, clock_synced_at, session_status, files_ingested, files_failed, bytes_ingested, undock_reason, pulled,
  health_state, clock_drift_method`;

/** The registry's mapping, without the serial the API already puts around it. */
function dock(r: DockRow): DockRecord {
  const { recorderSerial: _serial, ...rest } = dockFromRow(r);
  return rest;
}

export interface DeviceFilter {
  unit?: string | undefined;
  officer?: string | undefined;
  status?: DeviceStatus | undefined;
}

/** The recorder registry and dock history (migrations 002 and 004), read-only. */
export class DeviceQueries {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      list: db.prepare<Record<string, string | number | null>, RecorderRow>(
        `SELECT ${RECORDER_COLUMNS} FROM recorders
         WHERE serial > @after
           AND (@scope IS NULL OR unit = @scope)
           AND (@unit IS NULL OR unit = @unit)
           AND (@officer IS NULL OR officer = @officer)
           AND (@status IS NULL OR status = @status)
         ORDER BY serial LIMIT @limit`,
      ),
      get: db.prepare<[string], RecorderRow>(`SELECT ${RECORDER_COLUMNS} FROM recorders WHERE serial = ?`),
      unitOf: db.prepare<[string], { unit: string | null }>('SELECT unit FROM recorders WHERE serial = ?'),
      lastDock: db.prepare<[string], DockRow>(`SELECT ${DOCK_COLUMNS} FROM docks WHERE recorder_serial = ? ORDER BY docked_at DESC, id DESC LIMIT 1`),
      docks: db.prepare<[string, string, string, string, number], DockRow>(
        `SELECT ${DOCK_COLUMNS} FROM docks WHERE recorder_serial = ? AND (docked_at < ? OR (docked_at = ? AND id < ?))
         ORDER BY docked_at DESC, id DESC LIMIT ?`,
      ),
      // For a unit-scoped caller: only docks made while the recorder was in their unit
      // (issue 14). The unit at the time is the one the recorder reported, recorded in
      // the dock's device.docked entry; a dock without one counts as the current unit.
      docksInUnit: db.prepare<{ serial: string; at: string; id: string; scope: string; current: string | null; limit: number }, DockRow>(
        `SELECT ${DOCK_COLUMNS.split(',').map((c) => `d.${c.trim()}`).join(', ')} FROM docks d
          WHERE d.recorder_serial = @serial AND (d.docked_at < @at OR (d.docked_at = @at AND d.id < @id))
            AND coalesce((SELECT json_extract(l.data, '$.identity.unit') FROM ledger l
                           WHERE l.subject = d.recorder_serial AND l.type = 'device.docked' AND json_extract(l.data, '$.dockId') = d.id LIMIT 1),
                         @current) = @scope
          ORDER BY d.docked_at DESC, d.id DESC LIMIT @limit`,
      ),
    };
  }

  list(scopeUnit: string | null, f: DeviceFilter, afterSerial: string | null, limit: number): Device[] {
    const rows = this.q.list.all({
      after: afterSerial ?? '',
      scope: scopeUnit,
      unit: f.unit ?? null,
      officer: f.officer ?? null,
      status: f.status ?? null,
      limit,
    });
    return rows.map((r) => this.device(r));
  }

  get(serial: string): Device | null {
    const r = this.q.get.get(serial);
    return r ? this.device(r) : null;
  }

  /** The unit a recorder belongs to; undefined when the recorder is unknown. */
  unitOf(serial: string): string | null | undefined {
    const r = this.q.unitOf.get(serial);
    return r ? r.unit : undefined;
  }

  /**
   * Docks of one recorder, newest first. With `scope` (a unit-scoped caller's unit),
   * only the docks made while the recorder belonged to that unit: its history under
   * another unit is that unit's.
   */
  docks(serial: string, after: { dockedAt: string; id: string } | null, limit: number, scope: { unit: string; current: string | null } | null = null): DockRecord[] {
    const at = after?.dockedAt ?? '\uffff';
    if (scope) return this.q.docksInUnit.all({ serial, at, id: after?.id ?? '', scope: scope.unit, current: scope.current, limit }).map(dock);
    return this.q.docks.all(serial, at, at, after?.id ?? '', limit).map(dock);
  }

  private device(r: RecorderRow): Device {
    const last = this.q.lastDock.get(r.serial);
    return {
      serial: r.serial,
      model: r.model,
      officer: r.officer,
      unit: r.unit,
      status: r.status,
      statusChangedAt: r.status_changed_at,
      statusNote: r.status_note,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      lastDock: last ? dock(last) : null,
    };
  }
}
