import { rfc3339 } from '../core/index.js';
import type { ClockEstimate, RecorderDriver, RecorderHealth } from './driver.js';

/** Video containers whose header carries a creation time. */
const TIMED_MEDIA = /\.(mp4|mov|m4v|3gp)$/i;
/** FAT keeps file times to 2 s: a stamp within that of the dock is no evidence either way. */
const SLACK_MS = 2000;

/**
 * The clock drift of a recorder whose clock cannot be read, from its newest file.
 *
 * A recorder stamps a file with its own clock (the creation time in the MP4 header when
 * recording starts, the file time when it closes the file), and every file was closed
 * before the dock. So the newest file's time beyond the dock time is how far the clock
 * is at least ahead: a lower bound, recorded with its workings. A clock that is behind,
 * or right, leaves no such trace: the drift stays unknown, with the reading kept.
 * Creation after closing means the two stamps come from different clocks: no estimate.
 * Null when the recorder has no video to judge by, or cannot be listed.
 */
export async function estimateDriftFromNewestFile(
  files: Pick<RecorderDriver, 'listFiles' | 'localPath'>,
  dockTime: Date,
  creationTimeOf?: (localPath: string) => Promise<Date | null>,
): Promise<ClockEstimate | null> {
  let newest: { path: string; mtimeMs: number } | null = null;
  try {
    for await (const f of files.listFiles()) {
      if (!TIMED_MEDIA.test(f.path)) continue;
      if (!newest || f.mtimeMs > newest.mtimeMs) newest = f;
    }
  } catch {
    return null;
  }
  if (!newest) return null;
  const local = files.localPath(newest.path);
  const created = local && creationTimeOf ? await creationTimeOf(local).catch(() => null) : null;
  const base = {
    method: 'newest-file' as const,
    bound: 'at-least' as const,
    file: newest.path,
    fileTime: rfc3339(new Date(newest.mtimeMs)),
    embeddedCreation: created ? rfc3339(created) : null,
    dockTime: rfc3339(dockTime),
  };
  if (created && created.getTime() > newest.mtimeMs + SLACK_MS) return { ...base, driftMs: null, note: 'the embedded creation time is after the file time: the stamps disagree' };
  const ahead = newest.mtimeMs - dockTime.getTime();
  if (ahead > SLACK_MS) return { ...base, driftMs: ahead, note: 'the newest file is dated after the dock: the clock is at least this far ahead' };
  return { ...base, driftMs: null, note: 'the newest file is dated before the dock: the clock may be right or behind' };
}

/** Fill an unread clock in a health snapshot with the estimate (method and workings kept). */
export function withEstimate(h: RecorderHealth, estimate: ClockEstimate | null): RecorderHealth {
  return {
    ...h,
    clockDriftMs: estimate?.driftMs ?? null,
    clockDriftMethod: estimate?.driftMs != null ? 'newest-file-estimate' : null,
    clockEstimate: estimate,
  };
}
