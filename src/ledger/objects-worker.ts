/**
 * A worker thread that checks every object the ledger references, for a non-deep
 * verify of a vault on the fs store (verify.ts starts it beside the chain check): its
 * own read-only connection to the catalog, the same queries and judgement as verify's
 * own objects phase (./references.ts), and one synchronous stat per object on the
 * store's file (as FsObjectStore.stat: a file's size, null when there is none or it is
 * not a file, else the error) — no threadpool round trip per object, and the
 * daemon's event loop free meanwhile. Posts the number of objects, progress after each
 * page, then the result.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../catalog/index.js';
import { errorMessage } from '../core/index.js';
import { ReferenceTable, contentFile, judgeStat, planReference, type ObjectsWorkerData, type ObjectsWorkerMessage, type StatOutcome } from './references.js';
import type { VerifyProblem } from './verify.js';

const job = workerData as ObjectsWorkerData;
const post = (m: ObjectsWorkerMessage): void => parentPort!.postMessage(m);

/**
 * As FsObjectStore.stat: no such file is missing, anything else that is not a file is no
 * object, and any other error (ENOTDIR: a path through a file) cannot be checked. Not
 * throwIfNoEntry: from Node 24 it also turns ENOTDIR into "no entry".
 */
function statFile(path: string): StatOutcome {
  try {
    const st = statSync(path);
    return { size: st.isFile() ? st.size : null };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { size: null };
    return { error: errorMessage(e) };
  }
}

const db = openDatabase(job.file, { readonly: true });
try {
  const problems: VerifyProblem[] = [];
  let omitted = 0;
  const add = (p: VerifyProblem): void => {
    if (problems.length < job.maxProblems) problems.push(p);
    else omitted++;
  };
  const table = new ReferenceTable(db);
  try {
    table.invalid(add);
    post({ total: table.total });
    let objects = 0;
    let purged = 0;
    for (let rows = table.page(); rows.length > 0; rows = table.page()) {
      for (const r of rows) {
        objects++;
        const plan = planReference(r);
        if (plan.purged) purged++;
        if (plan.key !== null) judgeStat(r, plan.key, statFile(contentFile(job.contentDir, plan.key)), plan.problems);
        for (const p of plan.problems) add(p);
      }
      post({ done: objects });
    }
    post({ result: { objects, purged, problems, omitted } });
  } finally {
    table.drop();
  }
} finally {
  db.close();
}
