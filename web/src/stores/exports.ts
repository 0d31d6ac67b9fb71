import { reactive } from 'vue';
import type { ExportJob } from '../pages/exports/types';
import { subscribe } from './stream';

/**
 * Export jobs as they move (issue 19): the station sends an `export` event each time a
 * job is queued, saves its progress or ends, to users who may export within their unit.
 * The 归档 page reads `jobs` and asks GET only for what came before it connected (and for
 * an ended job's record).
 */
export const jobs = reactive(new Map<string, ExportJob>());

let live: ReturnType<typeof subscribe> | null = null;
let users = 0;

/** The 归档 page calls start() when shown (with what to read again on each connection) and stop() when left. */
export function start(reconnected: () => void): void {
  users++;
  if (users > 1) return;
  live = subscribe(
    ['export'],
    (_type, data) => {
      const job = data as ExportJob;
      if (typeof job.id === 'string') jobs.set(job.id, job);
    },
    reconnected,
  );
}

export function stop(): void {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  live?.close();
  live = null;
}
