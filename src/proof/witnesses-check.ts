import { resolve } from 'node:path';
import { errorMessage } from '../core/index.js';
import { errorCode, checkExtends } from './bundles.js';
import { openCheckpoint, type OpenCheckpointOptions } from './checkpoint.js';
import type { MerkleTree } from './merkle.js';
import { FolderWitness } from './witness.js';

/** The configured witness folders (checkpoints.witnesses; relative paths from the home). */
export function witnessesFor(dirs: readonly string[], home: string, origin: string): FolderWitness[] {
  return dirs.map((d) => new FolderWitness(resolve(home, d), origin));
}

export interface WitnessCheck {
  dir: string;
  /** false: the folder could not be read (not a failure of the ledger: nothing was checked). */
  reachable: boolean;
  /** true when reachable and the ledger extends the witness's latest checkpoint (or it has none). */
  ok: boolean;
  file?: string;
  /** Tree size of the witness's latest checkpoint. */
  size?: number;
  code?: string;
  reason?: string;
}

/**
 * Check the ledger against every witness it can reach: each witness's latest
 * checkpoint must be signed by a trusted key and the ledger (its full, lenient tree)
 * must extend it. For `custody verify` and `custody ledger consistency --witnesses`.
 */
export async function checkWitnesses(tree: MerkleTree, witnesses: readonly FolderWitness[], trust: OpenCheckpointOptions): Promise<WitnessCheck[]> {
  const out: WitnessCheck[] = [];
  for (const w of witnesses) {
    let latest;
    try {
      latest = await w.latest();
    } catch (e) {
      out.push({ dir: w.dir, reachable: false, ok: false, code: errorCode(e), reason: errorMessage(e) });
      continue;
    }
    if (!latest) {
      out.push({ dir: w.dir, reachable: true, ok: true });
      continue;
    }
    const base = { dir: w.dir, reachable: true, file: latest.file, size: latest.size };
    let cp;
    try {
      cp = openCheckpoint(latest.note, trust);
    } catch (e) {
      out.push({ ...base, ok: false, code: errorCode(e), reason: `${latest.file}: ${errorMessage(e)}` });
      continue;
    }
    const r = checkExtends(tree, cp);
    out.push(r.ok ? { ...base, size: cp.size, ok: true } : { ...base, size: cp.size, ok: false, code: r.code!, reason: `${latest.file}: ${r.reason!}` });
  }
  return out;
}
