/**
 * The recorder lab: real recorder file systems (exFAT and FAT32 images) mounted through
 * FUSE exactly as the system mounts a docked recorder (a real mount in mountinfo), and a
 * throttling, fault-injecting pass-through mount (throttlefs.py) in front of them.
 *
 * Everything a Lab starts it stops by its own pids and devices in close(), also when a
 * test fails: every FUSE server it started, every mount it made, every loop device it
 * attached. Needs root, /dev/fuse, loop devices and Debian's exfat-fuse, exfatprogs,
 * fusefat, dosfstools and python3-fusepy (`.ci/run` installs them); `labProblems()`
 * names whatever is missing, and the lab's tests fail with that list rather than skip.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseMountInfo } from '../../src/devices/mountinfo.js';

const run = promisify(execFile);
const THROTTLE = join(dirname(fileURLToPath(import.meta.url)), 'throttlefs.py');
const SWIFT_CHECK = fileURLToPath(new URL('../../scripts/test-s3-swift.sh', import.meta.url));
/** Debian's python3, which has python3-fusepy (not whatever python3 is first on PATH). */
const PYTHON = '/usr/bin/python3';

export type LabFs = 'exfat' | 'fat32';

export interface Image {
  path: string;
  fs: LabFs;
}

export interface Mount {
  /** The mount point. */
  at: string;
  kind: 'exfat' | 'fat32' | 'throttle' | 'tmpfs';
  /** The FUSE server's pid (ours: started by this lab); 0 for a tmpfs, which has none. */
  pid: number;
  /** The loop device under an exFAT mount. */
  loop: string | null;
}

export interface ThrottleOptions {
  /** MB/s for this mount. */
  rate?: number;
  /** Mounts given the same bus file share `busRate` MB/s (one USB controller). */
  bus?: string;
  busRate?: number;
  /** Opening a file matching the glob waits this many seconds first. */
  delay?: Array<{ glob: string; seconds: number }>;
  /** A read of a file matching the glob that reaches the offset waits until the file `until` exists (the test releases it). */
  gate?: Array<{ glob: string; offset: number; until: string }>;
  eio?: Array<{ path: string; offset: number }>;
  vanish?: Array<{ path: string; offset: number }>;
  shrink?: Array<{ path: string; offset: number }>;
  /** Deletions pass through to the source (every other change is refused). */
  unlink?: boolean;
  /** A deletion matching the glob is done, then its reply waits this many seconds (implies `unlink`). */
  holdUnlink?: Array<{ glob: string; seconds: number }>;
  /** The recorder's status file at the root (e.g. RECORDER.JSON) may be rewritten, as a station's clock sync does; nothing else. */
  statusFile?: string;
  /** A file the server appends "delay PATH" / "gate PATH" / "unlinked PATH" to as each delayed open / gated read / held deletion happens. */
  events?: string;
}

async function which(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );
}

/** What this machine lacks for the lab; empty when it can run. */
export async function labProblems(): Promise<string[]> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('the lab mounts file systems and attaches loop devices: run as root');
  if (!existsSync('/dev/fuse')) problems.push('no /dev/fuse');
  if (!existsSync('/dev/loop-control')) problems.push('no loop devices (/dev/loop-control)');
  for (const [cmd, pkg] of [
    ['mount.exfat-fuse', 'exfat-fuse'],
    ['mkfs.exfat', 'exfatprogs'],
    ['fusefat', 'fusefat'],
    ['mkfs.vfat', 'dosfstools'],
    ['losetup', 'mount'],
    ['fusermount', 'fuse3'],
  ] as const) {
    if (!(await which(cmd))) problems.push(`${cmd} is missing (Debian package ${pkg})`);
  }
  const fusepy = await run(PYTHON, ['-c', 'import fusepy']).then(
    () => true,
    () => false,
  );
  if (!fusepy) problems.push(`${PYTHON} cannot import fusepy (Debian package python3-fusepy)`);
  // The campaign's object-store fault runs a private Swift (scripts/test-s3-swift.sh names what it lacks).
  const swift = await run('bash', [SWIFT_CHECK, 'check']).then(
    () => null,
    (e: unknown) => String((e as { stderr?: string }).stderr ?? e).trim(),
  );
  if (swift) problems.push(swift);
  return problems;
}

/** Throw, naming everything missing, when the lab cannot run here. */
export async function requireLab(): Promise<void> {
  const p = await labProblems();
  if (p.length > 0) throw new Error(`the recorder lab cannot run on this machine:\n  - ${p.join('\n  - ')}`);
}

async function mountAtPath(at: string): Promise<{ mountId: number; fsType: string } | null> {
  const table = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const p = resolve(at);
  let found: { mountId: number; fsType: string } | null = null;
  for (const m of table) if (m.mountPoint === p) found = { mountId: m.mountId, fsType: m.fsType };
  return found;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`lab: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Is the process running (a zombie waiting to be reaped is not)? */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of the process whose command line is exactly `argv` (a daemonising FUSE server). */
async function pidOf(argv: string[]): Promise<number | null> {
  const want = argv.join('\0');
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.replace(/\0$/, '') === want) return Number(name);
  }
  return null;
}

export class Lab {
  private readonly mounts: Mount[] = [];
  private readonly children = new Map<number, ChildProcess>();
  private readonly loops = new Set<string>();
  private n = 0;

  constructor(readonly dir: string) {}

  /** A new, empty recorder image of `sizeMb` MiB, formatted as a recorder's card is. */
  async makeImage(name: string, fs: LabFs, sizeMb: number, label = 'RECORDER'): Promise<Image> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `${name}.img`);
    await run('truncate', ['-s', `${sizeMb}M`, path]);
    if (fs === 'exfat') await run('mkfs.exfat', ['-L', label, path]);
    else await run('mkfs.vfat', ['-F', '32', '-n', label.slice(0, 11), path]);
    return { path, fs };
  }

  /**
   * Mount an image at `at` as the system mounts a docked card: exFAT on a loop device
   * with exfat-fuse (it does not mount image files), FAT32 with fusefat (read-write).
   */
  async mount(image: Image, at: string): Promise<Mount> {
    await mkdir(at, { recursive: true });
    let mount: Mount;
    if (image.fs === 'exfat') {
      const { stdout } = await run('losetup', ['-f', '--show', image.path]);
      const loop = stdout.trim();
      this.loops.add(loop);
      const argv = ['mount.exfat-fuse', loop, resolve(at)];
      await run(argv[0]!, argv.slice(1));
      // exfat-fuse runs as a daemon: find the server it left running by its command line.
      const pid = await pidOf(argv);
      if (pid === null) throw new Error(`lab: mounted ${image.path} at ${at} but cannot find its exfat-fuse server`);
      mount = { at: resolve(at), kind: 'exfat', pid, loop };
    } else {
      const child = spawn('fusefat', ['-f', '-o', 'rw+', image.path, resolve(at)], { stdio: 'ignore' });
      this.children.set(child.pid!, child);
      mount = { at: resolve(at), kind: 'fat32', pid: child.pid!, loop: null };
    }
    this.mounts.push(mount);
    await until(`${image.path} to be mounted at ${at}`, async () => (await mountAtPath(at)) !== null);
    return mount;
  }

  /** A throttling, fault-injecting pass-through of `source` mounted at `at`. */
  async throttle(source: string, at: string, o: ThrottleOptions = {}): Promise<Mount> {
    await mkdir(at, { recursive: true });
    const args = [THROTTLE, resolve(source), resolve(at), '--fsname', `custody-lab-${++this.n}`];
    if (o.rate) args.push('--rate', String(o.rate));
    if (o.bus) args.push('--bus', o.bus, '--bus-rate', String(o.busRate ?? 35));
    for (const d of o.delay ?? []) args.push('--delay', `${d.glob}=${d.seconds}`);
    for (const g of o.gate ?? []) args.push('--gate', `${g.glob}@${g.offset}=${resolve(g.until)}`);
    for (const f of o.eio ?? []) args.push('--eio', `${f.path}@${f.offset}`);
    for (const f of o.vanish ?? []) args.push('--vanish', `${f.path}@${f.offset}`);
    for (const f of o.shrink ?? []) args.push('--shrink', `${f.path}@${f.offset}`);
    if (o.unlink) args.push('--unlink');
    for (const h of o.holdUnlink ?? []) args.push('--hold-unlink', `${h.glob}=${h.seconds}`);
    if (o.statusFile) args.push('--status-file', o.statusFile);
    if (o.events) args.push('--events', o.events);
    let stderr = '';
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.children.set(child.pid!, child);
    const mount: Mount = { at: resolve(at), kind: 'throttle', pid: child.pid!, loop: null };
    this.mounts.push(mount);
    await until(`the throttled mount at ${at}`, async () => {
      if (child.exitCode !== null) throw new Error(`lab: throttlefs exited ${child.exitCode}: ${stderr}`);
      return (await mountAtPath(at))?.fsType === 'fuse.custody-lab';
    });
    return mount;
  }

  /**
   * A size-limited file system (tmpfs of `sizeMb` MiB) at `at`: a disk that fills up
   * (ENOSPC) where a test wants it to, e.g. under a vault. `resize` grows or shrinks it.
   */
  async tmpfs(at: string, sizeMb: number): Promise<Mount> {
    await mkdir(at, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'custody-lab', resolve(at)]);
    const mount: Mount = { at: resolve(at), kind: 'tmpfs', pid: 0, loop: null };
    this.mounts.push(mount);
    return mount;
  }

  async resize(m: Mount, sizeMb: number): Promise<void> {
    if (m.kind !== 'tmpfs') throw new Error(`lab: only a tmpfs can be resized, not the ${m.kind} at ${m.at}`);
    await run('mount', ['-o', `remount,size=${sizeMb}m`, m.at]);
  }

  /**
   * Take a mount away. `lazy` is a pulled cable: the mount leaves the namespace at once,
   * its files open now stay readable until closed, and the server exits after that.
   */
  async unmount(m: Mount, opts: { lazy?: boolean } = {}): Promise<void> {
    if ((await mountAtPath(m.at)) !== null) await run('umount', opts.lazy ? ['-l', m.at] : [m.at]);
    if (!opts.lazy) await this.settle(m);
  }

  /** Wait for a mount's server to exit and release its loop device. */
  async settle(m: Mount, timeoutMs = 30_000): Promise<void> {
    await until(`the FUSE server ${m.pid} of ${m.at} to exit`, async () => !alive(m.pid), timeoutMs);
    this.children.delete(m.pid);
    const i = this.mounts.indexOf(m);
    if (i >= 0) this.mounts.splice(i, 1);
    if (m.loop) {
      await run('losetup', ['-d', m.loop]).catch(() => undefined);
      this.loops.delete(m.loop);
    }
  }

  /** Mount an image at a stage folder, let `fill` write the recorder, unmount cleanly. */
  async fill(image: Image, fill: (root: string) => Promise<void>): Promise<void> {
    const stage = join(this.dir, `stage-${++this.n}`);
    const m = await this.mount(image, stage);
    try {
      await fill(stage);
    } finally {
      await this.unmount(m);
    }
  }

  /** Stop everything this lab started: unmount (lazily if busy), kill its servers, detach its loops. */
  async close(): Promise<void> {
    for (const m of [...this.mounts].reverse()) {
      if ((await mountAtPath(m.at)) !== null) {
        await run('umount', [m.at]).catch(() => run('umount', ['-l', m.at]).catch(() => undefined));
      }
    }
    for (const m of this.mounts) {
      if (m.pid > 0 && alive(m.pid)) {
        // Give a server whose files are still open a moment, then stop it by its pid.
        await until(`server ${m.pid}`, async () => !alive(m.pid), 3000).catch(() => {
          try {
            process.kill(m.pid, 'SIGKILL');
          } catch {
            /* exited meanwhile */
          }
        });
      }
    }
    for (const c of this.children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    this.children.clear();
    this.mounts.length = 0;
    for (const loop of this.loops) await run('losetup', ['-d', loop]).catch(() => undefined);
    this.loops.clear();
  }
}
