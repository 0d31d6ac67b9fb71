import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** One line of /proc/self/mountinfo (see proc(5)). */
export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The device the filesystem lives on: /sys/dev/block/<major>:<minor>. */
  major: number;
  minor: number;
  /** The path inside the filesystem that is mounted (usually "/"). */
  root: string;
  mountPoint: string;
  options: string;
  fsType: string;
  /** e.g. /dev/sdb1; "none" or a name for virtual filesystems. */
  source: string;
}

/** Undo the kernel's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parse the text of /proc/self/mountinfo. Malformed lines are skipped rather than
 * failing the whole table: one odd mount must not hide the recorders.
 *
 *   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)         (6)       (7)      (8)(9)  (10)      (11)
 */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 0 || fields.length < sep + 3) continue;
    const dev = /^(\d+):(\d+)$/.exec(fields[2]!);
    const mountId = Number(fields[0]);
    const parentId = Number(fields[1]);
    if (!dev || !Number.isInteger(mountId) || !Number.isInteger(parentId)) continue;
    out.push({
      mountId,
      parentId,
      major: Number(dev[1]),
      minor: Number(dev[2]),
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      options: fields[5]!,
      fsType: fields[sep + 1]!,
      source: unescapeMountField(fields[sep + 2]!),
    });
  }
  return out;
}

export const PROC_MOUNTINFO = '/proc/self/mountinfo';

/** The mount table of this process, or null where there is none (not Linux). */
export async function readMountInfo(file = PROC_MOUNTINFO): Promise<MountEntry[] | null> {
  try {
    return parseMountInfo(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * The mount whose mount point is exactly `path`; when several are stacked on it,
 * the last (topmost) one, which is what a reader of the path sees.
 */
export function mountAt(table: readonly MountEntry[], path: string): MountEntry | null {
  const p = resolve(path);
  let found: MountEntry | null = null;
  for (const m of table) if (m.mountPoint === p) found = m;
  return found;
}

/** Mount points strictly below `dir` (e.g. /run/media/alice holds alice's mounts). */
export function mountsBelow(table: readonly MountEntry[], dir: string): MountEntry[] {
  const prefix = resolve(dir) + '/';
  return table.filter((m) => m.mountPoint.startsWith(prefix));
}

/**
 * Is `path` a mount point? From the mount table where there is one, else by comparing
 * its device with its parent's (a different device means something is mounted there).
 */
export async function isMountPoint(path: string, table: readonly MountEntry[] | null): Promise<boolean> {
  if (table) return mountAt(table, path) !== null;
  try {
    const [self, parent] = await Promise.all([stat(path), stat(dirname(resolve(path)))]);
    return self.dev !== parent.dev;
  } catch {
    return false;
  }
}
