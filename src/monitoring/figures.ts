import { statfs } from 'node:fs/promises';
import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { readRollingVerifyState, type RollingVerifyState, vaultTotals } from './rolling-verify.js';

/** A filesystem's size and what an unprivileged process may still write, in bytes. */
export interface DiskSpace {
  size: number;
  free: number;
}

/**
 * The station's figures that /metrics exports beside the process's own counters, read
 * from the catalog and the filesystems at scrape time, so they hold whichever process
 * (daemon, CLI) did the work: what config/alerts.yml alerts on.
 */
export interface StationFigures {
  /** The filesystem holding the home (the catalog). */
  homeDisk: DiskSpace | null;
  /** fs vault: its filesystem; S3 vault: monitoring.vaultQuotaGb and what is stored (null when no quota is configured). */
  vaultDisk: DiskSpace | null;
  /** Bytes of the objects live items need (footage and proxies), the catalog snapshots kept and the sealed ledger segments. */
  vaultStoredBytes: number;
  /** Flags not yet resolved, by state. */
  flags: { open: number; escalated: number };
  /** When the newest item was ingested (epoch seconds), null before the first. */
  lastIngestAt: number | null;
  /** When the newest catalog snapshot was taken (epoch seconds; the `catalog.snapshot-taken` entry), null before the first. */
  lastSnapshotAt: number | null;
  /** The newest finished purge run that was not a dry run. */
  lastPurge: { status: 'completed' | 'refused' | 'failed'; finishedAt: number } | null;
  rolling: RollingVerifyState | null;
}

export async function diskSpace(path: string): Promise<DiskSpace | null> {
  try {
    const s = await statfs(path);
    return { size: s.blocks * s.bsize, free: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

const seconds = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t / 1000 : null;
};

/**
 * A reader of the station's figures for /metrics. Every figure but one comes from an
 * index or a small table (well under a millisecond); the vault's stored bytes take one
 * pass over live evidence (about 0.1 s per 100,000 items, measured by
 * scripts/bench-monitoring.ts), so that one is read at most every `storedEveryMs`
 * (10 minutes), the rest at most every `cacheMs` (Prometheus scrapes every 15–60 s).
 */
export function stationFigures(deps: { config: Config; catalog: Catalog; cacheMs?: number; storedEveryMs?: number }): () => Promise<StationFigures> {
  const { config, catalog } = deps;
  const cacheMs = deps.cacheMs ?? 30_000;
  const storedEveryMs = deps.storedEveryMs ?? 600_000;
  const db = catalog.db;
  const q = {
    flags: db.prepare<[], { state: string; n: number }>("SELECT state, count(*) AS n FROM flags WHERE state IN ('open', 'escalated') GROUP BY state"),
    lastIngest: db.prepare<[], { t: string | null }>('SELECT max(ingested_at) AS t FROM evidence'),
    lastSnapshot: db.prepare<[], { time: string }>("SELECT time FROM ledger WHERE type = 'catalog.snapshot-taken' ORDER BY seq DESC LIMIT 1"),
    lastPurge: db.prepare<[], { status: 'completed' | 'refused' | 'failed'; finished_at: string }>(
      "SELECT status, finished_at FROM purge_runs WHERE dry_run = 0 AND status <> 'running' ORDER BY finished_at DESC LIMIT 1",
    ),
  };
  let stored: { at: number; bytes: number } | null = null;
  const storedBytes = (): number => {
    const now = Date.now();
    if (!stored || now - stored.at >= storedEveryMs) stored = { at: now, bytes: vaultTotals(catalog).bytes };
    return stored.bytes;
  };
  let kept: { at: number; figures: Promise<StationFigures> } | null = null;

  const read = async (): Promise<StationFigures> => {
    const stored = storedBytes();
    const flags = { open: 0, escalated: 0 };
    for (const r of q.flags.all()) flags[r.state as keyof typeof flags] = r.n;
    const purge = q.lastPurge.get();
    const quota = config.monitoring.vaultQuotaGb * 2 ** 30;
    const vaultDisk =
      config.vault.kind === 'fs' ? await diskSpace(config.vault.fs.path) : quota > 0 ? { size: quota, free: Math.max(0, quota - stored) } : null;
    return {
      homeDisk: await diskSpace(config.home),
      vaultDisk,
      vaultStoredBytes: stored,
      flags,
      lastIngestAt: seconds(q.lastIngest.get()?.t),
      lastSnapshotAt: seconds(q.lastSnapshot.get()?.time),
      lastPurge: purge ? { status: purge.status, finishedAt: seconds(purge.finished_at) ?? 0 } : null,
      rolling: readRollingVerifyState(catalog),
    };
  };

  return () => {
    const now = Date.now();
    if (!kept || now - kept.at >= cacheMs) {
      const figures = read();
      kept = { at: now, figures };
      figures.catch(() => (kept = null));
    }
    return kept.figures;
  };
}
