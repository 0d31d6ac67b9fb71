import { ref } from 'vue';
import { api, data } from '../api/client';
import type { AccessRequest } from '../api/types';

/**
 * The items the signed-in user holds a current grant for (approved, not expired): only
 * those get a thumbnail in lists, since a thumbnail shows the footage and needs the same
 * grant (a request without one would be refused, and the refusal ledgered).
 */
export const granted = ref(new Map<string, string>());

export function grantedNow(id: string): boolean {
  const until = granted.value.get(id);
  return until !== undefined && Date.parse(until) > Date.now();
}

export async function loadGrants(): Promise<AccessRequest[]> {
  const mine: AccessRequest[] = [];
  let cursor: string | undefined;
  // A user's own requests: a few pages at most.
  for (let page = 0; page < 5; page++) {
    const r = await data(api.GET('/api/v1/access-requests', { params: { query: { view: 'mine', limit: 200, ...(cursor ? { cursor } : {}) } } }));
    mine.push(...r.items);
    if (!r.next) break;
    cursor = r.next;
  }
  const m = new Map<string, string>();
  for (const req of mine) {
    if (req.status !== 'approved' || !req.expiresAt) continue;
    for (const id of req.evidenceIds) {
      const cur = m.get(id);
      if (!cur || cur < req.expiresAt) m.set(id, req.expiresAt);
    }
  }
  granted.value = m;
  return mine;
}
