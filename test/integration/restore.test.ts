/**
 * Issue 20: catalog snapshots and the restore of a station from its vault alone, on a
 * real SQLite catalog and a real fs vault in another folder, through the services that
 * change state (users, officers, assignments, flags, access requests, cases).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AccessRequests, UsersService } from '../../src/access/index.js';
import { SnapshotScheduler, liveSnapshots, pruneSnapshots, restoreStation, snapshotsToDelete, takeSnapshot, type SnapshotRecord } from '../../src/backup/index.js';
import { Catalog, schemaVersion } from '../../src/catalog/index.js';
import { AssignmentsService, FlagsService } from '../../src/compliance/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { LedgerSealer, ledgerOf } from '../../src/ledger/index.js';
import { CheckpointService, keyHistory, loadStationSigner, openCheckpoint, stationTrust } from '../../src/proof/index.js';
import { CasesService } from '../../src/retention/index.js';
import { contentKey, ensureStationKey, FsObjectStore } from '../../src/vault/index.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

interface Station {
  dir: string;
  home: string;
  vaultDir: string;
  catalog: Catalog;
  store: FsObjectStore;
  seal(): Promise<void>;
}

/** A station whose vault is on another folder; its clock stands still, so a row and its entry carry one time. */
async function station(): Promise<Station> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const vaultDir = join(dir, 'other-disk', 'vault');
  const store = new FsObjectStore({ root: vaultDir, fsync: false });
  await store.init();
  const clock = { now: () => new Date('2026-11-27T06:00:00.000Z') };
  const catalog = Catalog.open(join(home, 'catalog.db'), { clock });
  const key = await ensureStationKey(home);
  ledgerOf(catalog).append({
    type: 'station.initialized',
    actor: 'cli:test',
    data: { vault: { kind: 'fs', location: vaultDir }, stationKey: { alg: 'ed25519', publicKey: key.publicKey, fingerprint: key.fingerprint } },
  });
  return {
    dir,
    home,
    vaultDir,
    catalog,
    store,
    seal: async () => void (await new LedgerSealer({ catalog, store, log: silentLogger, segmentEntries: 10, sealIntervalSeconds: 0 }).seal({ partial: true })),
  };
}

async function ingest(s: Station, id: string): Promise<void> {
  const put = await s.store.putContent(Readable.from([Buffer.from(`clip ${id}`)]));
  const e = {
    sha256: put.sha256, size: put.size, mediaType: 'video', recorder: { serial: 'BWC-0417', model: 'DSJ-T9' }, officer: '0417', unit: 'U1',
    sourcePath: `DCIM/${id}.MP4`, sourceName: `${id}.MP4`, sourceMtime: '2026-11-27T05:00:00.000Z', recordedStart: '2026-11-27T05:00:00.000Z',
    recordedEnd: null, recordedSource: 'filename', clockDriftMs: null, recordedStartCorrected: null, recordedEndCorrected: null,
    ingestedAt: '2026-11-27T06:00:00.000Z', sessionId: 'session-1',
  };
  s.catalog.tx(() => {
    s.catalog.db.prepare(`INSERT INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES ('BWC-0417', 'DSJ-T9', '0417', 'U1', ?, ?)
      ON CONFLICT DO NOTHING`).run(e.ingestedAt, e.ingestedAt);
    s.catalog.db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms,
      recorded_start, recorded_source, ingested_at, session_id) VALUES (?, ?, ?, 'video', 'BWC-0417', '0417', 'U1', ?, ?, ?, ?, 'filename', ?, 'session-1')`)
      .run(id, put.sha256, put.size, e.sourcePath, e.sourceName, Date.parse(e.sourceMtime), e.recordedStart, e.ingestedAt);
    ledgerOf(s.catalog).append({ type: 'evidence.ingested', actor: 'custody:daemon', subject: id, data: e });
  });
}

const TABLES = {
  users: 'SELECT id, name, role, unit, token_issued_at, token_expires_at, created_at, created_by, revoked_at, revoked_by FROM users ORDER BY id',
  officers: 'SELECT * FROM officers ORDER BY number',
  assignments: 'SELECT * FROM assignments ORDER BY id',
  flags: 'SELECT * FROM flags ORDER BY id',
  flag_evidence: 'SELECT * FROM flag_evidence ORDER BY flag_id, evidence_id',
  access_requests: 'SELECT * FROM access_requests ORDER BY id',
  access_request_items: 'SELECT * FROM access_request_items ORDER BY request_id, evidence_id',
  cases: 'SELECT * FROM cases ORDER BY id',
  case_evidence: 'SELECT * FROM case_evidence ORDER BY case_id, evidence_id',
  holds: 'SELECT * FROM holds ORDER BY id',
  evidence: 'SELECT id, sha256, size, officer, unit, status FROM evidence ORDER BY id',
  ledger: 'SELECT seq, hash FROM ledger ORDER BY seq',
} as const;
type Table = keyof typeof TABLES;
const TABLE_NAMES = Object.keys(TABLES) as Table[];

function dump(c: Catalog): Record<Table, Row[]> {
  return Object.fromEntries(Object.entries(TABLES).map(([t, sql]) => [t, c.db.prepare(sql).all() as Row[]])) as Record<Table, Row[]>;
}

/** Everything the services can change, through the services. */
function work(s: Station, tag: string): { admin: string } {
  const c = s.catalog;
  const users = new UsersService(c);
  const admin = users.create({ name: `admin-${tag}`, role: 'admin', tokenExpiresAt: null }, 'cli:root').user;
  const sup = users.create({ name: `sup-${tag}`, role: 'operator', unit: 'U1', tokenExpiresAt: null }, `user:${admin.id}`).user;
  users.changeRole(sup.id, { role: 'supervisor' }, `user:${admin.id}`);
  const op = users.create({ name: `op-${tag}`, role: 'operator', unit: 'U1', tokenExpiresAt: new Date('2027-01-01T00:00:00.000Z') }, `user:${admin.id}`).user;
  const gone = users.create({ name: `gone-${tag}`, role: 'auditor', tokenExpiresAt: null }, `user:${admin.id}`).user;
  users.revoke(gone.id, `user:${admin.id}`);
  users.reissueToken(op.id, null, `user:${admin.id}`);

  const assignments = new AssignmentsService({ catalog: c, timezone: 'Asia/Shanghai' });
  const a = assignments.add({ officer: `0${tag}`, name: `张${tag}`, unit: 'U1', recorder: `BWC-${tag}`, start: '2026-11-26T00:00:00.000Z' }, `user:${admin.id}`).assignment;
  assignments.end(a.id, `user:${admin.id}`, '2026-11-26T08:00:00.000Z');
  assignments.upsertOfficer({ number: `0${tag}`, name: `张${tag}改`, unit: 'U1', userId: op.id }, `user:${admin.id}`);

  const flags = new FlagsService({ catalog: c, resolveWithinHours: 72 });
  const f = flags.raise({ rule: 'late-upload', key: `late:${tag}`, officer: '0417', evidenceId: `e1-${tag}`, evidenceIds: [`e1-${tag}`, `e2-${tag}`], unit: 'U1', seen: { hours: 30 }, summary: `late ${tag}` }, 'custody:compliance')!;
  flags.resolve(f.id, { reason: '设备故障已说明', approver: { id: sup.id, role: 'supervisor', unit: 'U1', revoked: false }, actor: `user:${sup.id}` });

  const requests = new AccessRequests({ catalog: c, grantDefaultHours: 24, grantMaxHours: 720 });
  const asOp = { id: op.id, name: op.name, role: op.role, unit: op.unit };
  const asSup = { id: sup.id, name: sup.name, role: 'supervisor' as const, unit: 'U1' };
  const r1 = requests.create(asOp, { evidenceIds: [`e1-${tag}`], reason: '复核' });
  requests.approve(asSup, r1.id, { expiresAt: new Date('2026-11-28T06:00:00.000Z') });
  const r2 = requests.create(asOp, { evidenceIds: [`e2-${tag}`], reason: '查看' });
  requests.deny(asSup, r2.id, { note: '无关' });

  const cases = new CasesService(c);
  const k = cases.create({ number: `C-${tag}`, name: `案件${tag}`, unit: 'U1' }, `user:${admin.id}`);
  cases.link(k.id, [`e1-${tag}`], `user:${admin.id}`);
  cases.placeHold(k.id, { reason: 'dispute' }, `user:${admin.id}`);
  return { admin: admin.id };
}

describe('catalog snapshots (issue 20)', () => {
  it('stores a consistent copy without secrets in the vault, ledgered with its hash and the ledger size it holds', async () => {
    const s = await station();
    await ingest(s, 'e1-a');
    await ingest(s, 'e2-a');
    work(s, 'a');
    const users = new UsersService(s.catalog);
    const { user, token } = users.create({ name: 'secret-holder', role: 'admin', tokenExpiresAt: null }, 'cli:root');
    users.setPassword(user.id, 'scrypt$placeholder-hash-that-must-not-leave', 'cli:root', { reset: true });
    const tokenHash = (s.catalog.db.prepare('SELECT token_hash FROM users WHERE id = ?').get(user.id) as { token_hash: string }).token_hash;
    const size = ledgerOf(s.catalog).count();

    const snap = await takeSnapshot({ catalog: s.catalog, store: s.store, workDir: s.home, actor: 'cli:test', reason: 'manual' });
    expect(snap).toMatchObject({ ledgerSize: size, schemaVersion: schemaVersion(s.catalog.db), reason: 'manual', seq: size + 1 });
    const entry = ledgerOf(s.catalog).get(snap.seq)!;
    expect(entry).toMatchObject({ type: 'catalog.snapshot-taken', data: { key: snap.key, sha256: snap.sha256, size: snap.size, ledgerSize: size } });
    const bytes = await readFile(join(s.vaultDir, snap.key));
    expect(bytes.length).toBe(snap.size);
    const text = bytes.toString('latin1');
    expect(text).not.toContain(tokenHash);
    expect(text).not.toContain(token);
    expect(text).not.toContain('placeholder-hash-that-must-not-leave');
    // The copy is a whole catalog: it opens, and holds the ledger up to its size.
    await writeFile(join(s.dir, 'copy.db'), bytes);
    const opened = Catalog.open(join(s.dir, 'copy.db'), { readonly: true });
    expect(ledgerOf(opened).count()).toBe(size);
    expect(opened.db.prepare('SELECT count(*) AS n FROM users WHERE password_hash IS NOT NULL').get()).toEqual({ n: 0 });
    expect(opened.db.prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 0 });
    opened.close();
    s.catalog.close();
  });

  it('keeps the newest of each of the last 7 days and 4 ISO weeks, and ledgers each deletion', async () => {
    const at = (iso: string, seq: number): SnapshotRecord => ({ key: `k${seq}`, sha256: String(seq).padStart(64, '0'), size: 1, ledgerSize: seq, schemaVersion: 1, reason: 'schedule', takenAt: iso, seq });
    // 40 days of snapshots, two a day (UTC noon and 20:00 = 04:00 next day in Shanghai).
    const all: SnapshotRecord[] = [];
    for (let d = 0; d < 40; d++) {
      const day = new Date(Date.UTC(2026, 9, 1 + d)).toISOString().slice(0, 10);
      all.push(at(`${day}T04:00:00.000Z`, 2 * d + 1), at(`${day}T10:00:00.000Z`, 2 * d + 2));
    }
    const gone = snapshotsToDelete(all, { keepDaily: 7, keepWeekly: 4, timezone: 'Asia/Shanghai' });
    const kept = all.filter((x) => !gone.includes(x));
    // 7 days (the newest of each: 3–9 November), and the newest of each of 4 ISO weeks: W46 (9 November, a
    // Monday) and W45 (8 November) are among the days; W44 and W43 add 1 November and 25 October.
    expect(kept.map((k) => k.takenAt.slice(0, 10))).toEqual(['2026-10-25', '2026-11-01', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08', '2026-11-09']);
    expect(kept.every((k) => k.takenAt.endsWith('T10:00:00.000Z'))).toBe(true);

    const s = await station();
    const first = await takeSnapshot({ catalog: s.catalog, store: s.store, workDir: s.home, actor: 't', reason: 'manual' });
    await ingest(s, 'e1-b');
    const second = await takeSnapshot({ catalog: s.catalog, store: s.store, workDir: s.home, actor: 't', reason: 'manual' });
    // Both on one day: only the newest is kept.
    const deleted = await pruneSnapshots({ catalog: s.catalog, store: s.store, actor: 'custody:daemon', keepDaily: 7, keepWeekly: 4, timezone: 'Asia/Shanghai' });
    expect(deleted.map((d) => d.sha256)).toEqual([first.sha256]);
    expect(await s.store.stat(first.key)).toBeNull();
    expect(await s.store.stat(second.key)).not.toBeNull();
    expect(liveSnapshots(s.catalog).map((x) => x.sha256)).toEqual([second.sha256]);
    expect(ledgerOf(s.catalog).head()).toMatchObject({ type: 'catalog.snapshot-deleted', actor: 'custody:daemon', data: { sha256: first.sha256, ledgerSize: first.ledgerSize } });
    s.catalog.close();
  });

  it('the scheduler takes one at start after a migration, and one when the interval has passed', async () => {
    const s = await station();
    // A snapshot of an older schema: the catalog was migrated since.
    ledgerOf(s.catalog).append({ type: 'catalog.snapshot-taken', actor: 't', data: { key: 'objects/sha256/00/00/' + '0'.repeat(64), sha256: '0'.repeat(64), size: 1, ledgerSize: 1, schemaVersion: schemaVersion(s.catalog.db) - 1, reason: 'manual' } });
    const sched = new SnapshotScheduler({ catalog: s.catalog, store: s.store, home: s.home, actor: 'custody:daemon', log: silentLogger, intervalHours: 24, keepDaily: 7, keepWeekly: 4, timezone: 'Asia/Shanghai' });
    sched.start();
    const taken = await waitFor('the migration snapshot', async () => liveSnapshots(s.catalog).find((x) => x.reason === 'migration'), 30_000, 20);
    expect(taken.schemaVersion).toBe(schemaVersion(s.catalog.db));
    await sched.stop();
    expect(liveSnapshots(s.catalog).filter((x) => x.reason === 'schedule')).toEqual([]);
    // Two days later (backup.intervalHours 24 since the last one): one is due at once.
    s.catalog.close();
    const later = Catalog.open(join(s.home, 'catalog.db'), { clock: { now: () => new Date('2026-11-29T06:00:00.000Z') } });
    const daily = new SnapshotScheduler({ catalog: later, store: s.store, home: s.home, actor: 'custody:daemon', log: silentLogger, intervalHours: 24, keepDaily: 7, keepWeekly: 4, timezone: 'Asia/Shanghai' });
    daily.start();
    await waitFor('the scheduled snapshot', async () => liveSnapshots(later).find((x) => x.reason === 'schedule'), 30_000, 20);
    await daily.stop();
    later.close();
  });
});

describe('custody restore from the vault alone (issue 20)', () => {
  it('restores the newest snapshot and replays every sealed entry after it; the tables match; the unsealed tail is named', async () => {
    const s = await station();
    await ingest(s, 'e1-a');
    await ingest(s, 'e2-a');
    work(s, 'a');
    await s.seal();
    const older = await takeSnapshot({ catalog: s.catalog, store: s.store, workDir: s.home, actor: 't', reason: 'schedule' });
    await ingest(s, 'e1-b');
    await ingest(s, 'e2-b');
    const newest = await takeSnapshot({ catalog: s.catalog, store: s.store, workDir: s.home, actor: 't', reason: 'schedule' });
    await ingest(s, 'e1-c');
    await ingest(s, 'e2-c');
    work(s, 'c');
    await s.seal();
    // A checkpoint signed with the station key, kept by an auditor.
    const signer = await loadStationSigner(s.home, '');
    const cps = new CheckpointService({ catalog: s.catalog, store: s.store, signer, log: silentLogger, intervalSeconds: 0 });
    const savedCheckpoint = (await cps.issueIfGrown())!.checkpoint;
    const saved = savedCheckpoint.note;
    const before = dump(s.catalog);
    // Appended but never sealed: lost with the workstation. The clip's object is in the vault.
    await ingest(s, 'e9-lost');
    new UsersService(s.catalog).create({ name: 'never-sealed', role: 'auditor', tokenExpiresAt: null }, 'cli:root');
    const lostClip = s.catalog.db.prepare<[], { sha256: string; size: number }>("SELECT sha256, size FROM evidence WHERE id = 'e9-lost'").get()!;
    const sealedThrough = ledgerOf(s.catalog).count() - 2;
    s.catalog.close();
    // The newest snapshot's object is gone (a deletion cut short): the older one is used.
    await s.store.delete(newest.key);
    await rm(s.home, { recursive: true, force: true });

    const home2 = join(s.dir, 'home2');
    const r = await restoreStation({ store: s.store, home: home2, origin: '', segmentEntries: 10, actor: 'cli:test', log: silentLogger });
    expect(r).toMatchObject({
      ok: true,
      snapshot: { key: older.key, ledgerSize: older.ledgerSize },
      snapshotsPassedOver: [{ key: newest.key, reason: 'the object is missing' }],
      sealedThrough,
      refused: {},
      key: { restored: false },
      verify: { ok: true },
    });
    expect(r.notRestored[0]).toMatch(new RegExp(`after ${sealedThrough} that were not yet sealed`));
    // The lost clip's footage is still in the vault, named by no restored entry: listed, kept.
    expect(r.unclaimed).toMatchObject({ count: 1, bytes: lostClip.size, objects: [{ key: contentKey(lostClip.sha256), sha256: lostClip.sha256, size: lostClip.size, kind: 'unknown' }] });
    expect(await s.store.stat(contentKey(lostClip.sha256))).not.toBeNull();
    const c2 = Catalog.open(join(home2, 'catalog.db'));
    const after = dump(c2);
    for (const t of TABLE_NAMES) {
      if (t === 'ledger') expect(after.ledger.slice(0, before.ledger.length)).toEqual(before.ledger);
      else expect(after[t], t).toEqual(before[t]);
    }
    expect(c2.db.prepare("SELECT count(*) AS n FROM users WHERE name = 'never-sealed'").get()).toEqual({ n: 0 });
    // The restore's own entries: the key rotation and the restore, sealed into the vault.
    const tail = [...ledgerOf(c2).entries(sealedThrough + 1)].map((e) => e.type);
    expect(tail).toEqual(['key.rotated', 'station.restored']);
    expect([...ledgerOf(c2).entries(sealedThrough + 2)][0]!.data).toMatchObject({ unclaimed: { count: 1, bytes: lostClip.size } });
    expect(c2.db.prepare('SELECT max(last_seq) AS n FROM ledger_segments').get()).toEqual({ n: sealedThrough + 2 });

    // Checkpoints before the rotation verify with the old key, new ones with the new key, under one origin.
    const history = keyHistory(c2);
    expect(history.origin).toBe(signer.name);
    const trust = await stationTrust(home2, '', c2);
    expect(openCheckpoint(saved, trust).size).toBe(savedCheckpoint.size);
    const newSigner = await loadStationSigner(home2, '', history);
    expect(newSigner.name).toBe(signer.name);
    expect(newSigner.publicKey.equals(signer.publicKey)).toBe(false);
    const cps2 = new CheckpointService({ catalog: c2, store: s.store, signer: newSigner, previousKeys: history.previous, log: silentLogger, intervalSeconds: 0 });
    const next = (await cps2.issueIfGrown())!;
    expect(next.checkpoint.size).toBe(sealedThrough + 2);
    expect(openCheckpoint(next.checkpoint.note, trust).size).toBe(sealedThrough + 2);
    c2.close();
  });

  it('with no snapshot, replays every entry from the first', async () => {
    const s = await station();
    await ingest(s, 'e1-a');
    await ingest(s, 'e2-a');
    work(s, 'a');
    await s.seal();
    const before = dump(s.catalog);
    s.catalog.close();
    await rm(s.home, { recursive: true, force: true });
    const home2 = join(s.dir, 'home2');
    const r = await restoreStation({ store: s.store, home: home2, origin: '', segmentEntries: 10, actor: 'cli:test', log: silentLogger });
    expect(r).toMatchObject({ ok: true, snapshot: null, refused: {}, verify: { ok: true } });
    const c2 = Catalog.open(join(home2, 'catalog.db'));
    const after = dump(c2);
    for (const t of TABLE_NAMES) if (t !== 'ledger') expect(after[t], t).toEqual(before[t]);
    c2.close();
  });
});
