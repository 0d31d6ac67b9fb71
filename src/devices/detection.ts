import { readFileSync } from 'node:fs';
import { access, lstat, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { errorMessage, settledWithin, type Logger } from '../core/index.js';
import { watchShallow, type ShallowEvent, type ShallowWatch } from './fs-watch.js';
import { isMountPoint, mountAt, parseMountInfo, PROC_MOUNTINFO, type MountEntry } from './mountinfo.js';
import { usbDeviceForBlock, type UsbDeviceInfo } from './sysfs.js';
import { UsbWatcher, type UsbBackend, type UsbDeviceRef } from './usb-adapter.js';
import type { PriorReading } from './drivers.js';

/**
 * Something docked: a mount under a mount root, or a folder put into a drop folder —
 * or (`usb`, from UsbPreDock) a GA/T 947.4 recorder on USB whose storage was not
 * mounted because its reading or switch failed: its dock records that.
 */
export interface DockCandidate {
  /** Absolute path of the mount point or drop-folder entry; `usb:<port>` for a `usb` candidate. */
  location: string;
  source: 'mount' | 'drop' | 'usb';
  /** The mounted device (e.g. /dev/sdb1) when the location is a mount point. */
  device: string | null;
  /** The USB device behind the mount, found through mountinfo and sysfs, when there is one. */
  usb: UsbDeviceInfo | null;
  /** A `usb` candidate: what was read over USB before the mount that did not come. */
  reading?: PriorReading;
}

/**
 * Why a dock ended: its folder went (`removed`), its mount went or was replaced by
 * another mount (`unmounted`), its USB device went (`usb-detach`), the session found
 * the recorder's file system gone before detection did (`recorder-gone`), or custody
 * stopped while it was docked (`custody-stopped`; it is docked again at the next start).
 */
export type UndockReason = 'removed' | 'unmounted' | 'usb-detach' | 'recorder-gone' | 'custody-stopped';

export interface DetectionOptions {
  mountRoots: readonly string[];
  dropFolders: readonly string[];
  /** A drop-folder entry is docked once nothing in it has changed for this long. */
  dropSettleMs: number;
  /** A new folder under a mount root is looked at again for this long in case it becomes a mount. */
  mountWaitMs: number;
  /** Every so often everything is looked at again, in case an event was missed (0: never). */
  rescanMs: number;
  /**
   * How often the mount table is looked at for mounts that came, went or were replaced
   * (default 500; 0: only at rescans and folder events). Reading it is cheap, and it is
   * the only thing that notices a recorder mounted on a folder that already existed, or
   * a pulled recorder whose mount point stays behind (a lazy unmount).
   */
  mountPollMs?: number;
  /**
   * How long one detection step (looking at a folder, a rescan) may wait on a file system
   * before the next steps go on without it (default 10,000 ms). A recorder whose file
   * system stops answering (a hung card, a read held by a pulled cable) must not stop
   * every other recorder from being docked; the late step still finishes when it can.
   */
  stepPatienceMs?: number;
  /** Listen to USB attach/detach. */
  usb: boolean;
  /** Status-file names that make a plain folder a recorder (the simulated recorder's RECORDER.JSON). */
  statusFiles: readonly string[];
  /** Is this USB id a known recorder model? (only for logging and prompt rescans) */
  isKnownUsb: (vendorId: number, productId: number) => boolean;
  log: Logger;
  onDock: (c: DockCandidate) => void;
  onUndock: (location: string, reason: UndockReason) => void;
  /** Every USB device attached (and those present at start, with `atStart`), known model or not. */
  onUsbAttach?: (d: UsbDeviceRef, atStart: boolean) => void;
  /** Every USB device detached. */
  onUsbDetach?: (d: UsbDeviceRef) => void;
  mountInfoFile?: string;
  sysRoot?: string;
  usbBusDir?: string;
  /** The USB bus; default: libusb (see usb-adapter.ts). */
  usbBackend?: UsbBackend;
}

interface Candidate {
  candidate: DockCandidate;
  via: 'mount' | 'status' | 'drop';
  /** Its USB device went away: it is not docked again until its mount goes or is replaced. */
  gone: boolean;
  /**
   * The mount this candidate is (mountinfo's mount id, new for every mount even of the
   * same device at the same path), or null when it is not a mount. A dock is keyed to
   * the mount as it is now: when the id at the path changes, the old dock ends and the
   * new mount is a new dock.
   */
  mountId: number | null;
}

interface Pending {
  firstSeen: number;
  timer: NodeJS.Timeout | undefined;
  attempt: number;
  parent: string | null;
}

interface DropEntry {
  timer: NodeJS.Timeout | undefined;
  signature: string | null;
  stableSince: number;
}

/** Logs an error once per key per interval, with how many were held back. */
class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const l = this.last.get(key);
    if (l && now - l.at < this.intervalMs) {
      l.suppressed++;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    this.log.warn({ ...obj, ...(l && l.suppressed > 0 ? { suppressed: l.suppressed } : {}) }, msg);
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

const MAX_SIGNATURE_ENTRIES = 20_000;

/** A cheap fingerprint of a folder tree (entries, bytes, newest mtime): unchanged means the copy is at rest. */
async function treeSignature(dir: string): Promise<string | null> {
  let count = 0;
  let bytes = 0;
  let newest = 0;
  const stack = [dir];
  try {
    while (stack.length > 0 && count < MAX_SIGNATURE_ENTRIES) {
      const d = stack.pop()!;
      for (const ent of await readdir(d, { withFileTypes: true })) {
        count++;
        const p = join(d, ent.name);
        if (ent.isSymbolicLink()) continue;
        const st = await lstat(p);
        newest = Math.max(newest, st.mtimeMs);
        if (ent.isDirectory()) stack.push(p);
        else bytes += st.size;
      }
    }
  } catch {
    return null;
  }
  return `${count}:${bytes}:${newest}`;
}

/**
 * Finds docked recorders without ever watching a recorder's tree.
 *
 * Mount roots (default /media, /run/media) are watched one level deep. A folder
 * directly under a root is a dock candidate when it is a mount point or holds a known
 * status file; otherwise it may be a user's folder (/media/alice, /run/media/alice)
 * whose entries are mounts, so it is watched one level deep too, and its entries are
 * candidates by the same test. Nothing deeper is ever watched. A folder that is not
 * (yet) a mount is looked at again for `mountWaitMs` (the mount point is created just
 * before the mount), and everything is looked at again every `rescanMs`.
 *
 * Each entry of a drop folder is a candidate once its tree has been still for
 * `dropSettleMs` (a copy by hand has finished).
 *
 * USB attach of a known model triggers prompt rescans; USB detach undocks the mount
 * that sysfs tied to that device, even before the mount itself goes away.
 */
export class DeviceDetection {
  private readonly log: Logger;
  private readonly errors: RateLimitedLog;
  private readonly roots: string[];
  private readonly drops: string[];
  private readonly rootWatches = new Map<string, ShallowWatch>();
  private readonly containers = new Map<string, ShallowWatch>();
  private readonly dropWatches = new Map<string, ShallowWatch>();
  private readonly candidates = new Map<string, Candidate>();
  private readonly pending = new Map<string, Pending>();
  private readonly dropEntries = new Map<string, DropEntry>();
  private readonly missingLogged = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private rescanTimer: NodeJS.Timeout | undefined;
  private mountTimer: NodeJS.Timeout | undefined;
  /** The mount table's text when last looked at, so an unchanged table costs one read. */
  private mountText: string | null = null;
  /** Folders with a look queued, so a burst of events or polls queues one look each. */
  private readonly lookQueued = new Set<string>();
  /** Folders being looked at now (a look may outlast its patience: it is not started twice). */
  private readonly looking = new Set<string>();
  private usbWatcher: UsbWatcher | null = null;
  /** Classification runs one at a time, so events about one folder never race. */
  private queue: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly opts: DetectionOptions) {
    this.log = opts.log.child({ module: 'detection' });
    this.errors = new RateLimitedLog(this.log);
    this.roots = [...new Set(opts.mountRoots.map((r) => resolve(r)))];
    this.drops = [...new Set(opts.dropFolders.map((r) => resolve(r)))];
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.opts.usb) {
      this.usbWatcher = new UsbWatcher({
        log: this.log,
        busDir: this.opts.usbBusDir,
        ...(this.opts.usbBackend ? { backend: this.opts.usbBackend } : {}),
        onAttach: (d) => this.usbAttached(d),
        onDetach: (d) => this.usbDetached(d),
      });
      const present = await this.usbWatcher.start();
      if (present) {
        for (const d of present) this.tellAttach(d, true);
        const known = present.filter((d) => this.opts.isKnownUsb(d.vendorId, d.productId));
        this.log.info({ devices: present.length, knownRecorders: known.length }, 'USB detection on');
      }
    }
    await this.ensureWatches();
    // A folder that appeared while the watches were being set up may have been missed:
    // look once at everything now that they are in place.
    await this.rescanNow();
    const pollMs = this.opts.mountPollMs ?? 500;
    if (pollMs > 0) {
      this.mountTimer = setInterval(() => this.pollMounts(), pollMs);
      this.mountTimer.unref();
    }
    if (this.opts.rescanMs > 0) {
      this.rescanTimer = setInterval(() => this.enqueue(() => this.rescan()), this.opts.rescanMs);
      this.rescanTimer.unref();
    }
    this.log.info({ mountRoots: this.roots, dropFolders: this.drops }, 'watching for recorders');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.mountTimer) clearInterval(this.mountTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    for (const d of this.dropEntries.values()) if (d.timer) clearTimeout(d.timer);
    this.usbWatcher?.stop();
    const watches = [...this.rootWatches.values(), ...this.containers.values(), ...this.dropWatches.values()];
    this.rootWatches.clear();
    this.containers.clear();
    this.dropWatches.clear();
    await Promise.all(watches.map((w) => w.close()));
    await this.queue;
  }

  /** Docked locations, for tests and status. */
  docked(): DockCandidate[] {
    return [...this.candidates.values()].filter((c) => !c.gone).map((c) => c.candidate);
  }

  /**
   * The recorder at `location` is gone although its mount may not have been seen to go
   * (its session found it gone first). Forget it without an undock, so that whatever is
   * mounted there next is a new dock even when the kernel gave that mount the same id
   * (mount ids are reused as soon as they are free).
   */
  forget(location: string): void {
    void this.enqueue(async () => {
      const c = this.candidates.get(location);
      if (!c) return;
      this.candidates.delete(location);
      // The next look at the mount table reconciles even when its text is unchanged: a
      // new mount may read exactly as the old one did.
      this.mountText = null;
      this.log.debug({ location }, 'recorder gone: its location will be docked afresh');
      // A mount already back at the same place is docked now, not at the next change.
      const table = this.mountTableNow();
      if (table && mountAt(table, location)) await this.classify(location, this.parentFolderOf(location));
    });
  }

  /** Look at everything again now (also runs on a timer); resolves once every look it queued has run. */
  rescanNow(): Promise<void> {
    return this.enqueue(() => this.rescan()).then(() => this.queue);
  }

  /**
   * Run `fn` after the steps before it. A step that waits on a file system longer than
   * `stepPatienceMs` is left to finish on its own, and the queue goes on: one recorder
   * that stops answering must not stop the others from being docked.
   */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (!this.running) return;
      const patience = this.opts.stepPatienceMs ?? 10_000;
      const step = fn().catch((e: unknown) => this.errors.warn(`detect:${errorMessage(e)}`, { err: e }, 'device detection failed; will look again'));
      if (!(await settledWithin(step, patience))) {
        this.errors.warn('detect:late', { waitedMs: patience }, 'a file system did not answer device detection in time; detection goes on without waiting for it');
      }
    });
    this.queue = run;
    return run;
  }

  /**
   * The mount table now, read synchronously: a procfs read never waits on a device, while
   * the I/O thread pool may be full of reads that a hung or pulled recorder never answers
   * (each blocked read holds a thread). Null where there is none (not Linux).
   */
  private mountTableNow(): MountEntry[] | null {
    const text = this.mountTextNow();
    return text === null ? null : parseMountInfo(text);
  }

  private mountTextNow(): string | null {
    try {
      return readFileSync(this.opts.mountInfoFile ?? PROC_MOUNTINFO, 'utf8');
    } catch {
      return null;
    }
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  // ---- watches -------------------------------------------------------------

  /**
   * Watch every root and drop folder that exists (those that do not are tried again at
   * each rescan); resolves once the new watches are ready.
   */
  private async ensureWatches(): Promise<void> {
    const added: ShallowWatch[] = [];
    for (const root of this.roots) {
      if (this.rootWatches.has(root)) continue;
      if (!(await isDir(root))) {
        this.noteMissing(root, 'mount root');
        continue;
      }
      const w = this.watch(root, (ev, p) => this.onRootEvent(ev, p));
      this.rootWatches.set(root, w);
      added.push(w);
    }
    for (const drop of this.drops) {
      if (this.dropWatches.has(drop)) continue;
      if (!(await isDir(drop))) {
        this.noteMissing(drop, 'drop folder');
        continue;
      }
      const w = this.watch(drop, (ev, p) => this.onDropEvent(ev, p));
      this.dropWatches.set(drop, w);
      added.push(w);
    }
    await Promise.all(added.map((w) => w.ready));
  }

  private noteMissing(path: string, what: string): void {
    if (this.missingLogged.has(path)) return;
    this.missingLogged.add(path);
    this.log.info({ path }, `${what} does not exist (yet); looking again at each rescan`);
  }

  private watch(dir: string, onEvent: (ev: ShallowEvent, path: string) => void): ShallowWatch {
    return watchShallow(
      dir,
      (ev, p) => {
        this.log.trace({ event: ev, path: p, watch: dir }, 'folder event');
        if (this.running) onEvent(ev, resolve(p));
      },
      (err) => this.errors.warn(`watch:${dir}:${(err as NodeJS.ErrnoException).code ?? err.message}`, { dir, err }, 'folder watch error'),
    );
  }

  private onRootEvent(ev: ShallowEvent, path: string): void {
    if (ev === 'addDir') this.look(path, null);
    else if (ev === 'unlinkDir') void this.enqueue(async () => this.removed(path));
  }

  private onContainerEvent(container: string, ev: ShallowEvent, path: string): void {
    if (ev === 'addDir') this.look(path, container);
    else if (ev === 'unlinkDir') void this.enqueue(async () => this.removed(path));
    else if (ev === 'add' && this.opts.statusFiles.some((f) => path === join(container, f))) {
      // A status file appeared: the "user folder" was a recorder being written.
      this.look(container, null);
    }
  }

  // ---- classification ------------------------------------------------------

  /**
   * Queue a look at one folder, as a step of its own: a recorder whose file system does
   * not answer holds up only its own look (for `stepPatienceMs`), never the others'.
   */
  private look(path: string, parent: string | null): void {
    if (this.lookQueued.has(path)) return;
    this.lookQueued.add(path);
    void this.enqueue(async () => {
      this.lookQueued.delete(path);
      await this.classify(path, parent);
    });
  }

  /**
   * Decide what a folder under a mount root is. `parent` is the user folder it is in
   * (level 1), or null for a folder directly under a root (level 0).
   */
  private async classify(path: string, parent: string | null): Promise<void> {
    if (this.candidates.has(path) || this.looking.has(path)) return;
    this.looking.add(path);
    try {
      await this.classifyNow(path, parent);
    } finally {
      this.looking.delete(path);
    }
  }

  private async classifyNow(path: string, parent: string | null): Promise<void> {
    if (!(await isDir(path))) return;
    let mounts = this.mountTableNow();
    let mounted = await isMountPoint(path, mounts);
    let status = mounted ? false : await this.hasStatusFile(path);
    if (status && mounts) {
      // The status file may be on a mount that came after the table was read: look at
      // the table again, or the recorder would be taken for a plain folder and its mount
      // never followed (a pull would go unnoticed).
      const again = this.mountTableNow();
      if (again && (await isMountPoint(path, again))) {
        mounts = again;
        mounted = true;
        status = false;
      }
    }
    if (mounted || status) {
      this.clearPending(path);
      await this.closeContainer(path);
      const mount = mounted && mounts ? mountAt(mounts, path) : null;
      const usb = mount ? await usbDeviceForBlock(mount.major, mount.minor, this.opts.sysRoot) : null;
      if (this.candidates.has(path)) return; // docked by a step that went on while this one waited
      if (mount) {
        // The looks above wait on the recorder's file system and on sysfs, which may be
        // slow or held: the mount may have gone (a pull) or been replaced meanwhile. Only
        // the mount that is there now is docked; otherwise the folder is looked at afresh.
        const now = this.mountTableNow();
        const there = now ? mountAt(now, path) : mount;
        if (there?.mountId !== mount.mountId) {
          this.look(path, parent);
          return;
        }
      }
      const candidate: DockCandidate = { location: path, source: 'mount', device: mount?.source ?? null, usb };
      this.candidates.set(path, { candidate, via: mounted ? 'mount' : 'status', gone: false, mountId: mount?.mountId ?? null });
      // Docked from a table this look read itself, which the poll may never have seen: a
      // mount that came and went between two polls leaves the table's text as the poll
      // last saw it. The next poll reconciles whatever it reads, so such a pull is seen.
      if (mount) this.mountText = null;
      this.log.debug({ location: path, device: candidate.device, usb, via: mounted ? 'mount' : 'status', mountId: mount?.mountId ?? null }, 'dock candidate found');
      this.opts.onDock(candidate);
      return;
    }
    if (parent === null && !this.containers.has(path)) {
      // Maybe a user folder of mounts (/run/media/<user>): watch its entries, never deeper.
      const w = this.watch(path, (ev, p) => this.onContainerEvent(path, ev, p));
      this.containers.set(path, w);
      // Entries made while the watch was being set up: look at them once it is.
      void w.ready.then(() => this.enqueue(() => this.lookInto(path, w)));
    }
    this.schedulePending(path, parent);
  }

  /** Classify what a user folder holds now (its watch reports only what comes after it is ready). */
  private async lookInto(container: string, w: ShallowWatch): Promise<void> {
    if (this.containers.get(container) !== w) return;
    if (await this.hasStatusFile(container)) {
      await this.classify(container, null);
      return;
    }
    for (const name of await readdir(container).catch(() => [] as string[])) {
      const p = join(container, name);
      if (!this.candidates.has(p) && !this.pending.get(p)?.timer) this.look(p, container);
    }
  }

  private async hasStatusFile(dir: string): Promise<boolean> {
    for (const f of this.opts.statusFiles) if (await exists(join(dir, f))) return true;
    return false;
  }

  /** Look again soon (backing off) while the folder may still become a mount. */
  private schedulePending(path: string, parent: string | null): void {
    const now = Date.now();
    const p = this.pending.get(path) ?? { firstSeen: now, timer: undefined, attempt: 0, parent };
    this.pending.set(path, p);
    if (p.timer) return;
    if (now - p.firstSeen >= this.opts.mountWaitMs) return; // the rescan still looks at it
    const delay = Math.min(250 * 2 ** p.attempt, 4000, Math.max(50, this.opts.mountWaitMs - (now - p.firstSeen)));
    p.attempt++;
    p.timer = this.later(delay, () => {
      p.timer = undefined;
      this.look(path, p.parent);
    });
  }

  private clearPending(path: string): void {
    const p = this.pending.get(path);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(path);
  }

  private async closeContainer(path: string): Promise<void> {
    const w = this.containers.get(path);
    if (!w) return;
    this.containers.delete(path);
    for (const k of [...this.pending.keys()]) if (this.pending.get(k)!.parent === path) this.clearPending(k);
    await w.close();
  }

  private removed(path: string): void {
    this.clearPending(path);
    void this.closeContainer(path).then(() => {
      for (const loc of [...this.candidates.keys()]) if (loc.startsWith(path + '/')) this.undock(loc, 'removed');
    });
    this.undock(path, 'removed');
    const d = this.dropEntries.get(path);
    if (d?.timer) clearTimeout(d.timer);
    this.dropEntries.delete(path);
  }

  private undock(path: string, reason: UndockReason): void {
    const c = this.candidates.get(path);
    if (!c) return;
    if (reason === 'usb-detach') {
      // The folder may linger (a lazy unmount): keep it known, so a rescan does not dock it again.
      if (c.gone) return;
      c.gone = true;
    } else {
      this.candidates.delete(path);
      if (c.gone) return; // already reported when its USB device went
    }
    this.log.info({ location: path, reason }, 'recorder undocked');
    this.opts.onUndock(path, reason);
  }

  // ---- rescans -------------------------------------------------------------

  /**
   * Reconcile with what is really there: new roots, missed folders, vanished mounts. Each
   * look at a docked recorder or a folder is a step of its own (see `look`).
   */
  private async rescan(): Promise<void> {
    await this.ensureWatches();
    const table = this.mountTableNow();
    for (const [loc, c] of [...this.candidates]) {
      void this.enqueue(async () => {
        if (this.candidates.get(loc) !== c) return;
        if (!(await isDir(loc))) this.undock(loc, 'removed');
        else if (c.via === 'mount' && table === null && !(await isMountPoint(loc, null))) this.undock(loc, 'unmounted');
      });
    }
    if (table) this.reconcileMounts(table);
    for (const root of this.rootWatches.keys()) {
      for (const name of await readdir(root).catch(() => [] as string[])) {
        const p = join(root, name);
        if (!this.candidates.has(p)) this.look(p, null);
      }
    }
    for (const container of [...this.containers.keys()]) {
      for (const name of await readdir(container).catch(() => [] as string[])) {
        const p = join(container, name);
        if (!this.candidates.has(p)) this.look(p, container);
      }
    }
    for (const drop of this.dropWatches.keys()) {
      for (const name of await readdir(drop).catch(() => [] as string[])) {
        const p = join(drop, name);
        if (!this.candidates.has(p) && !this.dropEntries.has(p) && (await isDir(p))) this.trackDrop(p);
      }
    }
  }

  /**
   * Read the mount table; when it changed, reconcile the docks with it. Nothing here
   * waits on a device or on the queue: however long a step waits on a recorder's file
   * system, a pulled recorder is seen to go within one poll.
   */
  private pollMounts(): void {
    if (!this.running) return;
    const text = this.mountTextNow();
    if (text === null || text === this.mountText) return; // no mount table here (not Linux): folder events and rescans still work
    this.mountText = text;
    const table = parseMountInfo(text);
    this.log.debug({ mounts: table.length }, 'mount table changed');
    try {
      this.reconcileMounts(table);
    } catch (e) {
      // An undock handler that throws must not end the process from a timer.
      this.mountText = null; // looked at again at the next poll
      this.errors.warn(`detect:${errorMessage(e)}`, { err: e }, 'device detection failed; will look again');
    }
  }

  /**
   * Bring the docks in line with the mount table, at once: a docked mount that is gone,
   * or whose path now holds another mount (pulled and plugged back in), is undocked; a
   * mount under a root (or a user folder of one) that is not docked — the new one among
   * them — is queued for a look, also on a folder that already existed.
   */
  private reconcileMounts(table: MountEntry[]): void {
    for (const [loc, c] of [...this.candidates]) {
      if (c.via !== 'mount') continue;
      const now = mountAt(table, loc);
      if (now && (c.mountId === null || now.mountId === c.mountId)) continue;
      if (c.gone) this.candidates.delete(loc); // its USB device already went: reported then
      else this.undock(loc, 'unmounted');
    }
    for (const m of table) {
      if (this.candidates.has(m.mountPoint)) continue;
      const parent = this.levelOf(m.mountPoint);
      if (parent === undefined) continue;
      this.look(m.mountPoint, parent);
    }
  }

  /** The user folder a location is in (level 1), or null when it is directly under a root. */
  private parentFolderOf(path: string): string | null {
    return this.roots.includes(dirname(path)) ? null : dirname(path);
  }

  /**
   * Where a mount point sits among the watched folders: null when it is directly under a
   * root, its user folder when it is one level below a root, undefined when it is not
   * under a root at all (nothing deeper is ever a dock).
   */
  private levelOf(mountPoint: string): string | null | undefined {
    const parent = dirname(mountPoint);
    if (this.roots.includes(parent)) return null;
    if (this.roots.includes(dirname(parent))) return parent;
    return undefined;
  }

  /** A burst of rescans after a known recorder attaches: its mount shows up within seconds. */
  private rescanSoon(): void {
    for (const ms of [500, 1500, 3500, 7500]) this.later(ms, () => void this.enqueue(() => this.rescan()));
  }

  // ---- drop folders --------------------------------------------------------

  private onDropEvent(ev: ShallowEvent, path: string): void {
    if (ev === 'addDir') void this.enqueue(async () => this.trackDrop(path));
    else if (ev === 'unlinkDir') void this.enqueue(async () => this.removed(path));
  }

  private trackDrop(path: string): void {
    if (this.candidates.has(path) || this.dropEntries.has(path)) return;
    const entry: DropEntry = { timer: undefined, signature: null, stableSince: Date.now() };
    this.dropEntries.set(path, entry);
    const settle = this.opts.dropSettleMs;
    const every = Math.min(1000, Math.max(100, Math.floor(settle / 4)));
    const check = async (): Promise<void> => {
      if (this.dropEntries.get(path) !== entry) return;
      const sig = await treeSignature(path);
      if (sig === null) {
        this.dropEntries.delete(path);
        return;
      }
      const now = Date.now();
      if (sig !== entry.signature) {
        entry.signature = sig;
        entry.stableSince = now;
      }
      if (now - entry.stableSince >= settle) {
        this.dropEntries.delete(path);
        const candidate: DockCandidate = { location: path, source: 'drop', device: null, usb: null };
        this.candidates.set(path, { candidate, via: 'drop', gone: false, mountId: null });
        this.log.info({ location: path }, 'drop-folder entry at rest: docking it');
        this.opts.onDock(candidate);
        return;
      }
      entry.timer = this.later(every, () => void this.enqueue(check));
    };
    void this.enqueue(check);
  }

  // ---- USB -----------------------------------------------------------------

  private tellAttach(d: UsbDeviceRef, atStart: boolean): void {
    try {
      this.opts.onUsbAttach?.(d, atStart);
    } catch (e) {
      this.errors.warn(`usb-attach:${errorMessage(e)}`, { err: e }, 'USB attach handler failed');
    }
  }

  private usbAttached(d: UsbDeviceRef): void {
    this.tellAttach(d, false);
    if (!this.opts.isKnownUsb(d.vendorId, d.productId)) return;
    this.log.info({ vendorId: d.vendorId, productId: d.productId, bus: d.busNumber, address: d.deviceAddress }, 'known recorder attached over USB; waiting for its mount');
    this.rescanSoon();
  }

  private usbDetached(d: UsbDeviceRef): void {
    try {
      this.opts.onUsbDetach?.(d);
    } catch (e) {
      this.errors.warn(`usb-detach:${errorMessage(e)}`, { err: e }, 'USB detach handler failed');
    }
    for (const [loc, c] of this.candidates) {
      const u = c.candidate.usb;
      if (u && u.busNumber === d.busNumber && u.deviceAddress === d.deviceAddress) {
        void this.enqueue(async () => this.undock(loc, 'usb-detach'));
      }
    }
  }
}
