import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../../src/catalog/catalog.js';
import { ActivityBus, type ActivityEvent, type DockInfo } from '../../src/core/activity.js';
import { silentLogger } from '../../src/core/logger.js';
import { DockManager, loadProfiles, RECORDER_STATUS_FORMAT, type DockOutcome } from '../../src/devices/index.js';
import { IngestService } from '../../src/ingest/index.js';
import type { ObjectStore } from '../../src/vault/index.js';
import { settings, writeTree } from './ingest-fixtures.js';

/**
 * The dock manager over one store, one file at a time and wiping what it stored, with a
 * dropped recorder of four 4-digit-numbered clips and its status file: what the tests of
 * a dock paused for its vault (VAULT_UNAVAILABLE, VAULT_FULL) share.
 */
export async function pausingDock(opts: { catalog: Catalog; store: ObjectStore; dir: string; serial: string; clipBytes: number }) {
  const { catalog, store, serial } = opts;
  const activity = new ActivityBus();
  const events: ActivityEvent[] = [];
  const manager = new DockManager({
    catalog,
    ingest: new IngestService({ catalog, store, log: silentLogger, concurrency: 1, settings: { ...settings, settleSeconds: 0, perRecorder: 1, wipeAfterIngest: true } }),
    activity,
    profiles: loadProfiles(),
    thresholds: { minBatteryPercent: 30, maxClockDriftSeconds: 30, shiftHours: 8, recordingGbPerHour: 2, unknownIsNotReady: true },
    syncClock: false,
    dropProfile: 'generic-mass-storage',
    log: silentLogger,
  });
  const root = join(opts.dir, serial);
  const day = 'DCIM/20260301';
  const files = await writeTree(
    root,
    Object.fromEntries(['100128_0001', '100149_0002', '100210_0003', '100231_0004'].map((t) => [`${day}/${serial}_20260301${t}.MP4`, opts.clipBytes])),
  );
  const status = { format: RECORDER_STATUS_FORMAT, serial, model: 'SIM-DSJ-1', officer: '100001', unit: '350200000000', battery: 80, clockOffsetSeconds: 0, storageTotalBytes: 64e9, storageFreeBytes: 60e9 };
  await writeFile(join(root, '.RECORDER.JSON.tmp'), JSON.stringify(status));
  await rename(join(root, '.RECORDER.JSON.tmp'), join(root, 'RECORDER.JSON'));
  let paused: (d: DockInfo) => void = () => undefined;
  const pausedSeen = new Promise<DockInfo>((r) => (paused = r));
  activity.subscribe((e) => {
    events.push(e);
    if (e.type === 'dock' && e.dock.paused) paused(e.dock);
  });
  return {
    manager,
    activity,
    events,
    root,
    files,
    /** The first dock event that says paused. */
    pausedSeen,
    /** The catalog's evidence rows, by source path. */
    rows: (): Array<{ source_path: string; sha256: string; wiped_at: string | null }> =>
      catalog.db.prepare<[], { source_path: string; sha256: string; wiped_at: string | null }>('SELECT source_path, sha256, wiped_at FROM evidence ORDER BY source_path').all(),
    /** What is still on the recorder. */
    onCard: async (): Promise<string[]> => (await readdir(join(root, day))).map((n) => `${day}/${n}`).sort(),
    /** Start the manager and dock the recorder; resolves with the dock's outcome when it ends. */
    dock(): Promise<DockOutcome> {
      const ended = new Promise<DockOutcome>((r) => manager.once('ended', r));
      manager.start();
      manager.dock({ location: root, source: 'drop', device: null, usb: null });
      return ended;
    },
  };
}
