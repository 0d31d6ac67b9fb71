import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { openDatabase, schemaVersion, type Catalog, type Db } from '../catalog/index.js';
import { CustodyError, type Logger } from '../core/index.js';
import { ledgerOf, type LedgerEntry } from '../ledger/index.js';
import { contentKey, type ObjectStore } from '../vault/index.js';

/** Why a snapshot was taken (the `reason` of `catalog.snapshot-taken`). */
export type SnapshotReason = 'manual' | 'schedule' | 'migration' | 'restore';

/** A catalog snapshot in the vault, as its `catalog.snapshot-taken` entry names it. */
export interface SnapshotRecord {
  /** The vault object: the content key of its hash. */
  key: string;
  sha256: string;
  size: number;
  /** The snapshot holds ledger entries 1..ledgerSize. */
  ledgerSize: number;
  schemaVersion: number;
  reason: SnapshotReason;
  /** When it was ledgered. */
  takenAt: string;
  /** seq of its `catalog.snapshot-taken` entry. */
  seq: number;
}

export interface TakeSnapshotOptions {
  catalog: Catalog;
  store: ObjectStore;
  /** A folder on the catalog's disk for the temporary copy (the home). */
  workDir: string;
  actor: string;
  reason: SnapshotReason;
  log?: Logger;
}

/** The snapshot record of a `catalog.snapshot-taken` entry. */
export function snapshotOf(e: Pick<LedgerEntry, 'seq' | 'time' | 'data'>): SnapshotRecord {
  const d = e.data as { key: string; sha256: string; size: number; ledgerSize: number; schemaVersion: number; reason: SnapshotReason };
  return { key: d.key, sha256: d.sha256, size: d.size, ledgerSize: d.ledgerSize, schemaVersion: d.schemaVersion, reason: d.reason, takenAt: e.time, seq: e.seq };
}

/**
 * Remove what must never leave the station in a snapshot: token hashes (replaced by
 * random values nobody holds), password hashes and sign-in sessions. A restored
 * station re-issues tokens and passwords (docs/operations.md). secure_delete and the
 * VACUUM leave no old page with a secret in the file.
 */
function scrubSecrets(db: Db): void {
  db.pragma('secure_delete = ON');
  db.transaction(() => {
    db.prepare('UPDATE users SET token_hash = lower(hex(randomblob(32))), password_hash = NULL, password_set_at = NULL').run();
    db.prepare('DELETE FROM sessions').run();
  })();
  db.exec('VACUUM');
  // One self-contained file: no -wal beside it.
  db.pragma('journal_mode = DELETE');
}

/**
 * Take a consistent snapshot of the catalog with SQLite's online backup (the daemon
 * keeps writing meanwhile: the copy is of one moment), strip its secrets, store it in
 * the vault as a content object, and ledger it (`catalog.snapshot-taken`) naming its
 * hash and the ledger size it holds. The entry is appended only after the object is
 * durable; it is itself the first entry a restore from this snapshot replays.
 */
export async function takeSnapshot(opts: TakeSnapshotOptions): Promise<SnapshotRecord> {
  const { catalog, store } = opts;
  const dir = join(opts.workDir, 'tmp');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `snapshot-${uuidv7()}.db`);
  try {
    await catalog.db.backup(file);
    const copy = openDatabase(file, { migrate: false });
    let ledgerSize: number;
    let version: number;
    try {
      scrubSecrets(copy);
      ledgerSize = copy.prepare<[], { n: number | null }>('SELECT max(seq) AS n FROM ledger').get()!.n ?? 0;
      version = schemaVersion(copy);
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new CustodyError('SNAPSHOT_FAILED', `the snapshot copy does not pass SQLite's quick_check: ${String(check)}`);
    } finally {
      copy.close();
    }
    const size = (await stat(file)).size;
    const put = await store.putContent(createReadStream(file), { expectedSize: size });
    const entry = catalog.tx(() =>
      ledgerOf(catalog).append({
        type: 'catalog.snapshot-taken',
        actor: opts.actor,
        data: { key: contentKey(put.sha256), sha256: put.sha256, size: put.size, ledgerSize, schemaVersion: version, reason: opts.reason },
      }),
    );
    const rec = snapshotOf(entry);
    opts.log?.info({ key: rec.key, sha256: rec.sha256, size: rec.size, ledgerSize, reason: opts.reason }, 'catalog snapshot stored in the vault');
    return rec;
  } finally {
    await rm(file, { force: true });
    await rm(`${file}-wal`, { force: true });
    await rm(`${file}-shm`, { force: true });
  }
}

/** Snapshots the ledger says are in the vault (taken and not deleted), oldest first. */
export function liveSnapshots(catalog: Catalog): SnapshotRecord[] {
  const rows = catalog.db
    .prepare<[], { seq: number; time: string; type: string; data: string }>(
      "SELECT seq, time, type, data FROM ledger WHERE type IN ('catalog.snapshot-taken', 'catalog.snapshot-deleted') ORDER BY seq",
    )
    .all();
  const live = new Map<string, SnapshotRecord>();
  for (const r of rows) {
    const data = JSON.parse(r.data) as Record<string, unknown>;
    if (r.type === 'catalog.snapshot-taken') live.set(String(data.sha256), snapshotOf({ seq: r.seq, time: r.time, data }));
    else live.delete(String(data.sha256));
  }
  return [...live.values()];
}

/** The newest snapshot in the vault, or null (for `custody doctor` and the daemon's schedule). */
export function lastSnapshot(catalog: Catalog): SnapshotRecord | null {
  const all = liveSnapshots(catalog);
  return all[all.length - 1] ?? null;
}

/** Calendar day (YYYY-MM-DD) and ISO week (YYYY-Www) of an instant in a zone. */
function dayAndWeek(iso: string, timezone: string): { day: string; week: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(iso));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)!.value);
  const y = get('year');
  const m = get('month');
  const d = get('day');
  const day = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  // ISO 8601 week: the week with the year's first Thursday is week 1.
  const date = new Date(Date.UTC(y, m - 1, d));
  const dow = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - dow);
  const isoYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 + 1) / 7);
  return { day, week: `${isoYear}-W${String(week).padStart(2, '0')}` };
}

/**
 * Which snapshots to keep: the newest of each of the last `keepDaily` days that have a
 * snapshot, the newest of each of the last `keepWeekly` ISO weeks that have one (the
 * rule of restic's --keep-daily/--keep-weekly), and always the newest of all.
 * Returns the ones to delete, each with the rule that let it go.
 */
export function snapshotsToDelete(all: readonly SnapshotRecord[], rule: { keepDaily: number; keepWeekly: number; timezone: string }): SnapshotRecord[] {
  const newestFirst = [...all].sort((a, b) => b.seq - a.seq);
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].sha256);
  const days = new Set<string>();
  const weeks = new Set<string>();
  for (const s of newestFirst) {
    const { day, week } = dayAndWeek(s.takenAt, rule.timezone);
    if (!days.has(day) && days.size < rule.keepDaily) {
      days.add(day);
      keep.add(s.sha256);
    }
    if (!weeks.has(week) && weeks.size < rule.keepWeekly) {
      weeks.add(week);
      keep.add(s.sha256);
    }
  }
  return newestFirst.filter((s) => !keep.has(s.sha256)).reverse();
}

export interface PruneOptions {
  catalog: Catalog;
  store: ObjectStore;
  actor: string;
  keepDaily: number;
  keepWeekly: number;
  timezone: string;
  log?: Logger;
}

/**
 * Delete the snapshots the rule no longer keeps: the object first, then its
 * `catalog.snapshot-deleted` entry. A crash between the two leaves an entry-less
 * deletion that a restore meets as a missing object and passes over to the next
 * older snapshot; it never leaves a ledgered snapshot deleted unsaid.
 */
export async function pruneSnapshots(opts: PruneOptions): Promise<SnapshotRecord[]> {
  const gone = snapshotsToDelete(liveSnapshots(opts.catalog), opts);
  const usedByEvidence = opts.catalog.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM evidence WHERE sha256 = ?');
  for (const s of gone) {
    // Content-addressed: never delete bytes an item of evidence also is (not expected, but checked).
    if (usedByEvidence.get(s.sha256)!.n === 0) await opts.store.delete(s.key);
    opts.catalog.tx(() =>
      ledgerOf(opts.catalog).append({
        type: 'catalog.snapshot-deleted',
        actor: opts.actor,
        data: { key: s.key, sha256: s.sha256, ledgerSize: s.ledgerSize, takenAt: s.takenAt, rule: `keep ${opts.keepDaily} daily, ${opts.keepWeekly} weekly` },
      }),
    );
    opts.log?.info({ key: s.key, takenAt: s.takenAt }, 'old catalog snapshot deleted');
  }
  return gone;
}

/**
 * When the next scheduled snapshot is due: intervalHours after the last one; now when
 * there is none (a fresh station, or one that never took any), so a new station is
 * covered from its daemon's first start rather than a day later (CustodySnapshotMissed
 * reads no snapshot as infinitely old); never before now.
 */
export function nextSnapshotDue(last: SnapshotRecord | null, intervalHours: number, now: Date): Date {
  if (!last) return now;
  const due = new Date(Date.parse(last.takenAt) + intervalHours * 3_600_000);
  return due < now ? now : due;
}
