/**
 * The search thread (search-pool.ts): a read-only connection per catalog file, opened
 * at its first search and closed when its API stops, with the API's own search
 * statements; one search per message.
 */
import { parentPort } from 'node:worker_threads';
import { openDatabase, type Db } from '../../catalog/index.js';
import { EvidenceQueries } from './evidence.js';
import type { SearchJob, SearchReply } from './search-pool.js';

const open = new Map<string, { db: Db; queries: EvidenceQueries }>();

parentPort!.on('message', (job: SearchJob) => {
  let reply: SearchReply;
  try {
    if ('close' in job) {
      open.get(job.file)?.db.close();
      open.delete(job.file);
      reply = { id: job.id, closed: true };
    } else {
      let c = open.get(job.file);
      if (!c) {
        const db = openDatabase(job.file, { readonly: true });
        c = { db, queries: new EvidenceQueries(db) };
        open.set(job.file, c);
      }
      reply = { id: job.id, items: c.queries.searchJson(job.scope, job.filter, job.after, job.limit) };
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reply = { id: job.id, error: { message: err instanceof Error ? err.message : String(e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
