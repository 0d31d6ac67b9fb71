import { ref, type Ref } from 'vue';

/**
 * One page's subscription to some of the station's live events (GET /api/v1/events):
 * `onEvent` gets each event of the named types as parsed JSON; `onConnect` runs on each
 * (re)connection, when the page reads with GET what may have moved while it was not
 * connected (the stream sends only what happens after connecting). `close()` ends it.
 */
export function subscribe(
  types: readonly string[],
  onEvent: (type: string, data: unknown) => void,
  onConnect: () => void,
): { connection: Ref<'connecting' | 'live' | 'closed'>; close: () => void } {
  const connection = ref<'connecting' | 'live' | 'closed'>('connecting');
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  es.onopen = () => {
    connection.value = 'live';
    onConnect();
  };
  es.onerror = () => {
    connection.value = es.readyState === EventSource.CLOSED ? 'closed' : 'connecting';
  };
  for (const type of types) {
    es.addEventListener(type, (m) => {
      try {
        onEvent(type, JSON.parse((m as MessageEvent).data as string) as unknown);
      } catch {
        // A malformed event is skipped; the next GET corrects the page.
      }
    });
  }
  return {
    connection,
    close: () => {
      es.close();
      connection.value = 'closed';
    },
  };
}
