import createClient from 'openapi-fetch';
import type { paths } from './schema';

/** Every error answer of the API: `{ error: { code, message } }` (docs/api.md). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Header the API requires on every state-changing request made with the session cookie. */
export const CSRF_HEADER = 'X-Custody-CSRF';

let onUnauthorized: (() => void) | null = null;
/** Called when a request made while signed in answers 401 (the session ended). */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/**
 * The API client, typed by the OpenAPI document's generated types (schema.d.ts): a
 * path, parameter or body the API does not have does not compile. Same origin, with
 * the session cookie; the CSRF header on everything but GET and HEAD.
 */
export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use({
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD') request.headers.set(CSRF_HEADER, '1');
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith('/api/v1/session')) onUnauthorized?.();
    return response;
  },
});

/** An error answer (or a network failure) as an ApiError. */
export async function errorOf(response: Response | undefined, body?: unknown): Promise<ApiError> {
  if (!response) return new ApiError(0, 'NETWORK', 'network error');
  let b = body;
  if (b === undefined) b = await response.json().catch(() => undefined);
  const e = (b as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (e && typeof e.code === 'string') return new ApiError(response.status, e.code, typeof e.message === 'string' ? e.message : '');
  return new ApiError(response.status, response.status >= 500 ? 'INTERNAL' : `HTTP_${response.status}`, response.statusText);
}

/** The data of an openapi-fetch call, or its error thrown as an ApiError. */
export async function data<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await call;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, 'NETWORK', e instanceof Error ? e.message : String(e));
  }
  if (r.error !== undefined || !r.response.ok) throw await errorOf(r.response, r.error);
  return r.data as T;
}
