import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Is a process with this pid running (one we may not signal counts)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), which
 * tells a pid reused after a crash from the process that had it; null where there is no
 * /proc or no such process.
 */
export async function processStart(pid: number): Promise<string | null> {
  try {
    return startField(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** processStart for code that must not wait (inside a synchronous transaction). */
export function processStartSync(pid: number): string | null {
  try {
    return startField(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * `<pid>-<start>`: names a process so that a pid reused after a crash is not taken for
 * it (`<pid>-0` where there is no /proc).
 */
export function processTag(pid: number = process.pid): string {
  return `${pid}-${processStartSync(pid) ?? '0'}`;
}

/**
 * Is the process a {@link processTag} names still running? A pid now held by another
 * process is not; where there is no /proc, a live pid is taken as the process.
 */
export function processTagAlive(tag: string): boolean {
  const m = /^(\d+)-(\d+)$/.exec(tag);
  if (!m) return false;
  const pid = Number(m[1]);
  if (!pidAlive(pid)) return false;
  const start = processStartSync(pid);
  return start === null || m[2] === '0' || start === m[2];
}

function startField(stat: string): string | null {
  // The command name (field 2) is in parentheses and may hold spaces: count after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}
