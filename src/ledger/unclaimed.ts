import { randomBytes } from 'node:crypto';
import { withScratchConnection, type Db } from '../catalog/index.js';
import type { Logger } from '../core/index.js';
import { CONTENT_PREFIX, shaOfContentKey, type ObjectStore } from '../vault/index.js';

/**
 * Objects in the vault that no ledger entry names: after a restore, the footage of the
 * last minute before the workstation was lost (its objects were durable before its
 * entries, and the entries were never sealed); on a running station, what a crash
 * left between an object's write and its entry's commit, or a thumbnail or proxy
 * whose entry never came. Nothing is deleted or adopted: they are listed, with what
 * their first bytes say they are, for an archivist to look at.
 */

/** What an object's first bytes say it is. */
export type UnclaimedKind = 'video' | 'audio' | 'photo' | 'thumbnail' | 'catalog-snapshot' | 'unknown';

export interface UnclaimedObject {
  key: string;
  sha256: string;
  size: number;
  kind: UnclaimedKind;
}

export interface UnclaimedReport {
  /** Content objects listed in the vault. */
  scanned: number;
  /** Those no entry names, in key order (at most `limit`; `count` is all of them). */
  objects: UnclaimedObject[];
  count: number;
  bytes: number;
}

export interface UnclaimedOptions {
  db: Db;
  store: ObjectStore;
  /** Most objects listed in the report (the count and bytes cover all). Default 1000. */
  limit?: number;
  onProgress?: (scanned: number) => void;
}

/** The entry fields that name a content object by its hash (src/ledger/entry-types.ts). */
const NAMING_PATHS = ['$.sha256', '$.thumbnail.sha256', '$.proxy.sha256', '$.thumbnail'];

/** Ledger entries read per slice when collecting the hashes entries name. */
const SLICE = 20_000;

/** Bytes read from each unclaimed object to tell what it is. */
const SNIFF_BYTES = 16;

/** What a file's first bytes say it is: the containers recorders write, custody's thumbnails (WebP) and catalog snapshots (SQLite). */
export function kindOfBytes(b: Buffer): UnclaimedKind {
  const ascii = (from: number, to: number): string => b.subarray(from, to).toString('latin1');
  if (ascii(0, 15) === 'SQLite format 3') return 'catalog-snapshot';
  if (ascii(0, 4) === 'RIFF') {
    const form = ascii(8, 12);
    if (form === 'WEBP') return 'thumbnail';
    if (form === 'WAVE') return 'audio';
    if (form === 'AVI ') return 'video';
  }
  if (ascii(4, 8) === 'ftyp') {
    // MP4/MOV family; audio-only brands (M4A) are audio.
    return ascii(8, 11) === 'M4A' ? 'audio' : 'video';
  }
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'photo';
  if (ascii(1, 4) === 'PNG') return 'photo';
  // AMR, MP3 with a tag, MP3 from its first frame's sync bits.
  if (ascii(0, 5) === '#!AMR' || ascii(0, 3) === 'ID3' || (b[0] === 0xff && b[1] !== undefined && (b[1] & 0xe0) === 0xe0)) return 'audio';
  return 'unknown';
}

async function sniff(store: ObjectStore, key: string): Promise<UnclaimedKind> {
  try {
    const chunks: Buffer[] = [];
    for await (const c of await store.get(key, { start: 0, end: SNIFF_BYTES - 1 })) chunks.push(c as Buffer);
    return kindOfBytes(Buffer.concat(chunks));
  } catch {
    return 'unknown';
  }
}

/**
 * List the vault's content objects against every hash the ledger names (in a temporary
 * table: one pass over the entries, parsed by SQLite), and report the others. On a
 * station that is ingesting, an object whose entry commits after the listing is over
 * can still be among them.
 */
export async function findUnclaimed(opts: UnclaimedOptions): Promise<UnclaimedReport> {
  // The table holds every hash the ledger names: on a connection whose temporary storage spills to disk.
  return withScratchConnection(opts.db, (db) => listUnclaimed(db, opts));
}

async function listUnclaimed(db: Db, opts: UnclaimedOptions): Promise<UnclaimedReport> {
  const { store } = opts;
  const limit = opts.limit ?? 1000;
  const table = `temp.unclaimed_named_${randomBytes(6).toString('hex')}`;
  db.exec(`CREATE TABLE ${table} (sha256 TEXT PRIMARY KEY) WITHOUT ROWID`);
  try {
    // A slice of the ledger at a time, the event loop let go between slices: in the
    // daemon (a verification started from the console) the docks and the API go on.
    const picks = NAMING_PATHS.map(
      (p) => `SELECT json_extract(data, '${p}') FROM ledger WHERE seq > @lo AND seq <= @hi AND json_valid(data) AND json_type(data, '${p}') = 'text'`,
    ).join(' UNION ALL ');
    const fill = db.prepare<{ lo: number; hi: number }>(`INSERT OR IGNORE INTO ${table} ${picks}`);
    const headStmt = db.prepare<[], { n: number | null }>('SELECT max(seq) AS n FROM ledger');
    let done = 0;
    const catchUp = async (): Promise<void> => {
      const head = headStmt.get()!.n ?? 0;
      for (; done < head; done = Math.min(head, done + SLICE)) {
        fill.run({ lo: done, hi: Math.min(head, done + SLICE) });
        await new Promise<void>((r) => setImmediate(r));
      }
    };
    await catchUp();
    const named = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ${table} WHERE sha256 = ?`);
    const isNamed = (sha256: string | null): boolean => sha256 !== null && named.get(sha256)!.n > 0;
    let scanned = 0;
    let candidates: Array<{ key: string; sha256: string | null; size: number }> = [];
    for await (const o of store.list(CONTENT_PREFIX)) {
      scanned++;
      if (scanned % 1000 === 0) opts.onProgress?.(scanned);
      const sha256 = shaOfContentKey(o.key);
      // A key that is not a content key is not an object custody wrote; it is reported too.
      if (!isNamed(sha256)) candidates.push({ key: o.key, sha256, size: o.size });
    }
    opts.onProgress?.(scanned);
    // Entries committed while the vault was listed (an ingest going on: its objects are
    // written before its entries) name some of the candidates by now.
    await catchUp();
    candidates = candidates.filter((c) => !isNamed(c.sha256));
    const report: UnclaimedReport = { scanned, objects: [], count: candidates.length, bytes: 0 };
    for (const c of candidates) {
      report.bytes += c.size;
      if (report.objects.length < limit) report.objects.push({ key: c.key, sha256: c.sha256 ?? '', size: c.size, kind: await sniff(store, c.key) });
    }
    return report;
  } finally {
    db.exec(`DROP TABLE IF EXISTS ${table}`);
  }
}

/**
 * findUnclaimed where the list is a report beside other work (a restore, a verification
 * from the console): a vault that cannot be listed is logged and gives null ("not
 * counted"), never a failure of the work that asked.
 */
export async function unclaimedOrNull(opts: UnclaimedOptions & { log: Logger }): Promise<UnclaimedReport | null> {
  try {
    return await findUnclaimed(opts);
  } catch (err) {
    opts.log.warn({ err }, "the vault's objects could not be listed against the ledger; unclaimed objects not counted");
    return null;
  }
}
