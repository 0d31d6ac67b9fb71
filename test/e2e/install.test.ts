import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

// Issue 20: scripts/install.sh upgrades an installed station — stop, snapshot the
// catalog, install, migrate, start, check /readyz — and rolls a failed migration back
// (the snapshot restored, the previous version started again). There is no systemd
// here: a fake `systemctl` runs the installed `custody daemon` as the unit would, and
// the install goes under a temp root (CUSTODY_INSTALL_ROOT).

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A stand-in for systemctl: records each call; start/stop/is-active run the installed daemon by its pid. */
const FAKE_SYSTEMCTL = `#!/usr/bin/env bash
set -u
echo "$*" >> "$FAKE_SYSTEMD_DIR/calls"
pidfile="$FAKE_SYSTEMD_DIR/custody.pid"
alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$1" in
  daemon-reload|enable) exit 0 ;;
  is-active) alive; exit $? ;;
  start)
    alive && exit 0
    CUSTODY_HOME="$FAKE_ROOT/var/lib/custody" setsid "$FAKE_ROOT/usr/local/bin/custody" daemon >> "$FAKE_SYSTEMD_DIR/daemon.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    exit 0 ;;
  stop)
    if alive; then
      pid="$(cat "$pidfile")"
      kill -TERM "$pid"
      for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
    exit 0 ;;
  *) echo "fake systemctl: $*" >&2; exit 1 ;;
esac
`;

interface Run {
  code: number | null;
  out: string;
}

const daemons: string[] = [];
afterEach(async () => {
  // Stop a daemon a failed test left running (by its recorded pid only).
  for (const dir of daemons.splice(0)) {
    const pidfile = join(dir, 'custody.pid');
    if (!existsSync(pidfile)) continue;
    const pid = Number(await readFile(pidfile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 300; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A checkout of custody as install.sh sees it: the built program at a given version, its migrations optionally extended. */
async function checkout(dir: string, version: string, extraMigration?: string): Promise<string> {
  await mkdir(join(dir, 'scripts'), { recursive: true });
  for (const part of ['dist', 'config', 'systemd', 'udev', 'docs', 'package-lock.json']) await cp(join(REPO, part), join(dir, part), { recursive: true });
  await cp(join(REPO, 'scripts/install.sh'), join(dir, 'scripts/install.sh'));
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  pkg.version = version;
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  if (extraMigration) {
    const index = join(dir, 'dist/catalog/migrations/index.js');
    const text = await readFile(index, 'utf8');
    const m = /export const migrations = \[([^\]]*)\];/.exec(text);
    if (!m) throw new Error(`no migrations list in ${index}`);
    const next = m[1]!.split(',').length + 1;
    await writeFile(index, text.replace(m[0], `export const migrations = [${m[1]}, { version: ${next}, name: 'upgrade-probe', up(db) { ${extraMigration} } }];`));
  }
  return dir;
}

function install(src: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(src, 'scripts/install.sh'), '--allow-unsupported-node', '--deps-from', REPO, '--ready-timeout', '90', ...args], {
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUSTODY_'))), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

function catalogFacts(file: string): { userVersion: number; probe: boolean; ledger: number } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      userVersion: db.pragma('user_version', { simple: true }) as number,
      probe: db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'upgrade_probe'").get() !== undefined,
      ledger: (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

async function ready(port: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
  return r?.status ?? 0;
}

describe('scripts/install.sh upgrades (issue 20)', () => {
  it('installs and starts; an upgrade whose migration fails is rolled back and the previous version runs again; a good upgrade migrates and is ready', { timeout: 600_000 }, async () => {
    const t = await tempDir('custody-install-');
    const root = join(t, 'root');
    const systemd = join(t, 'systemd');
    await mkdir(systemd, { recursive: true });
    daemons.push(systemd);
    const systemctl = join(t, 'systemctl');
    await writeFile(systemctl, FAKE_SYSTEMCTL);
    await chmod(systemctl, 0o755);
    const home = join(root, 'var/lib/custody');
    const port = await freePort();
    await mkdir(join(t, 'mounts'), { recursive: true });
    await mkdir(home, { recursive: true });
    // The station's configuration: its own port, no USB, a mount root of its own, no scheduled purge.
    await writeFile(
      join(home, 'custody.yaml'),
      `api:\n  port: ${port}\ndevices:\n  usb: false\n  mountRoots: [${join(t, 'mounts')}]\nretention:\n  dailyAt: ""\n`,
    );
    const user = (await import('node:os')).userInfo().username;
    const args = ['--root', root, '--service-user', user];
    const env = { SYSTEMCTL: systemctl, UDEVADM: 'true', SYSTEMD_ANALYZE: 'true', FAKE_SYSTEMD_DIR: systemd, FAKE_ROOT: root };
    const calls = async (): Promise<string[]> => (await readFile(join(systemd, 'calls'), 'utf8')).trim().split('\n');
    const installedVersion = async (): Promise<string> => (JSON.parse(await readFile(join(root, 'opt/custody/package.json'), 'utf8')) as { version: string }).version;

    // A fresh install: started and ready.
    const first = await install(await checkout(join(t, 'v1'), '0.1.0-one'), args, env);
    expect(first.code, first.out).toBe(0);
    expect(await installedVersion()).toBe('0.1.0-one');
    expect(await calls()).toEqual(['daemon-reload', 'enable custody.service', 'start custody.service']);
    expect(first.out).toMatch(/ready: http:\/\/127\.0\.0\.1:\d+\/readyz/);
    expect(await ready(port)).toBe(200);
    const before = catalogFacts(join(home, 'catalog.db'));

    // An upgrade whose migration fails: rolled back, the previous version running again.
    await writeFile(join(systemd, 'calls'), '');
    const failing = await install(await checkout(join(t, 'v2-bad'), '0.1.0-bad', "db.exec('CREATE TABLE upgrade_probe (x INTEGER) STRICT'); throw new Error('deliberately failing migration');"), args, env);
    expect(failing.code, failing.out).toBe(1);
    expect(failing.out).toContain('upgrading custody 0.1.0-one to 0.1.0-bad');
    expect(failing.out).toContain('deliberately failing migration');
    expect(failing.out).toMatch(/the new version could not open or migrate the catalog: rolling back to custody 0\.1\.0-one/);
    expect(failing.out).toContain('custody 0.1.0-one is running again');
    expect(await installedVersion()).toBe('0.1.0-one');
    expect(existsSync(join(root, 'opt/custody.previous'))).toBe(false);
    // Stopped before the snapshot, started again after the rollback.
    const c2 = await calls();
    expect(c2[0]).toBe('is-active --quiet custody.service');
    expect(c2[1]).toBe('stop custody.service');
    expect(c2.at(-1)).toBe('start custody.service');
    const snapshots = readdirSync(join(home, 'upgrades'));
    expect(snapshots).toEqual([expect.stringMatching(/^catalog-0\.1\.0-one-\d{8}T\d{6}Z\.db$/)]);
    const afterBad = catalogFacts(join(home, 'catalog.db'));
    expect(afterBad.userVersion).toBe(before.userVersion);
    expect(afterBad.probe).toBe(false);
    expect(afterBad.ledger).toBeGreaterThanOrEqual(before.ledger);
    expect(await ready(port)).toBe(200);

    // A good upgrade: stopped, snapshotted, installed, migrated, started, ready.
    await writeFile(join(systemd, 'calls'), '');
    const good = await install(await checkout(join(t, 'v3'), '0.1.0-three', "db.exec('CREATE TABLE upgrade_probe (x INTEGER) STRICT');"), args, env);
    expect(good.code, good.out).toBe(0);
    expect(good.out).toContain('upgraded custody 0.1.0-one to 0.1.0-three');
    // The installed version has `custody backup`: the upgrade also took a ledgered snapshot into the vault.
    expect(good.out).toContain('catalog snapshot taken into the vault (custody backup)');
    expect(await installedVersion()).toBe('0.1.0-three');
    expect(existsSync(join(root, 'opt/custody.previous'))).toBe(false);
    const c3 = await calls();
    expect(c3.slice(0, 2)).toEqual(['is-active --quiet custody.service', 'stop custody.service']);
    expect(c3.at(-1)).toBe('start custody.service');
    const afterGood = catalogFacts(join(home, 'catalog.db'));
    expect(afterGood.userVersion).toBe(before.userVersion + 1);
    expect(afterGood.probe).toBe(true);
    const db = new Database(join(home, 'catalog.db'), { readonly: true });
    const reasons = db.prepare("SELECT json_extract(data, '$.reason') AS reason FROM ledger WHERE type = 'catalog.snapshot-taken'").all() as Array<{ reason: string }>;
    db.close();
    expect(reasons.map((r) => r.reason)).toContain('manual');
    expect(readdirSync(join(home, 'upgrades'))).toHaveLength(2);
    expect(await ready(port)).toBe(200);

    // The upgraded daemon runs the rolling deep verification: its pass shows in /metrics
    // (figures are read at most every 30 s, so this may take one such period).
    let started = 0;
    for (let i = 0; i < 600 && started === 0; i++) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      started = Number(/^custody_verify_rolling_pass_started_timestamp_seconds (\S+)$/m.exec(text)?.[1] ?? 0);
      if (started === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(started).toBeGreaterThan(0);
  });

  it('refuses a Node.js outside the supported lines unless told', async () => {
    const t = await tempDir('custody-install-node-');
    const src = join(t, 'src');
    await mkdir(join(src, 'scripts'), { recursive: true });
    await cp(join(REPO, 'scripts/install.sh'), join(src, 'scripts/install.sh'));
    // A `node` that says it is 20.
    const bin = join(t, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'node'), `#!/usr/bin/env bash\nif [ "$1" = "-p" ]; then echo 20; elif [ "$1" = "--version" ]; then echo v20.20.2; else exec ${process.execPath} "$@"; fi\n`);
    await chmod(join(bin, 'node'), 0o755);
    const r = await new Promise<Run>((resolve) => {
      const child = spawn('bash', [join(src, 'scripts/install.sh'), '--root', join(t, 'root')], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SYSTEMCTL: 'true' } });
      let out = '';
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(2);
    expect(r.out).toContain('Node.js v20.20.2 is not supported: install Node.js 22 or 24');
    expect(existsSync(join(t, 'root'))).toBe(false);
  });
});
