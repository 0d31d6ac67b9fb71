import { JobThread, workerSource, type ThreadError } from './job-thread.js';

/**
 * The names half of publishing a group of staged objects in the fs vault: folders
 * made, each synced temp file hard-linked under its content name, the folders that
 * gained a name synced once for the group, the new names stat-ed and the temp names
 * removed. These are a dozen small metadata calls per object; made one by one
 * through Node's I/O thread pool, each costs a hand-off and a wake-up of the event
 * loop, more than the call itself. One worker thread makes them with plain
 * synchronous calls, the whole group in one message.
 *
 * The worker's code is the function below, run from its source text, so it works the
 * same from the compiled build and from TypeScript run directly; it imports nothing
 * of the project (only node: modules, through require).
 */

export interface NameJob {
  /** Sync the folders that gained a name (the store's fsync option). */
  fsync: boolean;
  items: Array<{ tmp: string; final: string }>;
}

/** What became of one item: its name created (and its stored size), already there (its size), or an error. */
export type NameOutcome =
  | { kind: 'created'; storedSize: number }
  | { kind: 'exists'; storedSize: number }
  | { kind: 'failed'; error: ThreadError }
  /** Linked, but a folder sync of the group failed: the new name was taken down again. */
  | { kind: 'unsynced'; error: ThreadError };

/** A group's outcomes, and the folders it synced (for tests and tracing). */
export interface NamesResult {
  out: NameOutcome[];
  synced: string[];
}

/* eslint-disable @typescript-eslint/no-require-imports -- the worker's source text runs as a CommonJS script */
/**
 * The worker thread. Self-contained: it is run from its source text. Folders known to
 * exist are remembered (a bounded set), so a mature vault, where nearly every object's
 * folder exists, makes no mkdir call for it; a remembered folder that has gone (ENOENT
 * on link) is forgotten and made again once.
 */
function namesWorker(threadError: (e: unknown) => ThreadError): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const { dirname } = require('node:path') as typeof import('node:path');
  const KNOWN_MAX = 100_000;
  const known = new Set<string>();
  // Folders made here whose names (the folder and its new parents) no sync has yet made
  // durable: a group that links into one syncs that chain too, even when another group
  // made the folder and is still syncing it (or failed to).
  const fresh = new Map<string, string[]>();
  const makeDir = (dir: string, toSync: Set<string>): void => {
    if (known.has(dir)) {
      for (const d of fresh.get(dir) ?? []) toSync.add(d);
      return;
    }
    const first = fs.mkdirSync(dir, { recursive: true });
    if (first !== undefined) {
      // New folders are names in their parents: each is synced, from the parent of the first one down.
      const chain = [dirname(first)];
      for (let d = dir; d.length >= first.length; d = dirname(d)) chain.push(d);
      for (const d of chain) toSync.add(d);
      fresh.set(dir, chain);
    }
    if (known.size >= KNOWN_MAX) known.clear();
    known.add(dir);
  };
  // Folders are synced in parallel (the file system commits them together), through
  // this thread's own event loop: one after another, each waited for its own commit.
  const syncDir = async (dir: string): Promise<void> => {
    const fh = await fs.promises.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
  parentPort!.on('message', async (job: NameJob & { id: number }) => {
    const out: NameOutcome[] = [];
    const toSync = new Set<string>();
    for (const { tmp, final } of job.items) {
      const dir = dirname(final);
      try {
        makeDir(dir, toSync);
        try {
          fs.linkSync(tmp, final);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' && known.has(dir)) {
            // A remembered folder was removed behind our back: make it again, once.
            known.delete(dir);
            makeDir(dir, toSync);
            fs.linkSync(tmp, final);
          } else if (code === 'EEXIST') {
            out.push({ kind: 'exists', storedSize: fs.statSync(final).size });
            continue;
          } else {
            throw e;
          }
        }
        // The temp name's removal need not be durable: were a crash to bring it back, it
        // is only a second name for the same bytes in .tmp, which the store's init tidies.
        toSync.add(dir);
        out.push({ kind: 'created', storedSize: -1 });
      } catch (e) {
        out.push({ kind: 'failed', error: threadError(e) });
      }
    }
    let dirError: ThreadError | null = null;
    if (job.fsync) {
      await Promise.all(
        [...toSync].map((d) =>
          syncDir(d).catch((e: unknown) => {
            dirError ??= threadError(e);
          }),
        ),
      );
    }
    // Synced without error: the folders whose whole chain this group synced are durable.
    if (!dirError) for (const [dir, chain] of fresh) if (chain.every((d) => toSync.has(d))) fresh.delete(dir);
    job.items.forEach(({ tmp, final }, i) => {
      const o = out[i]!;
      if (o.kind === 'exists' && dirError) out[i] = { kind: 'failed', error: dirError };
      if (o.kind === 'created') {
        if (dirError) {
          // Which names depend on which folder is not worth tracking for a failure this
          // rare: every new name of the group is taken down again.
          try {
            fs.rmSync(final, { force: true });
          } catch {
            // left for verify to find; the item is failed either way
          }
          out[i] = { kind: 'unsynced', error: dirError };
        } else {
          try {
            o.storedSize = fs.statSync(final).size;
          } catch (e) {
            out[i] = { kind: 'failed', error: threadError(e) };
          }
        }
      }
      try {
        fs.unlinkSync(tmp);
      } catch {
        // already gone, or a second name the next init tidies
      }
    });
    parentPort!.postMessage({ id: job.id, result: { out, synced: job.fsync ? [...toSync] : [] } satisfies NamesResult });
  });
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** One worker for the process, shared by every fs store; held only while it has work. */
const thread = new JobThread<NameJob, NamesResult>(workerSource(namesWorker), 'custody-vault-names', "the vault's names thread");

/** Link, sync and stat a group's names in the names thread; one outcome per item, in order. */
export async function publishNames(job: NameJob): Promise<NameOutcome[]> {
  return (await thread.run(job)).out;
}

/** As publishNames, with the folders the group synced. */
export function publishNamesTraced(job: NameJob): Promise<NamesResult> {
  return thread.run(job);
}
