/**
 * A worker thread that checks one range of the ledger's chain (verify.ts starts one
 * per CPU on a large ledger): its own read-only connection to the catalog, the same
 * check as in one pass (ChainRangeCheck), progress after each page, then the result.
 * The range's first entry is linked to the one before it by the caller.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../catalog/index.js';
import { ChainRangeCheck, type ChainWorkerData, type ChainWorkerMessage } from './chain-check.js';

const job = workerData as ChainWorkerData;
const post = (m: ChainWorkerMessage): void => parentPort!.postMessage(m);
const db = openDatabase(job.file, { readonly: true });
try {
  const check = new ChainRangeCheck(db, job.range, null, job.maxProblems);
  while (check.page()) post({ entries: check.entries });
  post({ result: check.result() });
} finally {
  db.close();
}
