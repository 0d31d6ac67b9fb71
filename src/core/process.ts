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

function startField(stat: string): string | null {
  // The command name (field 2) is in parentheses and may hold spaces: count after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}
