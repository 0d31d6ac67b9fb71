import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, SHA256_HEX } from '../core/index.js';
import { leafHash, openCheckpoint, parseVerifierKey, verifyInclusion, type NoteVerifier, type SignedCheckpoint } from '../proof/index.js';
import { canonicalJson, entryHash, type LedgerEntry } from '../ledger/index.js';
import { validateBag, type BagProblem, type BagReport } from './bagit.js';
import { EXPORT_FORMAT, PROOFS_FORMAT, TAG, type ExportManifest, type ExportProofs } from './layout.js';

/**
 * `custody verify-export`: everything that can be checked with the copy alone — no
 * catalog, no network. First the bag (bagit.ts); then, when the bag is a custody
 * export (it has custody/export.json), its ledger excerpt: every entry's canonical
 * form and hash, the link between consecutive entries, every item tied to the
 * evidence.ingested entry that recorded its sha256 and size, and, when a checkpoint
 * is included, each entry's inclusion proof against the signed root.
 *
 * The checkpoint's signature is checked with the verifier key given by the caller
 * (an auditor's own copy) or else the one in the bag; the report says which, since a
 * key read from the bag itself proves integrity of the copy, not who signed it.
 */

export interface ExportProblem extends BagProblem {
  seq?: number;
}

export interface ExcerptReport {
  exportId: string | null;
  caseNumber: string | null;
  caseName: string | null;
  copy: number | null;
  copies: number | null;
  items: number;
  entries: number;
  /** Entries proven to be in the signed checkpoint's tree. */
  proven: number;
  checkpoint: { origin: string; size: number; root: string; key: 'given' | 'bag' } | null;
}

export interface ExportReport {
  ok: boolean;
  dir: string;
  bag: Omit<BagReport, 'problems' | 'checksums' | 'ok'>;
  /** null when the bag is not a custody export (a plain bag: only BagIt is checked). */
  custody: ExcerptReport | null;
  problems: ExportProblem[];
}

export interface VerifyExportOptions {
  /** A verifier key string the caller trusts, instead of the one in the bag. */
  verifierKey?: string;
  /** Called after each payload file is checked (for progress). */
  onFile?: (path: string, bytes: number) => void;
}

const FIELDS = 'actor,data,hash,prev,seq,subject,time,type';

async function readText(dir: string, rel: string): Promise<string | null> {
  try {
    return await readFile(join(dir, rel), 'utf8');
  } catch {
    return null;
  }
}

/** Check the ledger excerpt line by line; returns the entries that parsed, by seq. */
function checkLedgerLines(text: string, problems: ExportProblem[]): Map<number, { entry: LedgerEntry; line: string }> {
  const out = new Map<number, { entry: LedgerEntry; line: string }>();
  const p = (code: string, message: string, seq?: number): void => {
    problems.push({ code, path: TAG.ledger, message, ...(seq === undefined ? {} : { seq }) });
  };
  if (text !== '' && !text.endsWith('\n')) p('EXCERPT_TRUNCATED', `${TAG.ledger} does not end with a newline: its last line may be cut`);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let last: LedgerEntry | null = null;
  for (const [i, line] of lines.entries()) {
    const where = `${TAG.ledger} line ${i + 1}`;
    let e: LedgerEntry;
    try {
      e = JSON.parse(line) as LedgerEntry;
    } catch {
      p('EXCERPT_BAD_ENTRY', `${where} is not JSON`);
      continue;
    }
    if (e === null || typeof e !== 'object' || Array.isArray(e) || Object.keys(e).sort().join(',') !== FIELDS) {
      p('EXCERPT_BAD_ENTRY', `${where} is not a ledger entry (exactly ${FIELDS})`);
      continue;
    }
    if (!Number.isSafeInteger(e.seq) || e.seq < 1 || typeof e.hash !== 'string' || !SHA256_HEX.test(e.hash)) {
      p('EXCERPT_BAD_ENTRY', `${where} has no valid seq or hash`);
      continue;
    }
    let canonical: string;
    let hash: string;
    try {
      canonical = canonicalJson(e);
      hash = entryHash(e);
    } catch (err) {
      p('EXCERPT_BAD_ENTRY', `${where}: ${errorMessage(err)}`, e.seq);
      continue;
    }
    if (canonical !== line) p('EXCERPT_NOT_CANONICAL', `${where} (seq ${e.seq}) is not byte for byte its canonical JSON (RFC 8785): it was re-encoded or changed`, e.seq);
    if (hash !== e.hash) p('LEDGER_HASH_MISMATCH', `entry ${e.seq}'s content does not match its hash: it was changed`, e.seq);
    if (last !== null) {
      if (e.seq <= last.seq) p('EXCERPT_ORDER', `${where}: seq ${e.seq} does not follow ${last.seq}`, e.seq);
      else if (e.seq === last.seq + 1 && e.prev !== last.hash) p('LEDGER_PREV_MISMATCH', `entry ${e.seq} does not link to entry ${last.seq}`, e.seq);
    }
    last = e;
    out.set(e.seq, { entry: e, line });
  }
  return out;
}

/** Verify an export copy (or any bag) in `dir`. Never throws for a bad copy. */
export async function verifyExport(dir: string, opts: VerifyExportOptions = {}): Promise<ExportReport> {
  const bag = await validateBag(dir, opts.onFile ? { onFile: opts.onFile } : {});
  const problems: ExportProblem[] = [...bag.problems];
  const { problems: _p, checksums, ok: _ok, ...bagSummary } = bag;
  const report: ExportReport = { ok: false, dir, bag: bagSummary, custody: null, problems };
  const finish = (): ExportReport => {
    report.ok = problems.length === 0;
    return report;
  };

  const manifestText = await readText(dir, TAG.export);
  if (manifestText === null) return finish();

  const ex: ExcerptReport = { exportId: null, caseNumber: null, caseName: null, copy: null, copies: null, items: 0, entries: 0, proven: 0, checkpoint: null };
  report.custody = ex;
  let manifest: ExportManifest;
  try {
    manifest = JSON.parse(manifestText) as ExportManifest;
    if (manifest.format !== EXPORT_FORMAT || !Array.isArray(manifest.items)) throw new Error(`not a ${EXPORT_FORMAT} document`);
  } catch (e) {
    problems.push({ code: 'EXPORT_MANIFEST_INVALID', path: TAG.export, message: `${TAG.export}: ${errorMessage(e)}` });
    return finish();
  }
  ex.exportId = manifest.exportId;
  ex.caseNumber = manifest.case.number;
  ex.caseName = manifest.case.name;
  ex.copy = manifest.copy;
  ex.copies = manifest.copies;
  ex.items = manifest.items.length;

  // Custody's tag files must be covered by the tag manifest, or a change to them would go unseen.
  const tagListed = new Set<string>();
  for (const m of bag.tagManifests) {
    const t = await readText(dir, `tagmanifest-${m}.txt`);
    for (const l of (t ?? '').split(/\r?\n/)) {
      const m2 = /^[0-9a-fA-F]+\s+(.+)$/.exec(l);
      if (m2) tagListed.add(m2[1]!.replace(/^\.\//, ''));
    }
  }
  for (const f of [TAG.export, TAG.ledger, TAG.checkpoint, TAG.proofs, TAG.verifierKey]) {
    const present = (await readText(dir, f)) !== null;
    if (present && !tagListed.has(f)) problems.push({ code: 'EXPORT_TAG_UNLISTED', path: f, message: `${f} is not in a tag manifest: its integrity cannot be checked` });
  }

  const ledgerText = await readText(dir, TAG.ledger);
  if (ledgerText === null) {
    problems.push({ code: 'EXCERPT_MISSING', path: TAG.ledger, message: `${TAG.ledger} is missing` });
    return finish();
  }
  const entries = checkLedgerLines(ledgerText, problems);
  ex.entries = entries.size;

  // Every item: in the payload with that sha256, recorded by its evidence.ingested entry.
  const sha256 = checksums.sha256 ?? new Map<string, string>();
  const itemPaths = new Set<string>();
  for (const item of manifest.items) {
    itemPaths.add(item.path);
    const listed = sha256.get(item.path);
    if (listed === undefined) problems.push({ code: 'EXPORT_ITEM_MISSING', path: item.path, message: `${item.path} (evidence ${item.evidenceId}) is not in manifest-sha256.txt` });
    else if (listed !== item.sha256) problems.push({ code: 'EXPORT_ITEM_MISMATCH', path: item.path, message: `${item.path}: manifest-sha256.txt says ${listed}, ${TAG.export} says ${item.sha256}` });
    const ing = entries.get(item.ingestSeq)?.entry;
    const data = ing?.data ?? {};
    if (!ing || ing.type !== 'evidence.ingested' || ing.subject !== item.evidenceId) {
      problems.push({ code: 'EXCERPT_ITEM_UNRECORDED', path: item.path, seq: item.ingestSeq, message: `${item.path}: entry ${item.ingestSeq} in the excerpt is not the evidence.ingested of ${item.evidenceId}` });
    } else if (data.sha256 !== item.sha256 || data.size !== item.size) {
      problems.push({ code: 'EXCERPT_ITEM_MISMATCH', path: item.path, seq: item.ingestSeq, message: `${item.path}: the ledger recorded sha256 ${String(data.sha256)} and ${String(data.size)} bytes, the copy has ${item.sha256} and ${item.size}` });
    }
  }
  for (const p of sha256.keys()) {
    if (!itemPaths.has(p)) problems.push({ code: 'EXPORT_ITEM_UNKNOWN', path: p, message: `${p} is in the payload but not among the export's items` });
  }

  // The checkpoint and the inclusion proofs.
  const note = await readText(dir, TAG.checkpoint);
  if (note === null) {
    // Asked to check the signature, the caller must not be told "valid" about a copy that has none.
    if (opts.verifierKey !== undefined) problems.push({ code: 'CHECKPOINT_MISSING', path: TAG.checkpoint, message: 'a key was given but the copy has no signed checkpoint to check it against' });
    return finish();
  }
  let verifier: NoteVerifier;
  let keySource: 'given' | 'bag' = 'given';
  try {
    if (opts.verifierKey !== undefined) verifier = parseVerifierKey(opts.verifierKey.trim());
    else {
      keySource = 'bag';
      const k = await readText(dir, TAG.verifierKey);
      if (k === null) throw new Error(`no verifier key given and ${TAG.verifierKey} is missing`);
      verifier = parseVerifierKey(k.trim());
    }
  } catch (e) {
    problems.push({ code: 'CHECKPOINT_KEY_INVALID', path: TAG.verifierKey, message: `cannot use the checkpoint key: ${errorMessage(e)}` });
    return finish();
  }
  let cp: SignedCheckpoint;
  try {
    cp = openCheckpoint(note, { verifiers: [verifier] });
  } catch (e) {
    problems.push({ code: 'CHECKPOINT_INVALID', path: TAG.checkpoint, message: `the checkpoint does not verify: ${errorMessage(e)}` });
    return finish();
  }
  ex.checkpoint = { origin: cp.origin, size: cp.size, root: cp.root.toString('base64'), key: keySource };

  let proofs: ExportProofs;
  try {
    const t = await readText(dir, TAG.proofs);
    if (t === null) throw new Error('missing');
    proofs = JSON.parse(t) as ExportProofs;
    if (proofs.format !== PROOFS_FORMAT || typeof proofs.proofs !== 'object' || proofs.proofs === null) throw new Error(`not a ${PROOFS_FORMAT} document`);
  } catch (e) {
    problems.push({ code: 'PROOFS_INVALID', path: TAG.proofs, message: `${TAG.proofs}: ${errorMessage(e)}` });
    return finish();
  }
  if (proofs.treeSize !== cp.size || proofs.rootHash !== ex.checkpoint.root) {
    problems.push({ code: 'PROOFS_INVALID', path: TAG.proofs, message: `${TAG.proofs} is for a tree of ${proofs.treeSize} entries, the checkpoint for ${cp.size}` });
  }
  for (const [seq, { line }] of entries) {
    if (seq > cp.size) {
      problems.push({ code: 'EXCERPT_NOT_COVERED', path: TAG.ledger, seq, message: `entry ${seq} is newer than the included checkpoint (${cp.size} entries)` });
      continue;
    }
    const path = proofs.proofs[String(seq)];
    if (!Array.isArray(path)) {
      problems.push({ code: 'PROOF_MISSING', path: TAG.proofs, seq, message: `no inclusion proof for entry ${seq}` });
      continue;
    }
    try {
      verifyInclusion(seq - 1, cp.size, leafHash(line), path.map((h) => Buffer.from(String(h), 'base64')), cp.root);
      ex.proven++;
    } catch (e) {
      problems.push({ code: 'PROOF_INVALID', path: TAG.proofs, seq, message: `entry ${seq} is not in the checkpoint's tree: ${errorMessage(e)}` });
    }
  }
  return finish();
}
