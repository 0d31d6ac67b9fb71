import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CustodyError, UsageError } from '../core/index.js';

/**
 * A destination refused before anything is written (403 on the API). The message names
 * only the destination the caller gave, never what it resolves to on the station.
 */
export class DestinationForbiddenError extends CustodyError {
  constructor(message: string) {
    super('EXPORT_DESTINATION_FORBIDDEN', message);
  }
}

/** `sub` is `dir` itself or below it. */
function within(dir: string, sub: string): boolean {
  return sub === dir || sub.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** realpath of the nearest existing ancestor of `abs`, with the missing rest appended. */
async function realOfNearest(abs: string): Promise<string> {
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      const real = await realpath(cur);
      return rest.length === 0 ? real : join(real, ...rest.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      const up = dirname(cur);
      if (up === cur) throw e;
      rest.push(basename(cur));
      cur = up;
    }
  }
}

/**
 * Resolve export destinations against the roots they must stay inside (issue 14).
 *
 * Each destination is made absolute, then its nearest existing ancestor is resolved
 * with realpath (symlinks too) before any check: the real path must lie inside the
 * real path of a root, and the part below the root must contain no symlink at all (a
 * link inside a root could otherwise point anywhere, now or later). Two destinations
 * must resolve to separate folders, neither inside the other.
 *
 * With no roots, only the last rule applies (the CLI without `archive.destinationRoots`).
 * Returns the resolved destinations, in order.
 */
export async function resolveDestinations(destinations: readonly string[], roots: readonly string[]): Promise<string[]> {
  const realRoots: Array<{ given: string; real: string }> = [];
  for (const r of roots) {
    const given = resolve(r);
    const real = await realpath(given).catch(() => null);
    // A root that does not exist (not mounted) admits nothing.
    if (real !== null) realRoots.push({ given, real });
  }
  const out: string[] = [];
  for (const d of destinations) {
    if (!isAbsolute(d) && roots.length > 0) throw new DestinationForbiddenError(`${d} is not an absolute path`);
    const abs = resolve(d);
    let real: string;
    try {
      real = await realOfNearest(abs);
    } catch {
      throw new DestinationForbiddenError(`${d} cannot be resolved on this station`);
    }
    if (roots.length > 0) {
      // The destination as given must be below a root (as configured or as resolved),
      // and resolve to the same place below that root's real path: any symlink on the
      // way changes the resolved path.
      const ok = realRoots.some(({ given, real: rootReal }) => {
        const base = within(given, abs) ? given : within(rootReal, abs) ? rootReal : null;
        if (base === null || abs === base) return false;
        return real === join(rootReal, relative(base, abs));
      });
      if (!ok) throw new DestinationForbiddenError(`${d} is not a folder inside archive.destinationRoots (symlinks below a root are not followed)`);
    }
    out.push(real);
  }
  for (const [i, a] of out.entries()) {
    for (const [j, b] of out.entries()) {
      if (j <= i) continue;
      if (within(a, b) || within(b, a)) {
        throw new UsageError(`the copies must go to separate folders: ${destinations[i]} and ${destinations[j]} overlap (the same place, or one inside the other, once links are resolved)`);
      }
    }
  }
  return out;
}

/** After creating a destination: it must still resolve to where it was checked to be (no link swapped in meanwhile). */
export async function confirmDestination(dest: string): Promise<void> {
  const st = await lstat(dest);
  if (st.isSymbolicLink() || !st.isDirectory() || (await realpath(dest)) !== dest) {
    throw new DestinationForbiddenError('a destination changed while the export was starting (a symlink appeared); nothing was written there');
  }
}
