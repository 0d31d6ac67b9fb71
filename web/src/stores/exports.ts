import { reactive, ref } from 'vue';
import type { ExportJob } from '../pages/exports/types';

/**
 * Export jobs as they move (issue 19): the station sends an `export` event each time a
 * job is queued, saves its progress or ends, to users who may export within their unit.
 * The 归档 page reads `jobs` and asks GET only for what came before it connected (and for
 * an ended job's record).
 */
export const jobs = reactive(new Map<string, ExportJob>());
export const connection = ref<'connecting' | 'live' | 'closed'>('closed');
/** Called on every (re)connection: what happened while not connected is read with GET. */
let onConnect: (() => void) | null = null;

let source: EventSource | null = null;
let users = 0;

function open(): void {
  connection.value = 'connecting';
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  source = es;
  es.onopen = () => {
    connection.value = 'live';
    onConnect?.();
  };
  es.onerror = () => {
    connection.value = es.readyState === EventSource.CLOSED ? 'closed' : 'connecting';
  };
  es.addEventListener('export', (m) => {
    try {
      const job = JSON.parse((m as MessageEvent).data as string) as ExportJob;
      if (typeof job.id === 'string') jobs.set(job.id, job);
    } catch {
      // A malformed event is skipped; the next GET corrects the page.
    }
  });
}

/** The 归档 page calls start() when shown (with what to read again on each connection) and stop() when left. */
export function start(reconnected: () => void): void {
  onConnect = reconnected;
  users++;
  if (users === 1) open();
}

export function stop(): void {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  source?.close();
  source = null;
  onConnect = null;
  connection.value = 'closed';
}
