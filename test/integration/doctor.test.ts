import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { doctorText } from '../../src/cli/commands/doctor.js';
import { loadConfig } from '../../src/config/index.js';
import { ledgerOf } from '../../src/ledger/index.js';
import { runDoctor, type CommandRunner, type DoctorCheck } from '../../src/monitoring/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { ensureStationKey, FsObjectStore, openObjectStore } from '../../src/vault/index.js';
import { startS3rver, S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, type S3rver } from '../helpers/s3rver.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 20: `custody doctor` checks a station and says what to fix, in English and
// Chinese; what it cannot tell (the clock with no time service to ask) is "unknown".

/** A station home as `custody init` leaves it, with its own mount root and USB bus folder. */
async function station(extra: Record<string, string> = {}) {
  const dir = await tempDir('custody-doctor-');
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o750 });
  await chmod(home, 0o750);
  const mounts = join(dir, 'media');
  await mkdir(mounts);
  const usb = join(dir, 'usb');
  await mkdir(join(usb, '001'), { recursive: true });
  await writeFile(join(usb, '001', '002'), '');
  const config = loadConfig({ home, env: { CUSTODY_DEVICES_MOUNT_ROOTS: JSON.stringify([mounts]), ...extra } });
  const catalog = Catalog.open(join(home, 'catalog.db'));
  await chmod(join(home, 'catalog.db'), 0o640);
  await ensureStationKey(home);
  const store = new FsObjectStore({ root: config.vault.fs.path, fsync: false });
  await store.init();
  return { dir, home, config, catalog, store, usb };
}

const answers =
  (table: Record<string, { code: number; stdout: string } | null>): CommandRunner =>
  async (cmd) =>
    table[cmd] ?? null;

const byId = (checks: DoctorCheck[]): Record<string, DoctorCheck> => Object.fromEntries(checks.map((c) => [c.id, c]));

/** A snapshot as `custody backup` records it (docs/ledger.md); the doctor reads only its time. */
function snapshotTaken(catalog: Catalog): void {
  catalog.tx(() =>
    ledgerOf(catalog).append({
      type: 'catalog.snapshot-taken',
      actor: 'test',
      subject: null,
      data: { key: 'catalog/snapshots/x.db', sha256: 'a'.repeat(64), size: 1, ledgerSize: 1, schemaVersion: 1, reason: 'manual' },
    }),
  );
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let s3: S3rver;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

describe('custody doctor (issue 20)', () => {
  it('passes a healthy station: permissions, space, clock, USB, mounts, Redis, vault, snapshot', async () => {
    const s = await station({ CUSTODY_JOBS_REDIS_URL: 'redis://127.0.0.1:6379' });
    snapshotTaken(s.catalog);
    const checks = await runDoctor({
      config: s.config,
      catalog: s.catalog,
      store: async () => s.store,
      run: answers({ timedatectl: { code: 0, stdout: 'yes\n' } }),
      paths: { usbBusDir: s.usb, timesyncFlag: join(s.dir, 'no-flag') },
    });
    const c = byId(checks);
    for (const id of ['home', 'catalog-file', 'catalog', 'key', 'vault', 'clock', 'usb', 'mounts', 'redis', 'snapshot']) expect(c[id]?.status, `${id}: ${c[id]?.detail}`).toBe('ok');
    // Free space is the machine's: read, whatever it is.
    expect(['ok', 'fail']).toContain(c['home-space']!.status);
    expect(c['home-space']!.detail).toMatch(/GB free of .* GB/);
    expect(c.usb!.detail).toContain('1 USB device node(s)');
    expect(c.verification!.status).toBe('unknown');
    s.catalog.close();
  });

  it('says what to fix, in English and Chinese, and "unknown" when nothing can tell the clock', async () => {
    const s = await station({ CUSTODY_JOBS_REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, CUSTODY_DEVICES_DROP_FOLDERS: JSON.stringify(['/nonexistent-drop']) });
    await chmod(s.home, 0o777);
    await chmod(join(s.home, 'keys', 'station.ed25519.pem'), 0o644);
    const checks = await runDoctor({
      config: { ...s.config, devices: { ...s.config.devices, mountRoots: ['/nonexistent-mounts'] } },
      catalog: s.catalog,
      store: async () => s.store,
      run: answers({}),
      paths: { usbBusDir: join(s.dir, 'no-usb'), timesyncFlag: join(s.dir, 'no-flag') },
    });
    const c = byId(checks);
    expect(c.home).toMatchObject({ status: 'warn', fix: `chmod 0750 ${s.home}` });
    expect(c.home!.fixZh).toBe(`执行 chmod 0750 ${s.home}`);
    expect(c.key).toMatchObject({ status: 'warn', fix: `chmod 0600 ${join(s.home, 'keys', 'station.ed25519.pem')}` });
    expect(c.clock).toMatchObject({ status: 'unknown' });
    expect(c.clock!.detail).toContain('is not known');
    expect(c.usb!.status).toBe('warn');
    expect(c.mounts!.status).toBe('fail');
    expect(c.redis!.status).toBe('fail');
    expect(c.redis!.fixZh).toContain('启动 Redis');
    // No snapshot, and no ledger to say how old the station is: failed.
    expect(c.snapshot).toMatchObject({ status: 'fail' });
    expect(c.snapshot!.fixZh).toContain('custody backup');

    const text = doctorText(s.home, checks);
    expect(text).toContain('✗ FAIL');
    expect(text).toContain('工作站时钟同步');
    expect(text).toContain('处理：执行 chmod 0750');
    expect(text).toMatch(/\d+ to fix, \d+ to look at \(\d+ 项需处理，\d+ 项需关注\)\./);
    s.catalog.close();
  });

  it('reads the clock from timedatectl, else chronyc, else systemd-timesyncd', async () => {
    const s = await station();
    const flag = join(s.dir, 'synchronized');
    const clock = async (run: CommandRunner) =>
      byId(await runDoctor({ config: s.config, catalog: s.catalog, store: async () => s.store, run, paths: { usbBusDir: s.usb, timesyncFlag: flag } })).clock!;
    expect((await clock(answers({ timedatectl: { code: 0, stdout: 'no\n' } }))).status).toBe('fail');
    expect((await clock(answers({ chronyc: { code: 0, stdout: 'Reference ID    : C0A80101\nLeap status     : Normal\n' } }))).status).toBe('ok');
    expect((await clock(answers({ chronyc: { code: 0, stdout: 'Leap status     : Not synchronised\n' } }))).status).toBe('fail');
    await writeFile(flag, '');
    const byFlag = await clock(answers({}));
    expect(byFlag.status).toBe('ok');
    expect(byFlag.detail).toContain('systemd-timesyncd');
    s.catalog.close();
  });

  it('a station younger than monitoring.snapshotMaxAgeHours without a snapshot is told, not failed; older, it fails', async () => {
    const s = await station();
    s.catalog.ledger.append({ type: 'station.initialized', actor: 'cli:test', data: {} });
    const at = (hours: number) => () => new Date(Date.now() + hours * 3_600_000);
    const run = async (hours: number) => byId(await runDoctor({ config: s.config, catalog: s.catalog, store: async () => s.store, run: answers({}), paths: { usbBusDir: s.usb }, now: at(hours) })).snapshot!;
    const young = await run(1);
    expect(young.status).toBe('warn');
    expect(young.detailZh).toContain('尚未生成目录快照');
    expect(young.fixZh).toContain('custody backup');
    const old = await run(30);
    expect(old.status).toBe('fail');
    expect(old.detail).toMatch(/no catalog snapshot was ever taken/);
    s.catalog.close();
  });

  it('reports a snapshot older than monitoring.snapshotMaxAgeHours', async () => {
    const s = await station();
    snapshotTaken(s.catalog);
    const later = new Date(Date.now() + 30 * 3_600_000);
    const c = byId(await runDoctor({ config: s.config, catalog: s.catalog, store: async () => s.store, run: answers({}), paths: { usbBusDir: s.usb }, now: () => later }));
    expect(c.snapshot!.status).toBe('fail');
    expect(c.snapshot!.detail).toMatch(/older than monitoring\.snapshotMaxAgeHours \(26 h\)/);
    s.catalog.close();
  });

  it('checks that an S3 vault answers (s3rver), and says what to check when it does not', async () => {
    const s = await station();
    const s3env = (endpoint: string, bucket: string) => ({
      CUSTODY_VAULT_KIND: 's3',
      CUSTODY_VAULT_S3_ENDPOINT: endpoint,
      CUSTODY_VAULT_S3_BUCKET: bucket,
      CUSTODY_VAULT_S3_PROFILE: 's3rver',
      CUSTODY_VAULT_S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
      CUSTODY_VAULT_S3_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      CUSTODY_VAULT_S3_MAX_ATTEMPTS: '1',
    });
    const vault = async (env: Record<string, string>) => {
      const config = loadConfig({ home: s.home, env });
      const checks = byId(await runDoctor({ config, catalog: s.catalog, store: () => openObjectStore(config.vault, silentLogger), run: answers({}), paths: { usbBusDir: s.usb } }));
      expect(checks['vault-space']).toBeUndefined(); // an S3 vault has no disk here
      return checks.vault!;
    };
    const ok = await vault(s3env(s3.endpoint, await s3.createBucket('doctor')));
    expect(ok).toMatchObject({ status: 'ok', title: 'S3 vault reachable', titleZh: 'S3 证据库可访问' });
    const gone = await vault(s3env(`http://127.0.0.1:${await closedPort()}`, 'doctor-gone'));
    expect(gone.status).toBe('fail');
    expect(gone.fix).toContain('vault.s3.endpoint');
    expect(gone.fixZh).toContain('存储桶');
    s.catalog.close();
  });
});
