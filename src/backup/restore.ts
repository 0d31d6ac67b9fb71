import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Catalog, catalogPath, migrations } from '../catalog/index.js';
import { CustodyError, VaultError, errorMessage, type Logger } from '../core/index.js';
import {
  CatalogRowWindow,
  LedgerSealer,
  canonicalJson,
  canonicalLine,
  ledgerOf,
  rawCanonicalLine,
  recordSegment,
  scanSegments,
  unclaimedOrNull,
  verifyVault,
  type LedgerEntry,
  type UnclaimedReport,
  type VerifyProblem,
} from '../ledger/index.js';
import { ensureStationKey, type ObjectStore } from '../vault/index.js';
import { CatalogReplayer } from './replay.js';
import { snapshotOf, type SnapshotRecord } from './snapshots.js';

export interface RestoreOptions {
  /** The vault to restore from (opened; its `init()` is done here). */
  store: ObjectStore;
  /** The new home: must not hold a catalog. */
  home: string;
  /** The station's private key (PEM), kept offline by `custody key export`; without it a new key is made and the rotation ledgered. */
  keyFile?: string;
  /** checkpoints.origin as configured ('' for the default). */
  origin: string;
  /** Entries per sealed segment (ledger.segmentEntries), for sealing the restore's own entries. */
  segmentEntries: number;
  /** Who the restore's own entries name. */
  actor: string;
  log: Logger;
  /** How far each pass has got: entries read (scan) or replayed (replay), objects listed (unclaimed). */
  onProgress?: (p: { pass: 'scan' | 'replay' | 'unclaimed'; done: number }) => void;
}

export interface RestoreReport {
  ok: boolean;
  home: string;
  vault: { kind: string; location: string };
  /** The snapshot restored, or null (no usable snapshot: the catalog was replayed from the first entry). */
  snapshot: SnapshotRecord | null;
  /** Newer snapshots that could not be used, with why. */
  snapshotsPassedOver: { key: string; ledgerSize: number; reason: string }[];
  /** The last sealed entry: the restored ledger holds 1..sealedThrough (then the restore's own entries). */
  sealedThrough: number;
  /** Entries replayed after the snapshot. */
  replayed: number;
  /** Of those: state applied, entries that record no catalog state, and entries the catalog refused (by type). */
  applied: number;
  recordOnly: number;
  refused: Record<string, number>;
  evidence: { live: number; purged: number };
  key: { restored: boolean; fingerprint: string; rotatedFrom: string | null };
  /** Users whose token (and password) must be re-issued: secrets are never in the vault. */
  usersToReissue: { id: string; name: string; role: string }[];
  /** What the vault cannot give back. */
  notRestored: string[];
  /** Checkpoints in the vault beyond the sealed entries (entries signed but never sealed): normally none. */
  unsealedTail: { checkpointSize: number | null; lostEntries: number | null };
  /**
   * Objects in the vault no restored entry names (`findUnclaimed`): the footage of the
   * unsealed tail (its objects were durable before its entries), a crash's leftovers,
   * thumbnails or proxies whose entry never came. Listed (the first 100), never deleted;
   * null when the vault could not be listed (logged: the restore goes on).
   */
  unclaimed: UnclaimedReport | null;
  verify: { ok: boolean; problems: VerifyProblem[] };
  durationMs: number;
}

interface KeyInfo {
  fingerprint: string;
  publicKey: string | null;
}

/** What one pass over the sealed segments learns before anything is written. */
interface VaultScan {
  sealedThrough: number;
  snapshots: SnapshotRecord[];
  key: KeyInfo | null;
}

async function scanVault(store: ObjectStore, onProgress: (n: number) => void): Promise<VaultScan> {
  const live = new Map<string, SnapshotRecord>();
  let key: KeyInfo | null = null;
  const scan = await scanSegments(
    store,
    {
      entry(e: LedgerEntry) {
        if (e.type === 'catalog.snapshot-taken') live.set(String(e.data.sha256), snapshotOf(e));
        else if (e.type === 'catalog.snapshot-deleted') live.delete(String(e.data.sha256));
        else if (e.type === 'station.initialized') {
          const k = e.data.stationKey as { fingerprint?: unknown; publicKey?: unknown } | undefined;
          if (typeof k?.fingerprint === 'string') key = { fingerprint: k.fingerprint, publicKey: typeof k.publicKey === 'string' ? k.publicKey : null };
        } else if (e.type === 'key.rotated') {
          const to = e.data.to as { fingerprint: string; publicKey: string };
          key = { fingerprint: to.fingerprint, publicKey: to.publicKey };
        }
        return null;
      },
    },
    (_segments, entries) => onProgress(entries),
  );
  if (scan.problem) {
    throw new CustodyError('RESTORE_VAULT_BROKEN', `the vault's sealed ledger does not verify, so nothing was restored: ${scan.problem.code}: ${scan.problem.message}`, {
      details: { problem: scan.problem },
    });
  }
  if (scan.entries === 0) throw new CustodyError('RESTORE_VAULT_BROKEN', `the vault at ${store.location} holds no sealed ledger segments: there is no station to restore`);
  return { sealedThrough: scan.entries, snapshots: [...live.values()].sort((a, b) => b.seq - a.seq), key };
}

/** Download a snapshot object to `file`, hashing it on the way; its hash must be the one its entry names. */
async function download(store: ObjectStore, snap: SnapshotRecord, file: string): Promise<void> {
  const h = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(await store.get(snap.key), tap, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  const sha = h.digest('hex');
  if (sha !== snap.sha256 || size !== snap.size) throw new CustodyError('SNAPSHOT_FAILED', `the object holds ${size} bytes with SHA-256 ${sha}, not those its ledger entry names`);
}

/** The raw Ed25519 public key (base64) and fingerprint of a private key PEM. */
function keyOfPrivatePem(pem: string): { publicPem: string; publicKey: string; fingerprint: string } {
  const pub = createPublicKey(createPrivateKey(pem));
  const der = pub.export({ format: 'der', type: 'spki' });
  const raw = der.subarray(der.length - 32);
  return { publicPem: pub.export({ format: 'pem', type: 'spki' }).toString(), publicKey: raw.toString('base64'), fingerprint: createHash('sha256').update(raw).digest('hex') };
}

const NOT_RESTORED = [
  'API tokens and console passwords (never in the vault): re-issue them (custody users token, a password reset)',
  'sign-in sessions',
  'media details beyond the duration (the probe results), for items ingested after the snapshot',
  'the job queue, export jobs (each export itself is in the ledger: export.created), purge-run reports, ingest failures and USB devices seen after the snapshot',
];

/**
 * Rebuild a station from its vault alone (docs/operations.md): check the sealed
 * segments, take the newest snapshot whose ledger entry is sealed and whose object
 * hashes as named, check its ledger against the segments, replay every sealed entry
 * after it, put the station key back (or make a new one and ledger the rotation),
 * ledger the restore, seal it, and verify. Entries that were never sealed were only in
 * the lost catalog and cannot come back (the report says so).
 */
export async function restoreStation(opts: RestoreOptions): Promise<RestoreReport> {
  const started = Date.now();
  const { store, home } = opts;
  const progress = opts.onProgress ?? (() => undefined);
  const file = catalogPath(home);
  if (existsSync(file)) throw new CustodyError('RESTORE_HOME_NOT_EMPTY', `${home} already holds a catalog (${file}); restore into a new home`);
  await store.init();

  const scanned = await scanVault(store, (done) => progress({ pass: 'scan', done }));
  // The key first: a wrong key stops the restore before anything is written.
  let keyGiven: GivenKey | null = null;
  if (opts.keyFile !== undefined) {
    const pem = await readFile(opts.keyFile, 'utf8').catch((e: unknown) => {
      throw new CustodyError('KEY_UNREADABLE', `cannot read ${opts.keyFile}: ${errorMessage(e)}`, { cause: e });
    });
    let k;
    try {
      k = keyOfPrivatePem(pem);
    } catch (e) {
      throw new CustodyError('RESTORE_KEY_MISMATCH', `${opts.keyFile} is not an Ed25519 private key (PEM): ${errorMessage(e)}`, { cause: e });
    }
    if (scanned.key && k.fingerprint !== scanned.key.fingerprint) {
      throw new CustodyError('RESTORE_KEY_MISMATCH', `${opts.keyFile} is the key ${k.fingerprint.slice(0, 16)}…, but the ledger names the station key ${scanned.key.fingerprint.slice(0, 16)}…`);
    }
    keyGiven = { ...k, pem };
  }

  await mkdir(home, { recursive: true, mode: 0o750 });
  const keysExisted = existsSync(join(home, 'keys'));
  try {
    return await restoreInto(opts, scanned, keyGiven, started);
  } catch (e) {
    // A failed restore leaves no half catalog behind: the next attempt starts clean.
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}.restoring`]) await rm(f, { force: true });
    if (!keysExisted) await rm(join(home, 'keys'), { recursive: true, force: true });
    throw e;
  }
}

type GivenKey = ReturnType<typeof keyOfPrivatePem> & { pem: string };

async function restoreInto(opts: RestoreOptions, scanned: VaultScan, keyGiven: GivenKey | null, started: number): Promise<RestoreReport> {
  const { store, home, log } = opts;
  const progress = opts.onProgress ?? (() => undefined);
  const file = catalogPath(home);
  const part = `${file}.restoring`;
  await rm(part, { force: true });
  const passedOver: RestoreReport['snapshotsPassedOver'] = [];
  let snapshot: SnapshotRecord | null = null;
  for (const s of scanned.snapshots) {
    if (s.schemaVersion > migrations.length) {
      passedOver.push({ key: s.key, ledgerSize: s.ledgerSize, reason: `schema version ${s.schemaVersion} is newer than this custody (${migrations.length})` });
      continue;
    }
    try {
      await download(store, s, part);
      snapshot = s;
      break;
    } catch (e) {
      await rm(part, { force: true });
      const reason = e instanceof VaultError && e.code === 'VAULT_OBJECT_MISSING' ? 'the object is missing' : errorMessage(e);
      log.warn({ key: s.key, reason }, 'catalog snapshot not usable; trying an older one');
      passedOver.push({ key: s.key, ledgerSize: s.ledgerSize, reason });
    }
  }
  if (snapshot) await rename(part, file);

  // Opening migrates a snapshot of an older schema (or creates an empty catalog).
  const catalog = Catalog.open(file);
  try {
    const db = catalog.db;
    const ledger = ledgerOf(catalog);
    const base = snapshot?.ledgerSize ?? 0;
    if (ledger.count() !== base || (ledger.head()?.seq ?? 0) !== base) {
      throw new CustodyError('SNAPSHOT_FAILED', `snapshot ${snapshot?.key ?? ''} holds ${ledger.count()} ledger entries, not the ${base} its entry names`);
    }
    const replayer = new CatalogReplayer(db);
    const window = new CatalogRowWindow(db);
    const segmentKnown = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM ledger_segments WHERE first_seq = ?');
    const insert = db.prepare('INSERT INTO ledger (seq, time, type, actor, subject, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    let batch: LedgerEntry[] = [];
    let replayed = 0;
    const sealedAt = new Date().toISOString();
    const pass = await scanSegments(
      store,
      {
        entry(e, seg) {
          if (e.seq <= base) {
            // The snapshot's own ledger must be the sealed one, entry for entry.
            const row = window.get(e.seq);
            if (!row || rawCanonicalLine(row) !== canonicalLine(e)) {
              return { code: 'RESTORE_SNAPSHOT_DIFFERS', seq: e.seq, key: seg.key, message: `entry ${e.seq} in the snapshot differs from its sealed copy in ${seg.key}` };
            }
            return null;
          }
          batch.push(e);
          return null;
        },
        segmentDone(seg) {
          const entries = batch;
          batch = [];
          catalog.tx(() => {
            for (const e of entries) {
              insert.run(e.seq, e.time, e.type, e.actor, e.subject, canonicalJson(e.data), e.prev, e.hash);
              replayer.apply(e);
            }
            if (segmentKnown.get(seg.firstSeq)!.n === 0) recordSegment(db, { ...seg, sealedAt });
          });
          replayed += entries.length;
          progress({ pass: 'replay', done: replayed });
        },
      },
      () => undefined,
    );
    if (pass.problem) {
      throw new CustodyError('RESTORE_VAULT_BROKEN', `${pass.problem.code}: ${pass.problem.message}`, { details: { problem: pass.problem } });
    }

    // The station key: the one given, or a new one whose rotation the ledger records.
    const keysDir = join(home, 'keys');
    let rotatedFrom: string | null = null;
    let fingerprint: string;
    if (keyGiven) {
      await mkdir(keysDir, { recursive: true, mode: 0o700 });
      await writeFile(join(keysDir, 'station.ed25519.pem'), keyGiven.pem, { mode: 0o600, flag: 'wx' });
      await chmod(join(keysDir, 'station.ed25519.pem'), 0o600);
      await writeFile(join(keysDir, 'station.ed25519.pub.pem'), keyGiven.publicPem, { mode: 0o644, flag: 'wx' });
      fingerprint = keyGiven.fingerprint;
    } else {
      const made = await ensureStationKey(home);
      fingerprint = made.fingerprint;
      const from = scanned.key ?? { fingerprint: 'unknown', publicKey: null };
      rotatedFrom = from.fingerprint;
      // The checkpoints keep the origin they had: the configured one, else the old key's default.
      const origin = opts.origin !== '' ? opts.origin : `custody/${from.fingerprint.slice(0, 16)}`;
      ledger.append({
        type: 'key.rotated',
        actor: opts.actor,
        data: { from, to: { fingerprint: made.fingerprint, publicKey: made.publicKey }, origin, reason: 'restored without the station key' },
      });
    }
    // What the vault holds that no sealed entry names, before the restore's own entries (which name no object).
    const unclaimed = await unclaimedOrNull({ db, store, limit: 100, log, onProgress: (n) => progress({ pass: 'unclaimed', done: n }) });
    if (unclaimed && unclaimed.count > 0) log.warn({ count: unclaimed.count, bytes: unclaimed.bytes }, 'the vault holds objects no sealed entry names');
    ledger.append({
      type: 'station.restored',
      actor: opts.actor,
      data: {
        vault: { kind: store.kind, location: store.location },
        snapshot: snapshot ? { key: snapshot.key, sha256: snapshot.sha256, ledgerSize: snapshot.ledgerSize } : null,
        sealedThrough: scanned.sealedThrough,
        replayed,
        keyRestored: keyGiven !== null,
        ...(unclaimed ? { unclaimed: { count: unclaimed.count, bytes: unclaimed.bytes } } : {}),
      },
    });
    // The restore's own entries go to the vault at once.
    await new LedgerSealer({ catalog, store, log, segmentEntries: opts.segmentEntries, sealIntervalSeconds: 0 }).seal({ partial: true });

    const { latestCheckpointKey, parseCheckpointKey } = await import('../proof/index.js');
    const cpKey = await latestCheckpointKey(store);
    const cpSize = cpKey ? parseCheckpointKey(cpKey) : null;
    const lost = cpSize !== null && cpSize > scanned.sealedThrough ? cpSize - scanned.sealedThrough : null;

    const verified = await verifyVault({ catalog, store, deep: false });
    const users = db
      .prepare<[], { id: string; name: string; role: string }>('SELECT id, name, role FROM users WHERE revoked_at IS NULL ORDER BY created_at, id')
      .all();
    const counts = db.prepare<[], { live: number; purged: number }>("SELECT sum(status = 'live') AS live, sum(status = 'purged') AS purged FROM evidence").get()!;
    const refused = Object.fromEntries(replayer.refused);
    return {
      ok: verified.ok && lost === null,
      home,
      vault: { kind: store.kind, location: store.location },
      snapshot,
      snapshotsPassedOver: passedOver,
      sealedThrough: scanned.sealedThrough,
      replayed,
      applied: replayer.applied,
      recordOnly: replayer.recordOnly,
      refused,
      evidence: { live: counts.live ?? 0, purged: counts.purged ?? 0 },
      key: { restored: keyGiven !== null, fingerprint, rotatedFrom },
      usersToReissue: users,
      notRestored: [
        `ledger entries after ${scanned.sealedThrough} that were not yet sealed when the station was lost (at most ledger.sealIntervalSeconds of activity)${lost !== null ? `: a checkpoint names ${cpSize} entries, so ${lost} are lost` : ''}`,
        ...NOT_RESTORED,
      ],
      unsealedTail: { checkpointSize: cpSize, lostEntries: lost },
      unclaimed,
      verify: { ok: verified.ok, problems: verified.problems },
      durationMs: Date.now() - started,
    };
  } finally {
    catalog.close();
  }
}
