import { computed, reactive, ref } from 'vue';
import { api, data } from '../api/client';
import type { paths } from '../api/schema';
import { subscribe } from './stream';

/** A flag as GET /flags/{id} gives it (with aboutCaller: about the caller's own officer number). */
export type Flag = paths['/api/v1/flags/{id}']['get']['responses'][200]['content']['application/json'];
export type FlagQuery = NonNullable<paths['/api/v1/flags']['get']['parameters']['query']>;

/**
 * Compliance flags: one store, fed by GET /flags for the chosen filter and by the event
 * stream's `flag` events (a flag raised, escalated or resolved anywhere in the caller's
 * scope); pages read it and never poll. An event names the flag; the store reads the
 * flag itself (GET /flags/{id}) and keeps it when it matches the filter.
 */

export type FlagFilter = Omit<FlagQuery, 'limit' | 'cursor'>;

export const flags = reactive(new Map<string, Flag>());
/** Ids of flags that came over the stream since the page was opened (shown as new). */
export const fresh = reactive(new Set<string>());
export const filter = ref<FlagFilter>({ state: 'unresolved' });
/** The page's one stream (stores/stream.ts). */
export { connection } from './stream';
export const loadError = ref<unknown>(null);
export const hasMore = ref(false);

const RANK: Record<string, number> = { escalated: 0, open: 1, resolved: 2 };

/** Escalated first, then open, then resolved; each newest first. */
export const sorted = computed(() =>
  [...flags.values()].sort((a, b) => (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || b.raisedAt.localeCompare(a.raisedAt) || b.id.localeCompare(a.id)),
);

/** Whether a flag belongs in the list for the filter (as the API filters it). */
export function matches(f: Flag, q: FlagFilter): boolean {
  if (q.rule && f.rule !== q.rule) return false;
  if (q.unit && f.unit !== q.unit) return false;
  if (q.officer && f.officer !== q.officer) return false;
  if (q.device && f.recorderSerial !== q.device) return false;
  if (q.state === 'unresolved') return f.state !== 'resolved';
  if (q.state && f.state !== q.state) return false;
  return true;
}

const LIMIT = 500;
let loads = 0;

/** The flags for a filter (at most 500: a narrower filter finds the rest). */
export async function load(q: FlagFilter): Promise<void> {
  filter.value = q;
  const mine = ++loads;
  try {
    const r = await data(api.GET('/api/v1/flags', { params: { query: { ...q, limit: LIMIT } } }));
    if (mine !== loads) return;
    flags.clear();
    for (const f of r.items) flags.set(f.id, f);
    hasMore.value = r.next !== null;
    loadError.value = null;
  } catch (e) {
    if (mine === loads) loadError.value = e;
  }
}

/** Put a flag the page changed itself (a resolution) in the store. */
export function put(f: Flag): void {
  if (matches(f, filter.value)) flags.set(f.id, f);
  else flags.delete(f.id);
}

async function refresh(id: string): Promise<void> {
  try {
    const f = await data(api.GET('/api/v1/flags/{id}', { params: { path: { id } } }));
    if (!flags.has(id) && matches(f, filter.value)) fresh.add(id);
    put(f);
  } catch {
    // Out of scope or gone: nothing to show.
  }
}

let live: ReturnType<typeof subscribe> | null = null;
let users = 0;

/** The flags page calls start() when shown and stop() when left; it shares the page's one stream. */
export function start(): void {
  users++;
  if (users > 1) return;
  live = subscribe(
    ['flag'],
    (_type, d) => {
      const e = d as { id?: unknown } | null;
      if (typeof e?.id === 'string') void refresh(e.id);
    },
    // Only what happens after connecting is sent: what came before, from GET, on each (re)connection.
    () => void load(filter.value),
  );
}

export function stop(): void {
  users = Math.max(0, users - 1);
  if (users > 0) return;
  live?.close();
  live = null;
  fresh.clear();
}
