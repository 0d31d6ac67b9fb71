import { constants, createReadStream } from 'node:fs';
import { lstat, open, readdir, readFile, rename, statfs, unlink, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { CustodyError, SourceFileError, errorMessage } from '../core/index.js';
import type { RecorderDriver, RecorderFile, RecorderHealth, RecorderIdentity } from './driver.js';
import { sourceError } from './source-error.js';
import { recorderStatusSchema, type RecorderStatus } from './status-file.js';

export interface FolderDriverOptions {
  root: string;
  /** Identity given on the command line; each field overrides the status file. */
  identity?: Partial<RecorderIdentity>;
  /** Name of a status file in the root (default RECORDER.JSON; null: the model has none); absent is fine. */
  statusFile?: string | null;
  /**
   * Identity for the fields neither the flags nor the status file give (a model
   * profile's model name, the USB iSerial). Never invented: only what was read.
   */
  fallbackIdentity?: Partial<RecorderIdentity>;
  /**
   * The recorder writes its serial into its file names: the named group `serial` of
   * this pattern, matched against base names, is the last resort for the serial.
   */
  serialFromNames?: RegExp;
  /** Only these top-level folders hold footage (case-insensitive); absent or empty: the whole tree. */
  mediaDirs?: readonly string[];
  /** The recorder's clock can be set by rewriting its status file (the simulated recorder). */
  clockSync?: boolean;
  now?: () => Date;
}

/** Files looked at when reading a serial from file names: enough to agree, few enough to be quick. */
const SERIAL_SAMPLE = 50;

/** Folders a recorder or an operating system keeps for itself; never evidence. */
const SYSTEM_DIRS = new Set(['system volume information', '$recycle.bin', 'lost.dir', 'found.000', '.trashes', '.spotlight-v100', '.fseventsd']);

/**
 * A recorder mounted as a plain folder (USB mass storage, a drop folder, or the
 * simulated recorder). Identity comes from flags or the status file, else unknown.
 */
export class FolderDriver implements RecorderDriver {
  readonly location: string;
  readonly syncClock: (() => Promise<Date>) | undefined;
  private readonly root: string;
  private readonly statusFile: string | null;
  private readonly now: () => Date;
  private readonly mediaDirs: Set<string> | null;
  private status: RecorderStatus | null | undefined;
  /**
   * The root's device and inode when the driver first reached it. A recorder pulled
   * with a lazy unmount leaves its mount point behind as an empty folder of another
   * file system; only this tells the two apart.
   */
  private pinned: { dev: number; ino: number } | null = null;

  constructor(private readonly opts: FolderDriverOptions) {
    this.root = resolve(opts.root);
    this.location = this.root;
    this.statusFile = opts.statusFile === undefined ? 'RECORDER.JSON' : opts.statusFile;
    this.now = opts.now ?? (() => new Date());
    this.mediaDirs = opts.mediaDirs && opts.mediaDirs.length > 0 ? new Set(opts.mediaDirs.map((d) => d.toLowerCase())) : null;
    this.syncClock = opts.clockSync && this.statusFile !== null ? () => this.setClockInStatusFile() : undefined;
  }

  /** Remember which file system the root is, the first time it is reached. */
  private async pin(): Promise<void> {
    if (this.pinned) return;
    const st = await stat(this.root).catch(() => null);
    if (st?.isDirectory()) this.pinned = { dev: st.dev, ino: st.ino };
  }

  private async readStatus(): Promise<RecorderStatus | null> {
    await this.pin();
    if (this.status !== undefined) return this.status;
    if (this.statusFile === null) return (this.status = null);
    let text: string;
    try {
      text = await readFile(join(this.root, this.statusFile), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return (this.status = null);
      throw new CustodyError('RECORDER_STATUS_UNREADABLE', `cannot read ${this.statusFile} on ${this.root}: ${errorMessage(e)}`, { cause: e });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (e) {
      throw new CustodyError('RECORDER_STATUS_INVALID', `${this.statusFile} on ${this.root} is not JSON: ${errorMessage(e)}`);
    }
    const r = recorderStatusSchema.safeParse(parsed);
    if (!r.success) {
      throw new CustodyError(
        'RECORDER_STATUS_INVALID',
        `${this.statusFile} on ${this.root} is not a recorder status: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    return (this.status = r.data);
  }

  async identify(): Promise<RecorderIdentity> {
    const s = await this.readStatus();
    const given = this.opts.identity ?? {};
    const fallback = this.opts.fallbackIdentity ?? {};
    const serial = given.serial ?? s?.serial ?? fallback.serial ?? (await this.serialFromFileNames());
    if (!serial) {
      const status = this.statusFile ? `no ${this.statusFile}` : 'no status file';
      throw new CustodyError('RECORDER_UNIDENTIFIED', `cannot tell which recorder ${this.root} is: ${status} and no serial given (use --serial)`);
    }
    return {
      serial,
      model: given.model ?? s?.model ?? fallback.model ?? null,
      officer: given.officer ?? s?.officer ?? fallback.officer ?? null,
      unit: given.unit ?? s?.unit ?? fallback.unit ?? null,
    };
  }

  /**
   * The serial the recorder wrote into its file names, when the model does that and
   * every sampled name agrees; null otherwise (two serials means a mixed folder, and
   * identity is never guessed).
   */
  private async serialFromFileNames(): Promise<string | null> {
    const re = this.opts.serialFromNames;
    if (!re) return null;
    const seen = new Set<string>();
    let n = 0;
    for await (const f of this.listFiles()) {
      const m = re.exec(f.path.slice(f.path.lastIndexOf('/') + 1));
      const serial = m?.groups?.serial;
      if (!serial) continue;
      seen.add(serial);
      if (++n >= SERIAL_SAMPLE) break;
    }
    return seen.size === 1 ? [...seen][0]! : null;
  }

  /**
   * The simulated recorder's SyncDevTime: its clock offset lives in the status file,
   * so setting the clock rewrites that file with offset 0 (written beside it, then
   * renamed, so a reader never sees half a file).
   */
  private async setClockInStatusFile(): Promise<Date> {
    const name = this.statusFile!;
    const file = join(this.root, name);
    const current = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, '')) as Record<string, unknown>;
    const at = this.now();
    const tmp = join(this.root, `.${name}.sync.tmp`);
    await writeFile(tmp, JSON.stringify({ ...current, clockOffsetSeconds: 0 }, null, 2) + '\n');
    await rename(tmp, file);
    this.status = undefined;
    return at;
  }

  async health(): Promise<RecorderHealth> {
    const s = await this.readStatus();
    let total: number | null = s?.storageTotalBytes ?? null;
    let free: number | null = s?.storageFreeBytes ?? null;
    if (total === null || free === null) {
      const fs = await statfs(this.root);
      total = fs.blocks * fs.bsize;
      free = fs.bavail * fs.bsize;
    }
    const drift = s ? s.clockOffsetSeconds * 1000 : null;
    return {
      batteryPercent: s?.battery ?? null,
      deviceClock: drift === null ? null : new Date(this.now().getTime() + drift),
      clockDriftMs: drift,
      storageTotalBytes: total,
      storageFreeBytes: free,
    };
  }

  /** Resolve a recorder-relative path, refusing anything that would leave the root. */
  private abs(path: string): string {
    if (path.includes('\0') || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '')) {
      throw new SourceFileError('RECORDER_BAD_PATH', `not a path on the recorder: ${JSON.stringify(path)}`);
    }
    const p = resolve(this.root, ...path.split('/'));
    if (!p.startsWith(this.root + sep)) throw new SourceFileError('RECORDER_BAD_PATH', `path leaves the recorder: ${path}`);
    return p;
  }

  async *listFiles(): AsyncIterable<RecorderFile> {
    await this.pin();
    if (!this.mediaDirs) {
      yield* this.walk('');
      return;
    }
    // Only the model's media folders, whatever case the recorder wrote them in.
    let top;
    try {
      top = await readdir(this.root, { withFileTypes: true });
    } catch (e) {
      throw new SourceFileError('RECORDER_UNREADABLE', `cannot list ${this.root}: ${errorMessage(e)}`, { cause: e });
    }
    const dirs = top.filter((d) => d.isDirectory() && this.mediaDirs!.has(d.name.toLowerCase())).map((d) => d.name);
    dirs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const d of dirs) yield* this.walk(d);
  }

  private async *walk(rel: string): AsyncIterable<RecorderFile> {
    const dir = rel ? this.abs(rel) : this.root;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw new SourceFileError('RECORDER_UNREADABLE', `cannot list ${dir}: ${errorMessage(e)}`, { cause: e });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      // Symlinks are never followed: a link could point out of the recorder.
      if (ent.isSymbolicLink()) continue;
      if (ent.name.startsWith('.') || ent.name.startsWith('$')) continue;
      const childRel = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        if (SYSTEM_DIRS.has(ent.name.toLowerCase())) continue;
        yield* this.walk(childRel);
      } else if (ent.isFile()) {
        if (!rel && ent.name === this.statusFile) continue;
        const st = await lstat(join(dir, ent.name)).catch(() => null);
        if (st && st.isFile()) yield { path: childRel, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
      }
    }
  }

  async stat(path: string): Promise<RecorderFile> {
    try {
      const st = await lstat(this.abs(path));
      if (!st.isFile()) throw new SourceFileError('RECORDER_NOT_A_FILE', `${path} is not a regular file`);
      return { path, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
    } catch (e) {
      if (e instanceof SourceFileError) throw e;
      throw sourceError(e, path);
    }
  }

  async open(path: string, opts: { highWaterMark?: number; signal?: AbortSignal } = {}): Promise<Readable> {
    const fh = await this.openFile(path);
    return createReadStream('', { fd: fh, highWaterMark: opts.highWaterMark ?? 1024 * 1024, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  readonly openFile = async (path: string): Promise<FileHandle> => {
    try {
      // O_NOFOLLOW: a file swapped for a symlink between listing and opening is refused.
      return await open(this.abs(path), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      // A path refused before the open keeps its own code (RECORDER_BAD_PATH).
      if (e instanceof SourceFileError) throw e;
      throw sourceError(e, path);
    }
  };

  localPath(path: string): string {
    return this.abs(path);
  }

  async delete(path: string): Promise<void> {
    try {
      await unlink(this.abs(path));
    } catch (e) {
      throw sourceError(e, path);
    }
  }

  /**
   * The root is still the folder (the same file system) it was when first reached: a
   * pulled recorder's mount point may linger as an empty folder of the parent's.
   */
  async present(): Promise<boolean> {
    try {
      const st = await stat(this.root);
      if (!st.isDirectory()) return false;
      return this.pinned === null || (st.dev === this.pinned.dev && st.ino === this.pinned.ino);
    } catch {
      return false;
    }
  }
}
