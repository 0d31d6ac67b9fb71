/**
 * The fault campaign's one invariants checker (issue 17), run after every fault.
 *
 * It reads the station as a restarted one would: the catalog file, the vault folder,
 * the recorders' own bytes, and `custody verify --deep`. Each broken invariant is named
 * with the file or entry it concerns, so a failed run can be replayed with its seed and
 * read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';

/** A recorder as the campaign wrote it: where its bytes live, and every media file's hash. */
export interface Card {
  serial: string;
  /** The folder holding the recorder's files (the card itself, not the throttled mount in front of it). */
  dir: string;
  /** Recorder path ('/'-separated) → sha256 of the bytes written. */
  files: Map<string, string>;
}

export class InvariantError extends Error {
  constructor(readonly problems: string[]) {
    super(`${problems.length} invariant(s) broken:\n  - ${problems.join('\n  - ')}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

export async function sha256File(path: string): Promise<string | null> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return h.digest('hex');
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

interface EvidenceRow {
  id: string;
  sha256: string;
  size: number;
  recorder_serial: string;
  source_path: string;
  wiped_at: string | null;
  status: string;
}

interface Entry {
  seq: number;
  type: string;
  subject: string | null;
  data: Record<string, unknown>;
}

export interface CheckOptions {
  /**
   * After the run that must finish the work: every file is in the vault, none is left
   * on its recorder when wiping, no wipe intent is open and no temp copy is left.
   */
  final: boolean;
  /** The station wipes (ingest --wipe, ingest.wipeAfterIngest). */
  wipe: boolean;
  /** The station's CUSTODY_* settings (an S3 vault), for `custody verify --deep`. */
  env?: Record<string, string>;
  /**
   * The content objects of a vault that is not on this file system (an S3 bucket): their
   * names, and each key under the object namespace that is not a whole content object.
   */
  objects?: () => Promise<{ names: Set<string>; problems: string[] }>;
}

export interface CheckResult {
  evidence: number;
  wiped: number;
  onRecorders: number;
  openIntents: number;
  /** Wipes recorded by a later session that found the file gone (`resumed`). */
  resumed: number;
}

/** Objects already hashed whole (name → size): each is read once per campaign, not once per check. */
const hashed = new Map<string, number>();

/** Check every invariant; throws an InvariantError naming each one broken. */
export async function checkInvariants(home: string, cards: Card[], o: CheckOptions): Promise<CheckResult> {
  const problems: string[] = [];
  const vault = join(home, 'vault');
  const objectsDir = join(vault, 'objects');

  // No partial object is visible: every object is named by the hash of its whole bytes.
  const objects = new Set<string>();
  if (o.objects) {
    const listed = await o.objects();
    for (const n of listed.names) objects.add(n);
    problems.push(...listed.problems);
  }
  for (const p of o.objects ? [] : await walk(objectsDir)) {
    const rel = relative(objectsDir, p).split('/');
    const name = rel[rel.length - 1]!;
    if (rel.length !== 4 || rel[0] !== 'sha256' || !HEX64.test(name) || rel[1] !== name.slice(0, 2) || rel[2] !== name.slice(2, 4)) {
      problems.push(`a file in the object namespace is not a content object: ${relative(vault, p)}`);
      continue;
    }
    const size = (await stat(p)).size;
    if (hashed.get(p) !== size) {
      const h = await sha256File(p);
      if (h !== name) problems.push(`object ${name} holds bytes hashing to ${h ?? 'nothing'} (partial or corrupt)`);
      else hashed.set(p, size);
    }
    objects.add(name);
  }

  const db = new Database(join(home, 'catalog.db'), { readonly: true, fileMustExist: true });
  let rows: EvidenceRow[];
  let entries: Entry[];
  try {
    db.pragma('busy_timeout = 10000');
    rows = db.prepare<[], EvidenceRow>('SELECT id, sha256, size, recorder_serial, source_path, wiped_at, status FROM evidence').all();
    entries = db
      .prepare<[], { seq: number; type: string; subject: string | null; data: string }>(
        "SELECT seq, type, subject, data FROM ledger WHERE type IN ('evidence.ingested', 'evidence.wipe-intended', 'evidence.wiped', 'evidence.wipe-abandoned', 'evidence.purged') ORDER BY seq",
      )
      .all()
      .map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    db.close();
  }

  // The catalog agrees with the ledger.
  const ingested = new Map<string, Entry>();
  const intents = new Map<string, Entry[]>();
  const wipes = new Map<string, Entry[]>();
  const purges = new Map<string, Entry[]>();
  const abandons = new Map<string, Entry[]>();
  for (const e of entries) {
    if (!e.subject) {
      problems.push(`ledger entry ${e.seq} (${e.type}) has no subject`);
      continue;
    }
    if (e.type === 'evidence.ingested') {
      if (ingested.has(e.subject)) problems.push(`evidence ${e.subject} is ingested twice in the ledger`);
      ingested.set(e.subject, e);
    } else {
      const to = e.type === 'evidence.wipe-intended' ? intents : e.type === 'evidence.wiped' ? wipes : e.type === 'evidence.purged' ? purges : e.type === 'evidence.wipe-abandoned' ? abandons : null;
      if (!to) continue;
      if (!ingested.has(e.subject)) problems.push(`${e.type} ${e.seq} for ${e.subject} comes before (or without) its evidence.ingested`);
      to.set(e.subject, [...(to.get(e.subject) ?? []), e]);
    }
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) {
    const e = ingested.get(r.id);
    if (!e) problems.push(`catalog row ${r.id} (${r.recorder_serial} ${r.source_path}) has no evidence.ingested entry`);
    else if (e.data.sha256 !== r.sha256 || e.data.size !== r.size) problems.push(`catalog row ${r.id} and its ledger entry disagree on sha256/size`);
    const w = wipes.get(r.id) ?? [];
    if (w.length > 1) problems.push(`evidence ${r.id} is wiped ${w.length} times in the ledger`);
    if ((r.wiped_at !== null) !== (w.length > 0)) problems.push(`evidence ${r.id}: catalog wiped_at ${r.wiped_at ?? 'null'} but ${w.length} evidence.wiped entries`);
    for (const x of w) {
      const intent = intents.get(r.id)?.[0];
      if (!intent || intent.seq > x.seq) problems.push(`evidence ${r.id} was wiped (entry ${x.seq}) with no intent committed before it`);
    }
    // A purge's objects are gone only with their entries: an item is marked purged with
    // its evidence.purged entry in one transaction, and its object deleted after.
    const p = purges.get(r.id) ?? [];
    if (p.length > 1) problems.push(`evidence ${r.id} is purged ${p.length} times in the ledger`);
    if ((r.status === 'purged') !== (p.length > 0)) problems.push(`evidence ${r.id}: catalog status ${r.status} but ${p.length} evidence.purged entries`);
    if (r.status !== 'purged' && !objects.has(r.sha256)) problems.push(`evidence ${r.id} (${r.source_path}) has no object ${r.sha256} in the vault`);
    if (r.status === 'purged' && o.final && objects.has(r.sha256) && !rows.some((x) => x.sha256 === r.sha256 && x.status !== 'purged')) {
      problems.push(`evidence ${r.id} is purged but its object ${r.sha256} is still in the vault after the run that should finish the work`);
    }
  }
  for (const id of ingested.keys()) if (!byId.has(id)) problems.push(`ledger entry evidence.ingested ${id} has no catalog row`);
  // Once per recorder: two recorders may hold the same bytes (a photo of a blank scene).
  const bySha = new Map<string, number>();
  for (const r of rows) bySha.set(`${r.recorder_serial} ${r.sha256}`, (bySha.get(`${r.recorder_serial} ${r.sha256}`) ?? 0) + 1);

  // Every source file's bytes are in the vault exactly once, or still on the recorder;
  // nothing left the recorder without a verified copy and a committed entry.
  let onRecorders = 0;
  let openIntents = 0;
  for (const card of cards) {
    for (const [path, sha] of card.files) {
      const mine = rows.filter((r) => r.recorder_serial === card.serial && r.source_path === path);
      if (mine.length > 1) problems.push(`${card.serial} ${path} is in the catalog ${mine.length} times`);
      const copies = bySha.get(`${card.serial} ${sha}`) ?? 0;
      if (copies > 1) problems.push(`the bytes of ${card.serial} ${path} are in the catalog ${copies} times`);
      const row = mine[0];
      if (row && row.sha256 !== sha) problems.push(`${card.serial} ${path} was recorded as ${row.sha256}, its bytes hash to ${sha}`);
      const there = await sha256File(join(card.dir, ...path.split('/')));
      if (there !== null) {
        onRecorders++;
        if (there !== sha) problems.push(`${card.serial} ${path} changed on the recorder: ${there}, written as ${sha}`);
        if (row?.wiped_at) problems.push(`${card.serial} ${path} is recorded as wiped but is still on the recorder`);
        if (o.final && o.wipe) problems.push(`${card.serial} ${path} is still on the recorder after the run that should finish the work`);
        continue;
      }
      if (!row) {
        problems.push(`${card.serial} ${path} left the recorder with no evidence committed`);
        continue;
      }
      const done = (wipes.get(row.id) ?? []).length > 0;
      // An intent is open when no evidence.wipe-abandoned came after its latest one.
      const lastIntent = (intents.get(row.id) ?? []).at(-1)?.seq ?? 0;
      const lastAbandon = (abandons.get(row.id) ?? []).at(-1)?.seq ?? 0;
      const intended = lastIntent > lastAbandon;
      if (!done && lastAbandon > 0 && !intended) problems.push(`${card.serial} ${path} left the recorder though its wipe intent was abandoned (the file was to stay)`);
      if (!done && !intended && lastAbandon === 0) problems.push(`${card.serial} ${path} left the recorder with no wipe entry or intent in the ledger`);
      if (!done && intended) {
        openIntents++;
        if (o.final) problems.push(`${card.serial} ${path}: its wipe intent is still open after the run that should finish the work`);
      }
    }
    if (o.final && !o.wipe) {
      for (const path of card.files.keys()) {
        if (!rows.some((r) => r.recorder_serial === card.serial && r.source_path === path)) problems.push(`${card.serial} ${path} is not in the vault after the run that should finish the work`);
      }
    }
  }
  if (o.final) {
    const tmp = await readdir(join(vault, '.tmp')).catch(() => []);
    if (tmp.length > 0) problems.push(`temp copies left in the vault after the finishing run: ${tmp.join(', ')}`);
  }

  // custody verify --deep passes.
  const v = await runCli(['verify', '--deep', '--json', '--home', home], o.env ?? {});
  let ok = false;
  try {
    ok = (JSON.parse(v.stdout) as { ok?: boolean }).ok === true;
  } catch {
    /* reported below */
  }
  if (v.code !== 0 || !ok) problems.push(`custody verify --deep failed (exit ${v.code}): ${v.stdout.slice(0, 600)} ${v.stderr.slice(0, 600)}`);

  if (problems.length > 0) throw new InvariantError(problems);
  const resumed = [...wipes.values()].flat().filter((e) => e.data.resumed === true).length;
  return { evidence: rows.length, wiped: rows.filter((r) => r.wiped_at !== null).length, onRecorders, openIntents, resumed };
}
