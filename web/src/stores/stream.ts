import { readonly, ref } from 'vue';

/**
 * The station's live events (GET /api/v1/events) for the whole page: one EventSource,
 * however many stores and pages listen, opened with the first subscription and closed
 * with the last. The browser reconnects it by itself after a dropped connection; a
 * stream the server refused (401, 403: the readyState is CLOSED) stays closed until
 * `reconnect()`. Every subscriber is told of each (re)connection, in one place, because
 * the stream sends only what happens after connecting: that is when each reads with GET
 * what may have moved meanwhile.
 */

export type Connection = 'connecting' | 'live' | 'closed';

interface Subscriber {
  types: ReadonlySet<string>;
  onEvent: (type: string, data: unknown) => void;
  onConnect: () => void;
  /** Events given to this subscriber so far (see `fresh`). */
  told: number;
}

const state = ref<Connection>('connecting');
/** The page's one stream: 'live' while open; 'connecting' before (also with no subscriber yet) and while it reconnects; 'closed' when refused. */
export const connection = readonly(state);

const subscribers = new Set<Subscriber>();
let source: EventSource | null = null;
/** Event types the open source has a listener for (one each, dispatching to every subscriber of that type). */
const listening = new Set<string>();

function dispatch(type: string, m: Event): void {
  let data: unknown;
  try {
    data = JSON.parse((m as MessageEvent<string>).data) as unknown;
  } catch {
    // A malformed event is skipped; the next GET corrects the page.
    return;
  }
  for (const s of [...subscribers]) {
    if (!s.types.has(type)) continue;
    s.told++;
    try {
      s.onEvent(type, data);
    } catch {
      // One store's failure to take an event does not keep it from the others.
    }
  }
}

function listen(type: string): void {
  if (!source || listening.has(type)) return;
  listening.add(type);
  source.addEventListener(type, (m) => dispatch(type, m));
}

function open(): void {
  state.value = 'connecting';
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  source = es;
  listening.clear();
  es.onopen = () => {
    state.value = 'live';
    for (const s of [...subscribers]) s.onConnect();
  };
  es.onerror = () => {
    // The browser reconnects by itself unless the answer was not a stream (401, 403).
    state.value = es.readyState === EventSource.CLOSED ? 'closed' : 'connecting';
  };
  for (const s of subscribers) for (const type of s.types) listen(type);
}

function shut(): void {
  source?.close();
  source = null;
  listening.clear();
  // Not 'closed': nothing refused it, and the next page to subscribe opens it again.
  state.value = 'connecting';
}

/**
 * Subscribe to some of the station's live events: `onEvent` gets each event of the named
 * types as parsed JSON; `onConnect` runs on each (re)connection of the page's stream, and
 * once soon after subscribing when the stream is already live (the subscriber's first
 * read). `close()` ends this subscription; the stream closes with the last one.
 *
 * `fresh(read)` runs a GET of what these events also carry, and gives its answer only if
 * no event came while it was in flight (else undefined): the answer may then be older
 * than the event (a run that ended while the GET was answered shown as still running,
 * for ever, as no event follows its end). Every change sends an event, so one that came
 * meanwhile is at least as new.
 */
export function subscribe(
  types: readonly string[],
  onEvent: (type: string, data: unknown) => void,
  onConnect: () => void,
): { connection: typeof connection; close: () => void; fresh: <T>(read: () => Promise<T>) => Promise<T | undefined> } {
  const sub: Subscriber = { types: new Set(types), onEvent, onConnect, told: 0 };
  subscribers.add(sub);
  if (!source) open();
  else {
    for (const type of sub.types) listen(type);
    // The stream was live before this subscriber came: it reads now what it missed.
    if (state.value === 'live') queueMicrotask(() => subscribers.has(sub) && sub.onConnect());
  }
  return {
    connection,
    fresh: async <T>(read: () => Promise<T>): Promise<T | undefined> => {
      const before = sub.told;
      const answer = await read();
      return sub.told === before ? answer : undefined;
    },
    close: () => {
      if (!subscribers.delete(sub)) return;
      // A listener of a type nobody wants any more is harmless: it dispatches to no one.
      if (subscribers.size === 0) shut();
    },
  };
}

/** Open the page's stream again (after it was refused: e.g. after signing in again). Every subscriber is told when it connects. */
export function reconnect(): void {
  if (subscribers.size === 0) return;
  shut();
  open();
}
