/**
 * Issue 20: lose the workstation, lose nothing. A station runs (the built daemon docks a
 * recorder, the CLI adds users, an assignment, cases, a hold, an access request and its
 * approval, a recorder status, a revocation), takes a catalog snapshot into its vault,
 * changes more after it, and loses its home. `custody restore` rebuilds it from the
 * vault alone — an fs vault on another folder, and Swift's S3 — and every table that
 * matters is compared, the station verifies, an old checkpoint still verifies against
 * the rotated key, and it ingests again.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, waitFor, type CliResult } from '../helpers/cli.js';
import { startDaemon } from '../helpers/daemon.js';
import { startSwift, swiftAvailability, type SwiftS3 } from '../helpers/swift.js';
import { tempDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

/** The unit `custody simulate recorder` reports (its default). */
const UNIT = '350200000000';

/** The tables a restore must give back, secrets and what the ledger never carries left out (docs/operations.md). */
const TABLES = {
  users: 'SELECT id, name, role, unit, token_expires_at, created_at, created_by, revoked_at, revoked_by FROM users ORDER BY id',
  officers: 'SELECT number, name, unit, user_id, created_at FROM officers ORDER BY number',
  assignments: 'SELECT * FROM assignments ORDER BY id',
  recorders: 'SELECT serial, model, officer, unit, status, status_note FROM recorders ORDER BY serial',
  docks: `SELECT id, recorder_serial, location, docked_at, undocked_at, battery_percent, device_clock, clock_drift_ms, storage_total_bytes,
    storage_free_bytes, verdict, reasons, reason_details, health_state, clock_drift_method, undock_reason, pulled, session_status,
    files_ingested, files_failed, bytes_ingested FROM docks ORDER BY id`,
  evidence: `SELECT id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms, recorded_start,
    recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected, ingested_at, session_id, status,
    wiped_at, duration_ms, thumbnail_sha256, purge_announced_at, purge_due_at FROM evidence ORDER BY id`,
  flags: 'SELECT * FROM flags ORDER BY id',
  flag_evidence: 'SELECT * FROM flag_evidence ORDER BY flag_id, evidence_id',
  cases: 'SELECT * FROM cases ORDER BY id',
  case_evidence: 'SELECT * FROM case_evidence ORDER BY case_id, evidence_id',
  holds: 'SELECT * FROM holds ORDER BY id',
  access_requests: 'SELECT * FROM access_requests ORDER BY id',
  access_request_items: 'SELECT * FROM access_request_items ORDER BY request_id, evidence_id',
  ledger: 'SELECT seq, hash FROM ledger ORDER BY seq',
} as const;
type Table = keyof typeof TABLES;
const TABLE_NAMES = Object.keys(TABLES) as Table[];

/** The role change made after the snapshot came back from the ledger. */
function after0(home: string): Row {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return db.prepare("SELECT role, unit FROM users WHERE name = '档案员'").get() as Row;
  } finally {
    db.close();
  }
}

function dump(home: string): Record<Table, Row[]> {
  const db = new Database(join(home, 'catalog.db'), { readonly: true });
  try {
    return Object.fromEntries(Object.entries(TABLES).map(([t, sql]) => [t, db.prepare(sql).all() as Row[]])) as Record<Table, Row[]>;
  } finally {
    db.close();
  }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * A service stamps its row with one reading of the clock and its ledger entry with the
 * next, so a replayed row may carry a time a few milliseconds later; every other value
 * must be equal.
 */
function sameRows(table: string, before: Row[], after: Row[]): void {
  expect(after.length, `${table}: rows`).toBe(before.length);
  before.forEach((b, i) => {
    const a = after[i]!;
    for (const [k, v] of Object.entries(b)) {
      const w = a[k];
      if (typeof v === 'string' && typeof w === 'string' && ISO.test(v) && ISO.test(w)) {
        expect(Math.abs(Date.parse(v) - Date.parse(w)), `${table}.${k} of row ${i}: ${v} vs ${w}`).toBeLessThan(1000);
      } else {
        expect(w, `${table}.${k} of row ${i}`).toEqual(v);
      }
    }
  });
}

function ok(r: CliResult, what: string): CliResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

interface Target {
  /** CUSTODY_* variables that name the vault for the station. */
  env: Record<string, string>;
  /** The restore's arguments that name the vault. */
  restoreArgs(dir: string): Promise<string[]>;
  /** CUSTODY_* variables for the restore itself (default: env). */
  restoreEnv?: Record<string, string>;
}

async function loseAndRestore(target: Target): Promise<void> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const media = join(dir, 'media');
  await mkdir(media);
  const env = target.env;
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli([...args, '--home', home], { ...env, ...extra });

  ok(await cli(['init']), 'init');
  const user = async (name: string, role: string, unit?: string): Promise<{ id: string; token: string }> =>
    json(ok(await cli(['users', 'add', '--name', name, '--role', role, ...(unit ? ['--unit', unit] : []), '--json']), `users add ${name}`));
  await user('管理员李', 'admin');
  const sup = await user('王科长', 'supervisor', UNIT);
  const op = await user('张警官', 'operator', UNIT);
  const aud = await user('审计员', 'auditor');
  const clerk = await user('档案员', 'operator', UNIT);
  const start = new Date(Date.now() - 2 * 86_400_000).toISOString();
  ok(await cli(['assignments', 'add', '--officer', '0417', '--recorder', 'SIM1', '--start', start, '--name', '张三', '--unit', UNIT]), 'assignments add');

  // The daemon docks a recorder whose clock is 2 minutes fast: a dock, its items, a clock-drift flag.
  const d = startDaemon(home, { ...env, CUSTODY_DEVICES_MOUNT_ROOTS: media, CUSTODY_API_PORT: '0', CUSTODY_DEVICES_RESCAN_SECONDS: '2' });
  const started = await waitFor('the daemon to start', async () => d.lines.find((l) => l.msg === 'custody daemon started'), 60_000, 20);
  const url = started.api as string;
  ok(await cli(['simulate', 'recorder', '--out', join(media, 'SIM1'), '--serial', 'SIM1', '--officer', '0417', '--clips', '2', '--seconds', '1', '--clock-offset', '120']), 'simulate');
  const get = async (path: string): Promise<Row> => (await (await fetch(url + path, { headers: { authorization: `Bearer ${aud.token}` } })).json()) as Row;
  await waitFor('the recorder to be ingested', async () => ((await get('/api/v1/devices/SIM1')).device as { lastDock?: { sessionStatus: string | null } } | undefined)?.lastDock?.sessionStatus === 'complete', 90_000, 100);
  await rm(join(media, 'SIM1'), { recursive: true });
  await waitFor('the undock', async () => ((await get('/api/v1/devices/SIM1')).device as { lastDock: { undockedAt: string | null } }).lastDock.undockedAt !== null, 60_000, 100);
  expect(await d.stop()).toBe(0);

  // The snapshot: everything so far.
  const backup = json<{ snapshot: { key: string; ledgerSize: number } }>(ok(await cli(['backup', '--json']), 'backup'));
  expect(backup.snapshot.ledgerSize).toBeGreaterThan(10);

  // After the snapshot: replayed from the sealed ledger.
  const ev = dump(home).evidence.map((r) => r.id as string);
  expect(ev.length).toBeGreaterThanOrEqual(4);
  const kase = json<{ id: string }>(ok(await cli(['cases', 'create', '--number', 'A-2026-017', '--name', '市场纠纷', '--unit', UNIT, '--json']), 'cases create'));
  ok(await cli(['cases', 'link', kase.id, ev[0]!, ev[1]!]), 'cases link');
  ok(await cli(['cases', 'hold', kase.id, '--reason', 'dispute']), 'cases hold');
  const req = json<{ id: string }>(ok(await cli(['requests', 'ask', '--item', ev[0]!, '--reason', '复核现场', '--json'], { CUSTODY_TOKEN: op.token }), 'requests ask'));
  ok(await cli(['requests', 'approve', req.id, '--hours', '24'], { CUSTODY_TOKEN: sup.token }), 'requests approve');
  ok(await cli(['users', 'revoke', aud.id]), 'users revoke');
  ok(await cli(['users', 'role', clerk.id, '--role', 'archivist', '--unit', '']), 'users role');
  ok(await cli(['devices', 'set-status', 'SIM1', 'reported-damaged', '--note', '屏幕破损']), 'devices set-status');
  const rec2 = join(dir, 'SIM2');
  ok(await cli(['simulate', 'recorder', '--out', rec2, '--serial', 'SIM2', '--clips', '1', '--seconds', '1']), 'simulate SIM2');
  ok(await cli(['ingest', rec2]), 'ingest SIM2');
  // A checkpoint an auditor keeps, signed with the station key that is about to be lost.
  const saved = join(dir, 'saved.checkpoint');
  await writeFile(saved, ok(await cli(['ledger', 'checkpoint']), 'checkpoint').stdout);
  ok(await cli(['ledger', 'seal']), 'seal');

  const before = dump(home);
  expect(before.flags.length).toBeGreaterThan(0);
  expect(before.docks.length).toBe(1);

  // The workstation is lost.
  await rm(home, { recursive: true, force: true });

  const home2 = join(dir, 'home2');
  const restored = await runCli(['restore', ...(await target.restoreArgs(dir)), '--home', home2, '--json'], target.restoreEnv ?? env);
  expect(restored.code, restored.stderr).toBe(0);
  const report = json<Row>(restored);
  expect(report).toMatchObject({
    ok: true,
    snapshot: { key: backup.snapshot.key, ledgerSize: backup.snapshot.ledgerSize },
    refused: {},
    key: { restored: false },
    verify: { ok: true, problems: [] },
    unsealedTail: { lostEntries: null },
  });
  expect(report.replayed as number).toBeGreaterThan(10);
  expect((report.usersToReissue as Row[]).map((u) => u.name).sort()).toEqual(['张警官', '档案员', '王科长', '管理员李'].sort());
  expect(after0(home2)).toEqual({ role: 'archivist', unit: null });
  expect((await stat(join(home2, 'catalog.db'))).isFile()).toBe(true);

  const after = dump(home2);
  // The restore's own entries (key.rotated, station.restored) come after the lost station's.
  expect(after.ledger.slice(0, before.ledger.length)).toEqual(before.ledger);
  for (const t of TABLE_NAMES) if (t !== 'ledger') sameRows(t, before[t], after[t]);
  // No secret came back: tokens are re-issued.
  const denied = await runCli(['requests', 'list', '--home', home2], { ...env, CUSTODY_TOKEN: op.token });
  expect(denied.code).not.toBe(0);

  // It verifies, and the checkpoint signed with the lost key still does (by the key.rotated entry).
  const c2 = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli([...args, '--home', home2], { ...env, ...extra });
  expect(json<Row>(ok(await c2(['verify', '--json']), 'verify'))).toMatchObject({ ok: true, problems: [] });
  expect(json<Row>(ok(await c2(['ledger', 'consistency', '--from', saved, '--json']), 'consistency'))).toMatchObject({ ok: true });
  ok(await c2(['ledger', 'checkpoint']), 'a new checkpoint with the new key');
  expect(json<Row>(ok(await c2(['ledger', 'consistency', '--from', saved, '--json']), 'consistency after'))).toMatchObject({ ok: true });

  // Tokens re-issued work; the station ingests again.
  const reissued = json<{ token: string }>(ok(await c2(['users', 'token', op.id, '--json']), 'users token'));
  ok(await c2(['requests', 'list'], { CUSTODY_TOKEN: reissued.token }), 'requests list with the new token');
  const rec3 = join(dir, 'SIM3');
  ok(await c2(['simulate', 'recorder', '--out', rec3, '--serial', 'SIM3', '--clips', '1', '--seconds', '1']), 'simulate SIM3');
  expect(json<Row>(ok(await c2(['ingest', rec3, '--json']), 'ingest again'))).toMatchObject({ failed: 0 });
  expect(json<Row>(ok(await c2(['verify', '--deep', '--json']), 'verify --deep'))).toMatchObject({ ok: true, problems: [] });
}

describe('custody restore (issue 20)', { timeout: 600_000 }, () => {
  it('rebuilds a lost station from an fs vault on another folder', async () => {
    const vault = join(await tempDir(), 'other-disk', 'vault');
    await loseAndRestore({ env: { CUSTODY_VAULT_FS_PATH: vault }, restoreArgs: async () => ['--from', vault] });
  });

  it('refuses a home that holds a catalog, and a key that is not the station key', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const vault = join(dir, 'vault');
    const env = { CUSTODY_VAULT_FS_PATH: vault };
    ok(await runCli(['init', '--home', home], env), 'init');
    ok(await runCli(['ledger', 'seal', '--home', home], env), 'seal');
    const busy = await runCli(['restore', '--from', vault, '--home', home], env);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/already holds a catalog/);
    const other = join(dir, 'other');
    ok(await runCli(['init', '--home', other], { CUSTODY_VAULT_FS_PATH: join(dir, 'vault2') }), 'init other');
    const wrongKey = join(dir, 'wrong.pem');
    ok(await runCli(['key', 'export', '--out', wrongKey, '--home', other], {}), 'key export');
    expect((await stat(wrongKey)).mode & 0o777).toBe(0o600);
    const refused = await runCli(['restore', '--from', vault, '--home', join(dir, 'new'), '--key', wrongKey], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not the station key|the ledger names the station key/);
    // The right key restores the station with it: no rotation.
    const right = join(dir, 'right.pem');
    ok(await runCli(['key', 'export', '--out', right, '--home', home], env), 'key export');
    expect((await runCli(['key', 'export', '--out', right, '--home', home], env)).code).not.toBe(0);
    const r = await runCli(['restore', '--from', vault, '--home', join(dir, 'new'), '--key', right, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(json<Row>(r)).toMatchObject({ ok: true, snapshot: null, key: { restored: true, rotatedFrom: null } });
  });

  const swift = swiftAvailability();
  let s3: SwiftS3 | undefined;
  afterAll(async () => {
    await s3?.stop();
  });
  if (swift.ok || process.env.CI === 'true') {
    it("rebuilds a lost station from Swift's S3 API, the vault described by --config", async () => {
      s3 = await startSwift();
      const bucket = await s3.createBucket('restore');
      const vault = { endpoint: s3.endpoint, region: s3.region, bucket, prefix: 'station-1/', profile: 'swift', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
      await loseAndRestore({
        env: {
          CUSTODY_VAULT_KIND: 's3',
          CUSTODY_VAULT_S3_ENDPOINT: vault.endpoint,
          CUSTODY_VAULT_S3_REGION: vault.region,
          CUSTODY_VAULT_S3_BUCKET: vault.bucket,
          CUSTODY_VAULT_S3_PREFIX: vault.prefix,
          CUSTODY_VAULT_S3_PROFILE: vault.profile,
          CUSTODY_VAULT_S3_ACCESS_KEY_ID: vault.accessKeyId,
          CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: vault.secretAccessKey,
        },
        // The restore is told of the bucket by a configuration file only, as an operator keeps it.
        restoreEnv: {},
        restoreArgs: async (dir) => {
          const file = join(dir, 'restore.yaml');
          await writeFile(file, `vault:\n  kind: s3\n  s3:\n${Object.entries(vault).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('')}`);
          return ['--config', file];
        },
      });
    });
  } else {
    console.warn(`[restore] Swift target not run: ${swift.reason}. (With CI=true this is a failure.)`);
  }
});
