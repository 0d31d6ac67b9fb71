import { watch } from 'chokidar';

export type ShallowEvent = 'addDir' | 'unlinkDir' | 'add' | 'unlink';

export interface ShallowWatch {
  /** Resolves once the entries already there have been reported (or the watch failed). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Watch the direct entries of one folder (depth 0; symlinks not followed). The only
 * module that imports chokidar. Never used on a recorder's tree: one watch per mount
 * root, per user folder of a root, and per drop folder, so the number of inotify
 * watches stays at a handful whatever is docked.
 *
 * `onEvent` gets every entry already there (once ready) and every change after it;
 * `onError` gets watcher errors (the caller rate-limits them).
 */
export function watchShallow(dir: string, onEvent: (event: ShallowEvent, path: string) => void, onError: (err: Error) => void): ShallowWatch {
  const w = watch(dir, { depth: 0, ignoreInitial: false, followSymlinks: false, persistent: true, ignorePermissionErrors: true });
  w.on('all', (event, path) => {
    if (event === 'addDir' || event === 'unlinkDir' || event === 'add' || event === 'unlink') {
      if (path !== dir) onEvent(event, path);
    }
  });
  w.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
  const ready = new Promise<void>((resolve) => {
    w.once('ready', () => resolve());
    w.once('error', () => resolve());
  });
  return { ready, close: () => w.close() };
}
