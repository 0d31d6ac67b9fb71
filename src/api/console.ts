import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_PREFIX } from './context.js';
import type { ApiApp } from './server.js';

/**
 * The web console (issue 15, docs/console.md): the files `npm run build` puts in
 * dist/console, served at `/` on the API's own address, with history routing (a page's
 * address, e.g. /evidence/…, answers with the app). Nothing is fetched from elsewhere:
 * the station may have no internet.
 */

/** dist/console beside the package's dist/api (the same from src/api under the tests). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/**
 * The console's pages may load only their own scripts and styles and talk only to this
 * station; no page of another site may frame them. Element Plus sets element styles
 * at run time, hence 'unsafe-inline' for styles (never for scripts).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function consoleHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONSOLE_CSP,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
}

/** A request the console's app answers: a page address, asked for by a browser. */
export function isPageRequest(req: FastifyRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.url.split('?')[0]!;
  if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`) || path.startsWith('/docs') || path === '/metrics') return false;
  return (req.headers.accept ?? '').includes('text/html');
}

/**
 * Serve the built console from `dir`, when it is built there. Hashed assets are
 * cached for good; index.html never (a new build is seen at the next load).
 * Returns the answer for page addresses (history routing), or null without a console.
 */
export function serveConsole(app: ApiApp, dir: string): ((req: FastifyRequest, reply: FastifyReply) => FastifyReply) | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: true,
    index: ['index.html'],
    // Dotfiles and folder listings are never served.
    dotfiles: 'deny',
    list: false,
    cacheControl: false,
    setHeaders(res, path) {
      const asset = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(path);
      void res.header('cache-control', asset ? 'public, max-age=31536000, immutable' : 'no-cache').headers(consoleHeaders());
    },
  });
  return (_req, reply) => reply.headers({ ...consoleHeaders(), 'cache-control': 'no-cache' }).sendFile('index.html');
}
