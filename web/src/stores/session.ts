import { reactive } from 'vue';
import { ApiError, CSRF_HEADER, errorOf } from '../api/client';
import type { SessionBody, SessionUser } from '../api/types';

/**
 * Who is signed in. The session itself is the httpOnly cookie the API sets; the page
 * only knows the user the API says it is, and offers what `permissions` allows.
 */
export const session = reactive({
  user: null as SessionUser | null,
  /** The station's preview policy: with video-frames a video's thumbnail needs no grant. */
  previews: 'none' as SessionBody['previews'],
  /** The station's time zone (config `timezone`): the zone of its local days, as GET /session says. */
  timezone: null as string | null,
  /** Has GET /session been asked once since the page loaded? */
  checked: false,
  /** Signed in with a password someone else set: nothing else is answered until it is changed. */
  mustChangePassword: false,
});

const SESSION = '/api/v1/session';

export function can(permission: string): boolean {
  return session.user?.permissions.includes(permission) ?? false;
}

/** Ask the API who is signed in (null: nobody). */
export async function loadSession(): Promise<SessionUser | null> {
  const res = await fetch(SESSION, { credentials: 'same-origin', headers: { accept: 'application/json' } }).catch(() => undefined);
  session.checked = true;
  if (res?.status === 401) {
    session.user = null;
    return null;
  }
  if (!res?.ok) throw await errorOf(res);
  const body = (await res.json()) as SessionBody;
  session.user = body.user;
  session.previews = body.previews;
  session.timezone = body.timezone;
  session.mustChangePassword = body.mustChangePassword;
  return session.user;
}

export async function signIn(username: string, password: string): Promise<SessionUser> {
  const res = await fetch(SESSION, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json', [CSRF_HEADER]: '1' },
    body: JSON.stringify({ username, password }),
  }).catch(() => undefined);
  if (!res?.ok) throw await errorOf(res);
  const body = (await res.json()) as SessionBody;
  session.user = body.user;
  session.previews = body.previews;
  session.timezone = body.timezone;
  session.mustChangePassword = body.mustChangePassword;
  session.checked = true;
  return session.user;
}

/** Change one's own password (the current one is asked again); this session stays. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  const res = await fetch(`${SESSION}/password`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
    body: JSON.stringify({ currentPassword, newPassword }),
  }).catch(() => undefined);
  if (!res?.ok) throw await errorOf(res);
  session.mustChangePassword = false;
}

export async function signOut(): Promise<void> {
  const res = await fetch(SESSION, { method: 'DELETE', credentials: 'same-origin', headers: { [CSRF_HEADER]: '1' } }).catch(() => undefined);
  // An ended session is signed out already.
  if (res && !res.ok && res.status !== 401) throw await errorOf(res);
  if (!res) throw new ApiError(0, 'NETWORK', 'network error');
  session.user = null;
  session.mustChangePassword = false;
}
