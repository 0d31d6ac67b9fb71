import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { errorMessage } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import { diskSpace } from './figures.js';
import { readRollingVerifyState } from './rolling-verify.js';

/**
 * ok: nothing to do; warn: works, but should be fixed; fail: custody cannot do its job
 * (exit 1); unknown: could not be told (never guessed); skipped: not configured.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'unknown' | 'skipped';

/** One check of `custody doctor`, in English and Chinese: what was found and, unless ok, what to do. */
export interface DoctorCheck {
  id: string;
  title: string;
  titleZh: string;
  status: CheckStatus;
  detail: string;
  detailZh: string;
  fix: string | null;
  fixZh: string | null;
}

/** A command's output, or null when it is not installed. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<{ code: number; stdout: string } | null>;

export interface DoctorDeps {
  config: Config;
  /** The catalog, opened read-only; null when it could not be opened (reported). */
  catalog: Catalog | null;
  catalogError?: string | null;
  /** Opens the configured store (S3: checked only when asked). */
  store: () => Promise<ObjectStore>;
  /** Runs timedatectl and chronyc; default: execFile with a timeout. */
  run?: CommandRunner;
  /** Where the machine says things; tests point them at folders of their own. */
  paths?: { usbBusDir?: string; timesyncFlag?: string };
  now?: () => Date;
}

const CHECK_TIMEOUT_MS = 5000;

export const runCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: CHECK_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(null);
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout });
    });
  });

const gb = (b: number): string => `${(b / 1e9).toFixed(1)} GB`;
const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

function check(id: string, title: string, titleZh: string, status: CheckStatus, detail: string, detailZh: string, fix: string | null = null, fixZh: string | null = null): DoctorCheck {
  return { id, title, titleZh, status, detail, detailZh, fix, fixZh };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A path's permissions: it must exist, be this process's to use, and give nothing to others. */
async function permissions(id: string, title: string, titleZh: string, path: string, opts: { maxMode: number; need: number }): Promise<DoctorCheck> {
  const st = await stat(path).catch(() => null);
  if (!st) return check(id, title, titleZh, 'fail', `${path} does not exist`, `${path} 不存在`, `run custody init --home <home> as the service user`, `以服务用户运行 custody init --home <数据目录>`);
  try {
    await access(path, opts.need);
  } catch {
    return check(
      id,
      title,
      titleZh,
      'fail',
      `${path} (${octal(st.mode)}, owner uid ${st.uid}) cannot be used by this user`,
      `当前用户无法访问 ${path}（${octal(st.mode)}，属主 uid ${st.uid}）`,
      `run as the service user (sudo -u custody custody doctor), or chown custody:custody ${path}`,
      `以服务用户运行（sudo -u custody custody doctor），或执行 chown custody:custody ${path}`,
    );
  }
  const extra = st.mode & 0o777 & ~opts.maxMode;
  if (extra !== 0) {
    return check(
      id,
      title,
      titleZh,
      'warn',
      `${path} is ${octal(st.mode)}: more open than ${octal(opts.maxMode)}`,
      `${path} 权限为 ${octal(st.mode)}，比 ${octal(opts.maxMode)} 宽松`,
      `chmod ${octal(st.mode & opts.maxMode)} ${path}`,
      `执行 chmod ${octal(st.mode & opts.maxMode)} ${path}`,
    );
  }
  return check(id, title, titleZh, 'ok', `${path} is ${octal(st.mode)}`, `${path} 权限为 ${octal(st.mode)}`);
}

async function freeSpace(id: string, title: string, titleZh: string, path: string, minPercent: number): Promise<DoctorCheck> {
  const d = await diskSpace(path);
  if (!d || d.size === 0) return check(id, title, titleZh, 'unknown', `cannot read the free space of ${path}`, `无法读取 ${path} 的剩余空间`);
  const pct = (d.free / d.size) * 100;
  const line = `${gb(d.free)} free of ${gb(d.size)} (${pct.toFixed(1)} %) at ${path}`;
  const lineZh = `${path} 剩余 ${gb(d.free)}，共 ${gb(d.size)}（${pct.toFixed(1)}%）`;
  if (pct < minPercent) {
    return check(
      id,
      title,
      titleZh,
      'fail',
      `${line}: below monitoring.minFreePercent (${minPercent} %)`,
      `${lineZh}，低于 monitoring.minFreePercent（${minPercent}%）`,
      'free space or add a disk: when the vault is full, docks pause and nothing is wiped from recorders',
      '清理空间或增加磁盘：存储已满时采集暂停，记录仪上的文件不会被清除',
    );
  }
  return check(id, title, titleZh, 'ok', line, lineZh);
}

/** Clock synchronisation as the machine says it: timedatectl, else chronyc, else systemd-timesyncd's flag file; else unknown. */
export async function clockSync(run: CommandRunner, timesyncFlag: string): Promise<DoctorCheck> {
  const title = 'workstation clock synchronised';
  const titleZh = '工作站时钟同步';
  const notSynced = (by: string): DoctorCheck =>
    check(
      'clock',
      title,
      titleZh,
      'fail',
      `${by} says the clock is not synchronised: recorded times, drift measurements and upload deadlines depend on it`,
      `${by} 显示时钟未同步：录制时间、时间偏差测量和上传时限都依赖工作站时钟`,
      'enable time synchronisation with the bureau\'s NTP server (timedatectl set-ntp true, or chrony)',
      '启用与单位 NTP 服务器的时间同步（timedatectl set-ntp true 或 chrony）',
    );
  const t = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (t && t.code === 0) {
    const v = t.stdout.trim();
    if (v === 'yes') return check('clock', title, titleZh, 'ok', 'timedatectl: synchronised (NTPSynchronized=yes)', 'timedatectl：已同步（NTPSynchronized=yes）');
    if (v === 'no') return notSynced('timedatectl');
  }
  const c = await run('chronyc', ['-n', 'tracking']);
  if (c && c.code === 0) {
    const leap = /^Leap status\s*:\s*(.+)$/m.exec(c.stdout)?.[1]?.trim();
    if (leap === 'Normal') return check('clock', title, titleZh, 'ok', 'chronyc: synchronised (leap status Normal)', 'chronyc：已同步（Leap status Normal）');
    if (leap) return notSynced(`chronyc (leap status ${leap})`);
  }
  if (await stat(timesyncFlag).catch(() => null)) {
    return check('clock', title, titleZh, 'ok', `${timesyncFlag} is present (systemd-timesyncd synchronised)`, `${timesyncFlag} 存在（systemd-timesyncd 已同步）`);
  }
  return check(
    'clock',
    title,
    titleZh,
    'unknown',
    'no timedatectl or chronyc answer and no systemd-timesyncd flag: whether the clock is synchronised is not known',
    '无法从 timedatectl、chronyc 或 systemd-timesyncd 得知时钟是否同步',
    'install and enable a time service (systemd-timesyncd or chrony) pointing at the bureau\'s NTP server',
    '安装并启用时间同步服务（systemd-timesyncd 或 chrony），指向单位的 NTP 服务器',
  );
}

async function usbAccess(config: Config, usbBusDir: string): Promise<DoctorCheck> {
  const title = 'USB access';
  const titleZh = 'USB 访问';
  if (!config.devices.usb) return check('usb', title, titleZh, 'skipped', 'devices.usb is off: recorders are found by their mounts only', 'devices.usb 已关闭：仅通过挂载发现记录仪');
  const buses = await readdir(usbBusDir).catch(() => null);
  if (!buses) {
    return check(
      'usb',
      title,
      titleZh,
      'warn',
      `${usbBusDir} is missing: no USB bus here (a container or VM?), recorders are found by their mounts only`,
      `${usbBusDir} 不存在：没有 USB 总线（容器或虚拟机？），仅能通过挂载发现记录仪`,
      'run custody on the workstation the recorders are docked to, or set devices.usb: false',
      '在接入记录仪的工作站上运行 custody，或设置 devices.usb: false',
    );
  }
  let nodes = 0;
  let usable = 0;
  for (const bus of buses) {
    for (const dev of (await readdir(join(usbBusDir, bus)).catch(() => [])) as string[]) {
      nodes++;
      if (await access(join(usbBusDir, bus, dev), constants.R_OK | constants.W_OK).then(() => true, () => false)) usable++;
    }
  }
  // Only the known recorder models need to be open to custody (the udev rule gives them
  // the custody group); the others are listed, not opened.
  return check('usb', title, titleZh, 'ok', `${nodes} USB device node(s), ${usable} open to this user (the udev rule opens the known recorder models)`, `共 ${nodes} 个 USB 设备节点，当前用户可读写 ${usable} 个（udev 规则为已知型号的记录仪授权）`);
}

async function mountAccess(config: Config): Promise<DoctorCheck> {
  const title = 'mount roots and drop folders';
  const titleZh = '挂载目录与投放目录';
  const dirs = [...config.devices.mountRoots, ...config.devices.dropFolders].map((p) => (p.startsWith('/') ? p : join(config.home, p)));
  const bad: string[] = [];
  for (const d of dirs) {
    if (!(await access(d, constants.R_OK | constants.X_OK).then(() => true, () => false))) bad.push(d);
  }
  if (bad.length === dirs.length && dirs.length > 0) {
    return check(
      'mounts',
      title,
      titleZh,
      'fail',
      `none of ${dirs.join(', ')} can be read: no docked recorder would be seen`,
      `${dirs.join('、')} 均无法读取：接入的记录仪将无法被发现`,
      'create them or give the service user read access (the udev rule mounts recorders under /media/custody)',
      '创建这些目录或授予服务用户读权限（udev 规则将记录仪挂载到 /media/custody）',
    );
  }
  if (bad.length > 0) {
    return check('mounts', title, titleZh, 'warn', `cannot be read: ${bad.join(', ')}`, `无法读取：${bad.join('、')}`, 'create them, or remove them from devices.mountRoots / devices.dropFolders', '创建这些目录，或从 devices.mountRoots / devices.dropFolders 中删除');
  }
  return check('mounts', title, titleZh, 'ok', `readable: ${dirs.join(', ')}`, `可读取：${dirs.join('、')}`);
}

/** PING a Redis server over a plain socket (AUTH first when the URL has a password). */
async function redisPing(url: string): Promise<string> {
  const u = new URL(url);
  const cmd = (...parts: string[]): string => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  const pass = u.password ? decodeURIComponent(u.password) : null;
  const user = u.username ? decodeURIComponent(u.username) : null;
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const sock = connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) });
      let buf = '';
      sock.on('connect', () => sock.write((pass ? (user ? cmd('AUTH', user, pass) : cmd('AUTH', pass)) : '') + cmd('PING')));
      sock.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\r\n').filter(Boolean);
        if (lines.length >= (pass ? 2 : 1) || lines.some((l) => l.startsWith('-'))) {
          sock.destroy();
          resolve(lines.find((l) => l.startsWith('-')) ?? lines.at(-1)!);
        }
      });
      sock.on('error', reject);
    }),
    CHECK_TIMEOUT_MS,
    'Redis',
  );
}

async function redisCheck(config: Config): Promise<DoctorCheck> {
  const title = 'Redis (jobs.redisUrl)';
  const titleZh = 'Redis 任务队列';
  if (!config.jobs.redisUrl) return check('redis', title, titleZh, 'skipped', 'not configured: follow-up jobs run in-process', '未配置：后续任务在进程内运行');
  const where = (() => {
    const u = new URL(config.jobs.redisUrl);
    return `${u.hostname}:${u.port || 6379}`;
  })();
  try {
    const answer = await redisPing(config.jobs.redisUrl);
    if (answer === '+PONG') return check('redis', title, titleZh, 'ok', `${where} answers PING`, `${where} 响应 PING`);
    return check('redis', title, titleZh, 'fail', `${where} answers ${answer}`, `${where} 返回 ${answer}`, 'check the password in jobs.redisUrl', '检查 jobs.redisUrl 中的密码');
  } catch (e) {
    return check('redis', title, titleZh, 'fail', `${where}: ${errorMessage(e)}`, `${where}：${errorMessage(e)}`, 'start Redis (systemctl start redis-server) or correct jobs.redisUrl', '启动 Redis（systemctl start redis-server）或更正 jobs.redisUrl');
  }
}

async function vaultCheck(config: Config, openStore: () => Promise<ObjectStore>): Promise<DoctorCheck> {
  const s3 = config.vault.kind === 's3';
  const title = s3 ? 'S3 vault reachable' : 'vault readable';
  const titleZh = s3 ? 'S3 证据库可访问' : '证据库可读取';
  try {
    const store = await openStore();
    await withTimeout(
      (async () => {
        for await (const _o of store.list('ledger/')) break;
      })(),
      CHECK_TIMEOUT_MS * 2,
      store.location,
    );
    return check('vault', title, titleZh, 'ok', `${store.kind} ${store.location} answers`, `${store.kind} ${store.location} 可访问`);
  } catch (e) {
    return check(
      'vault',
      title,
      titleZh,
      'fail',
      errorMessage(e),
      errorMessage(e),
      s3 ? 'check vault.s3.endpoint, the bucket, the credentials and the network (docs/object-stores.md)' : 'check that the vault folder exists and belongs to the service user',
      s3 ? '检查 vault.s3.endpoint、存储桶、访问凭据和网络（docs/object-stores.md）' : '检查证据库目录是否存在且属于服务用户',
    );
  }
}

async function keyCheck(home: string): Promise<DoctorCheck> {
  const file = join(home, 'keys', 'station.ed25519.pem');
  const title = 'station key readable';
  const titleZh = '站点签名密钥可读取';
  const perm = await permissions('key', title, titleZh, file, { maxMode: 0o600, need: constants.R_OK });
  if (perm.status === 'fail') return { ...perm, fix: 'restore it with custody key export\'s copy kept offline, or run custody init (a new key)', fixZh: '用离线保存的 custody key export 副本恢复，或运行 custody init（生成新密钥）' };
  const pem = await readFile(file, 'utf8').catch(() => '');
  if (!pem.includes('PRIVATE KEY')) return check('key', title, titleZh, 'fail', `${file} holds no private key`, `${file} 中没有私钥`, 'restore the key from its offline copy', '从离线副本恢复密钥');
  return perm;
}

function catalogCheck(deps: DoctorDeps): DoctorCheck {
  const file = join(deps.config.home, 'catalog.db');
  if (!deps.catalog) {
    return check('catalog', 'catalog opens', '目录数据库可打开', 'fail', `${file}: ${deps.catalogError ?? 'cannot be opened'}`, `${file}：${deps.catalogError ?? '无法打开'}`, 'run custody init --home <home>, or restore the station (docs/operations.md)', '运行 custody init --home <数据目录>，或恢复站点（docs/operations.md）');
  }
  return check('catalog', 'catalog opens', '目录数据库可打开', 'ok', `${file} opens`, `${file} 可打开`);
}

function snapshotCheck(deps: DoctorDeps, now: Date): DoctorCheck {
  const title = 'last catalog snapshot';
  const titleZh = '最近一次目录快照';
  if (!deps.catalog) return check('snapshot', title, titleZh, 'unknown', 'the catalog cannot be read', '无法读取目录数据库');
  const row = deps.catalog.db.prepare<[], { time: string }>("SELECT time FROM ledger WHERE type = 'catalog.snapshot-taken' ORDER BY seq DESC LIMIT 1").get();
  const max = deps.config.monitoring.snapshotMaxAgeHours;
  if (!row) {
    // A station newer than the snapshots' allowed age has not missed one yet: the daemon
    // takes its first as it starts (a station initialised but not yet started has none).
    // Said, not failed, until then.
    const first = deps.catalog.db.prepare<[], { time: string }>('SELECT time FROM ledger WHERE seq = 1').get();
    const age = first ? (now.getTime() - Date.parse(first.time)) / 3_600_000 : Infinity;
    if (deps.config.backup.intervalHours > 0 && age <= max) {
      return check(
        'snapshot',
        title,
        titleZh,
        'warn',
        `no catalog snapshot yet: the station was initialised ${age.toFixed(1)} h ago; the daemon takes the first as it starts`,
        `尚未生成目录快照：站点初始化于 ${age.toFixed(1)} 小时前，守护进程启动时将生成第一份`,
        'run custody backup to take one now',
        '如需立即生成，请运行 custody backup',
      );
    }
    return check('snapshot', title, titleZh, 'fail', 'no catalog snapshot was ever taken: a lost workstation would lose users, grants, flags and devices', '从未生成目录快照：工作站损坏将丢失用户、授权、预警和设备记录', 'run custody backup, and keep the daemon running (it takes one daily)', '运行 custody backup，并保持守护进程运行（每日自动生成）');
  }
  const hours = (now.getTime() - Date.parse(row.time)) / 3_600_000;
  const line = `taken ${row.time} (${hours.toFixed(1)} h ago)`;
  const lineZh = `生成于 ${row.time}（${hours.toFixed(1)} 小时前）`;
  if (hours > max) {
    return check('snapshot', title, titleZh, 'fail', `${line}: older than monitoring.snapshotMaxAgeHours (${max} h)`, `${lineZh}，超过 monitoring.snapshotMaxAgeHours（${max} 小时）`, 'run custody backup, and check the daemon\'s log for failed snapshots', '运行 custody backup，并检查守护进程日志中的快照失败记录');
  }
  return check('snapshot', title, titleZh, 'ok', line, lineZh);
}

function verificationCheck(deps: DoctorDeps): DoctorCheck {
  const title = 'rolling deep verification';
  const titleZh = '滚动完整性校验';
  if (deps.config.verification.rollingPeriodDays === 0) return check('verification', title, titleZh, 'skipped', 'verification.rollingPeriodDays is 0', 'verification.rollingPeriodDays 为 0');
  const st = deps.catalog ? readRollingVerifyState(deps.catalog) : null;
  if (!st) return check('verification', title, titleZh, 'unknown', 'has not run yet (the daemon runs it)', '尚未运行（由守护进程执行）');
  const failures = st.failures + (st.lastPass?.failures ?? 0);
  const pct = st.bytesTotal > 0 ? Math.min(100, (st.bytesDone / st.bytesTotal) * 100) : 100;
  if (failures > 0) {
    return check('verification', title, titleZh, 'fail', `${failures} object(s) missing, changed or unreadable (ledger: vault.object-failed)`, `${failures} 个对象缺失、被篡改或无法读取（账本：vault.object-failed）`, 'run custody verify --deep and restore the objects from an archival copy or replica', '运行 custody verify --deep，并从归档副本或备份恢复这些对象');
  }
  return check('verification', title, titleZh, 'ok', `pass started ${st.passStartedAt}, ${pct.toFixed(0)} % done, no failure`, `本轮始于 ${st.passStartedAt}，已完成 ${pct.toFixed(0)}%，无失败`);
}

/** Every check of `custody doctor`, in a fixed order. */
export async function runDoctor(deps: DoctorDeps): Promise<DoctorCheck[]> {
  const { config } = deps;
  const run = deps.run ?? runCommand;
  const now = deps.now?.() ?? new Date();
  const home = config.home;
  const checks: DoctorCheck[] = [];
  checks.push(await permissions('home', 'home permissions', '数据目录权限', home, { maxMode: 0o750, need: constants.R_OK | constants.W_OK | constants.X_OK }));
  checks.push(await permissions('catalog-file', 'catalog file permissions', '目录数据库文件权限', join(home, 'catalog.db'), { maxMode: 0o640, need: constants.R_OK | constants.W_OK }));
  checks.push(catalogCheck(deps));
  checks.push(await keyCheck(home));
  checks.push(await freeSpace('home-space', 'free space of the home', '数据目录剩余空间', home, config.monitoring.minFreePercent));
  if (config.vault.kind === 'fs') checks.push(await freeSpace('vault-space', 'free space of the vault', '证据库剩余空间', config.vault.fs.path, config.monitoring.minFreePercent));
  checks.push(await vaultCheck(config, deps.store));
  checks.push(await clockSync(run, deps.paths?.timesyncFlag ?? '/run/systemd/timesync/synchronized'));
  checks.push(await usbAccess(config, deps.paths?.usbBusDir ?? '/dev/bus/usb'));
  checks.push(await mountAccess(config));
  checks.push(await redisCheck(config));
  checks.push(snapshotCheck(deps, now));
  checks.push(verificationCheck(deps));
  return checks;
}
