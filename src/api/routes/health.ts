import Type from 'typebox';
import { errorMessage } from '../../core/index.js';
import type { ApiRoutes } from '../context.js';

const CHECK_TIMEOUT_MS = 3000;

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: ApiRoutes = (app, ctx, done) => {
  const lastSegment = ctx.catalog.db.prepare<[], { key: string }>('SELECT key FROM ledger_segments ORDER BY last_seq DESC LIMIT 1');

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], security: [], summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        security: [],
        summary: 'The catalog and the vault answer (503 when either does not)',
        response: {
          200: Type.Object({ status: Type.String(), catalog: Type.Boolean(), vault: Type.Boolean() }),
          503: Type.Object({ status: Type.String(), catalog: Type.Boolean(), vault: Type.Boolean() }),
        },
      },
    },
    async (_req, reply) => {
      let catalog = false;
      let vault = false;
      let segmentKey: string | null = null;
      try {
        segmentKey = lastSegment.get()?.key ?? null;
        catalog = true;
      } catch (e) {
        ctx.log.warn({ err: e }, 'readiness: catalog does not answer');
      }
      try {
        // The newest sealed segment must be there; a vault without one must list.
        if (segmentKey !== null) {
          vault = (await withTimeout(ctx.store.stat(segmentKey), CHECK_TIMEOUT_MS)) !== null;
          if (!vault) ctx.log.warn({ key: segmentKey }, 'readiness: the newest ledger segment is missing from the vault');
        } else {
          await withTimeout(
            (async () => {
              for await (const _o of ctx.store.list('ledger/')) break;
            })(),
            CHECK_TIMEOUT_MS,
          );
          vault = true;
        }
      } catch (e) {
        ctx.log.warn({ err: errorMessage(e) }, 'readiness: vault does not answer');
      }
      const ok = catalog && vault;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', catalog, vault });
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], security: [], summary: 'Prometheus metrics', response: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
    },
    async (_req, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    },
  );
  done();
};
