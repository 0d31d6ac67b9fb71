import type { Catalog } from '../catalog/index.js';
import { NotFoundError, rfc3339, UsageError } from '../core/index.js';
import { DeviceRepo, RECORDER_STATUSES, type DeviceRecord, type DockRecord, type RecorderServiceStatus } from './device-repo.js';
import { ledgerOf } from '../ledger/index.js';

export interface DeviceSummary extends DeviceRecord {
  lastDock: DockRecord | null;
}

export interface DeviceDetail extends DeviceSummary {
  docks: DockRecord[];
  evidence: { items: number; bytes: number };
}

export function isRecorderStatus(s: string): s is RecorderServiceStatus {
  return (RECORDER_STATUSES as readonly string[]).includes(s);
}

/**
 * The device registry: recorders with their service status and their dock and health
 * history. Status changes are ledgered with the change.
 */
export class DeviceRegistry {
  private readonly repo: DeviceRepo;

  constructor(private readonly catalog: Catalog) {
    this.repo = new DeviceRepo(catalog.db);
  }

  list(): DeviceSummary[] {
    const last = this.repo.lastDocks();
    return this.repo.recorders().map((d) => ({ ...d, lastDock: last.get(d.serial) ?? null }));
  }

  show(serial: string, opts: { docks?: number } = {}): DeviceDetail {
    const d = this.repo.recorder(serial);
    if (!d) throw new NotFoundError('recorder', serial);
    const docks = this.repo.docksOf(serial, opts.docks ?? 20);
    return { ...d, lastDock: docks[0] ?? null, docks, evidence: this.repo.evidenceCount(serial) };
  }

  /**
   * Change a recorder's status (in service, reported damaged, in repair, retired).
   * Returns false when it already had that status (nothing is recorded then).
   */
  setStatus(serial: string, status: string, opts: { actor: string; note?: string | null }): { changed: boolean; device: DeviceRecord } {
    if (!isRecorderStatus(status)) throw new UsageError(`status must be one of ${RECORDER_STATUSES.join(', ')}; got "${status}"`);
    const note = opts.note?.trim() ? opts.note.trim() : null;
    return this.catalog.tx(() => {
      const before = this.repo.recorder(serial);
      if (!before) throw new NotFoundError('recorder', serial);
      if (before.status === status && before.statusNote === note) return { changed: false, device: before };
      const at = rfc3339(this.catalog.clock.now());
      this.repo.setStatus(serial, status, note, at);
      ledgerOf(this.catalog).append({
        type: 'device.status-changed',
        actor: opts.actor,
        subject: serial,
        data: { from: before.status, to: status, note },
      });
      return { changed: true, device: this.repo.recorder(serial)! };
    });
  }
}
