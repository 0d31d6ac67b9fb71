import type { Command } from 'commander';
import { globals, output, withRuntime } from '../context.js';

/**
 * `custody backup`: a consistent snapshot of the catalog into the vault now, ledgered
 * with its hash and the ledger size it holds; then the snapshots the keep rule no
 * longer keeps are deleted (ledgered). Safe while the daemon runs (SQLite's online
 * backup copies one moment of the catalog).
 */
export async function backupCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const backups = await rt.station.backups();
    const snap = await backups.snapshotNow('manual');
    const { liveSnapshots } = await import('../../backup/index.js');
    const kept = liveSnapshots(rt.catalog);
    output(
      g,
      { snapshot: snap, kept: kept.length },
      [
        `Catalog snapshot stored in the vault (${rt.store.kind} ${rt.store.location})`,
        `  object:      ${snap.key}`,
        `  sha256:      ${snap.sha256}`,
        `  size:        ${snap.size} bytes`,
        `  ledger:      entries 1..${snap.ledgerSize} (ledgered as entry ${snap.seq})`,
        `  schema:      version ${snap.schemaVersion}`,
        `  snapshots kept: ${kept.length} (backup.keepDaily ${rt.config.backup.keepDaily}, backup.keepWeekly ${rt.config.backup.keepWeekly})`,
      ].join('\n'),
    );
  });
}
