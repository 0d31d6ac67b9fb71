import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { UsersService } from '../../src/access/index.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { createCompliance, type Compliance } from '../../src/compliance/index.js';
import { complianceOptions } from '../../src/options.js';
import { configSchema } from '../../src/config/schema.js';
import { ActivityBus, type ActivityEvent } from '../../src/core/activity.js';
import { TestClock } from './api-fixtures.js';

export interface ClipSeed {
  serial: string;
  name: string;
  /** Device times as the recorder stamped them. */
  start: string;
  end?: string | null;
  /** Drift-corrected times, when the drift was measured. */
  startCorrected?: string | null;
  endCorrected?: string | null;
  driftMs?: number | null;
  ingestedAt: string;
  officer?: string | null;
  unit?: string | null;
  type?: 'video' | 'audio' | 'photo';
}

export interface ComplianceRig {
  clock: TestClock;
  catalog: Catalog;
  activity: ActivityBus;
  events: ActivityEvent[];
  c: Compliance;
  clip(s: ClipSeed): string;
  dock(serial: string, dockedAt: string, driftMs?: number | null, undockedAt?: string | null): string;
  user(name: string, role: string, unit?: string | null): string;
  ledgerTypes(): string[];
}

/** A real catalog file in dir with the compliance services, on a clock the test moves. */
export function complianceRig(dir: string, overrides: Record<string, unknown> = {}): ComplianceRig {
  const clock = new TestClock(Date.parse('2026-12-05T00:00:00.000Z'));
  const catalog = Catalog.open(join(dir, 'catalog.db'), { clock });
  const activity = new ActivityBus();
  const events: ActivityEvent[] = [];
  activity.subscribe((e) => events.push(e));
  const parsed = configSchema.parse({ compliance: overrides });
  const c = createCompliance({ catalog, settings: complianceOptions(parsed), actor: 'custody:test', activity });
  const recorder = (serial: string, at: string) =>
    catalog.db.prepare('INSERT INTO recorders (serial, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT(serial) DO NOTHING').run(serial, at, at);
  const users = new UsersService(catalog);
  return {
    clock,
    catalog,
    activity,
    events,
    c,
    clip(s) {
      recorder(s.serial, s.ingestedAt);
      const id = uuidv7();
      catalog.db
        .prepare(
          `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms,
            recorded_start, recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected, ingested_at, session_id)
           VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'metadata', ?, ?, ?, ?, 's')`,
        )
        .run(
          id,
          id.replace(/-/gu, '').padEnd(64, '0'),
          s.type ?? 'video',
          s.serial,
          s.officer ?? null,
          s.unit ?? null,
          `DCIM/${s.name}`,
          s.name,
          s.start,
          s.end ?? null,
          s.driftMs ?? null,
          s.startCorrected ?? null,
          s.endCorrected ?? null,
          s.ingestedAt,
        );
      return id;
    },
    dock(serial, dockedAt, driftMs = 0, undockedAt = null) {
      recorder(serial, dockedAt);
      const id = uuidv7();
      catalog.db
        .prepare("INSERT INTO docks (id, recorder_serial, location, docked_at, undocked_at, clock_drift_ms, session_status) VALUES (?, ?, '/media/x', ?, ?, ?, 'complete')")
        .run(id, serial, dockedAt, undockedAt, driftMs);
      return id;
    },
    user(name, role, unit = null) {
      return users.create({ name, role, unit, tokenExpiresAt: null }, 'test').user.id;
    },
    ledgerTypes() {
      return catalog.db.prepare<[], { type: string }>('SELECT type FROM ledger ORDER BY seq').all().map((r) => r.type);
    },
  };
}
