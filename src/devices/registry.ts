import type { Catalog } from '../catalog/index.js';
import { CustodyError, NotFoundError, rfc3339, UsageError } from '../core/index.js';
import { DeviceRepo, RECORDER_STATUS_NEXT, RECORDER_STATUSES, type DeviceRecord, type DockRecord, type RecorderServiceStatus } from './device-repo.js';
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
   * Change a recorder's status (in service, reported damaged, in repair, retired),
   * along RECORDER_STATUS_NEXT only. Returns changed false when it already had that
   * status with that note (nothing is recorded then); the same status with another
   * note is refused, so a second report cannot move the Art. 14 deadline.
   *
   * `since`, for a report of damage: when the damage was discovered (Art. 14's
   * deadline counts from it), not in the future nor before the recorder's last status
   * change; default now. It is the status's time (`statusChangedAt`).
   */
  setStatus(serial: string, status: string, opts: { actor: string; note?: string | null; since?: string | null }): { changed: boolean; device: DeviceRecord } {
    if (!isRecorderStatus(status)) throw new UsageError(`status must be one of ${RECORDER_STATUSES.join(', ')}; got "${status}"`);
    const note = opts.note?.trim() ? opts.note.trim() : null;
    return this.catalog.tx(() => {
      const before = this.repo.recorder(serial);
      if (!before) throw new NotFoundError('recorder', serial);
      if (before.status === status && before.statusNote === note && !opts.since) return { changed: false, device: before };
      if (!RECORDER_STATUS_NEXT[before.status].includes(status)) {
        const allowed = RECORDER_STATUS_NEXT[before.status];
        throw new CustodyError(
          'RECORDER_STATUS_TRANSITION',
          `recorder ${serial} is ${before.status}: it can ${allowed.length ? `become ${allowed.join(' or ')}` : 'not change status any more'}, not ${status}`,
        );
      }
      const now = rfc3339(this.catalog.clock.now());
      let at = now;
      if (opts.since) {
        if (status !== 'reported-damaged') throw new CustodyError('INVALID_INPUT', 'a discovery time is given only with a report of damage (reported-damaged)');
        const since = Date.parse(opts.since);
        if (Number.isNaN(since)) throw new CustodyError('INVALID_INPUT', `discovery time "${opts.since}" is not a date-time`);
        if (since > Date.parse(now)) throw new CustodyError('INVALID_INPUT', 'the damage cannot have been discovered in the future');
        if (before.statusChangedAt && since < Date.parse(before.statusChangedAt)) {
          throw new CustodyError('INVALID_INPUT', `the damage cannot have been discovered before the recorder's last status change (${before.statusChangedAt})`);
        }
        at = rfc3339(new Date(since));
      }
      this.repo.setStatus(serial, status, note, at);
      ledgerOf(this.catalog).append({
        type: 'device.status-changed',
        actor: opts.actor,
        subject: serial,
        data: at === now ? { from: before.status, to: status, note } : { from: before.status, to: status, note, since: at },
      });
      return { changed: true, device: this.repo.recorder(serial)! };
    });
  }
}
