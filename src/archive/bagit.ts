import { createHash, getHashes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../core/index.js';

/**
 * Offline BagIt validation (RFC 8493, and the 0.9x drafts the Library of Congress
 * conformance suite still covers). It needs nothing but the bag: no catalog, no
 * network. Every problem is collected and named; a bag is valid when there is none.
 *
 * What "valid" means here is the RFC's: the bag is complete (every manifest lists
 * every payload file and every listed file is present) and every checksum of every
 * manifest and tag manifest matches. fetch.txt is checked for paths that leave the
 * payload, but nothing is fetched: a file still to be fetched is a missing file.
 */

export interface BagProblem {
  code: string;
  /** The file concerned, relative to the bag, with `/` separators. */
  path?: string;
  message: string;
}

export interface BagReport {
  ok: boolean;
  version: string | null;
  encoding: string | null;
  /** Payload files found under data/. */
  payloadFiles: number;
  payloadBytes: number;
  /** manifest algorithms (payload) and tagmanifest algorithms. */
  manifests: string[];
  tagManifests: string[];
  /** bag-info.txt as label → values, in order (labels as written). */
  info: Array<[string, string]>;
  /** Per manifest algorithm: path → expected checksum (lowercase hex). */
  checksums: Record<string, Map<string, string>>;
  problems: BagProblem[];
}

const SUPPORTED = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);
const MANIFEST_RE = /^manifest-([a-z0-9]+)\.txt$/;
const TAGMANIFEST_RE = /^tagmanifest-([a-z0-9]+)\.txt$/;
const DECLARATION_RE = [/^BagIt-Version: ([0-9]+\.[0-9]+)$/, /^Tag-File-Character-Encoding: (\S(?:.*\S)?)$/];
const LOOSE_DECLARATION_RE = [/^\s*BagIt-Version\s*:\s*(\S+)\s*$/i, /^\s*Tag-File-Character-Encoding\s*:\s*(\S+)\s*$/i];

/** Decode a tag file in the bag's declared encoding; throws on bytes the encoding cannot hold. */
export function decodeTagFile(bytes: Buffer, encoding: string): string {
  const enc = encoding.toLowerCase().replace(/_/g, '-');
  if (enc === 'utf-16' || enc === 'utf-16be' || enc === 'utf-16le') {
    // UTF-16 without a byte order label is big-endian unless a BOM says otherwise (RFC 2781).
    let le = enc === 'utf-16le';
    let body = bytes;
    if (bytes[0] === 0xfe && bytes[1] === 0xff) {
      le = false;
      body = bytes.subarray(2);
    } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
      le = true;
      body = bytes.subarray(2);
    }
    if (body.length % 2 !== 0) throw new Error('odd number of bytes for UTF-16');
    const units = le ? Buffer.from(body) : Buffer.from(body).swap16();
    return new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true }).decode(units);
  }
  const text = new TextDecoder(enc, { fatal: true }).decode(bytes);
  return text;
}

function lines(text: string): string[] {
  const out = text.split(/\r\n|\r|\n/);
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** RFC 8493 §2.1.3: in manifests, only CR, LF and % are percent-encoded (1.0 onwards). */
function decodeManifestPath(raw: string, version: string): string {
  if (!version.startsWith('0.')) return raw.replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%25/g, '%');
  return raw;
}

/** Why a path in a manifest or fetch.txt is unsafe (leaves the bag), or null. */
function unsafePath(p: string): string | null {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.startsWith('\\\\')) return 'is absolute';
  if (p.startsWith('~')) return 'starts with ~ (a home directory shortcut)';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.split('/').some((s) => s === '..')) return 'goes up with ..';
  if (p.includes('\0')) return 'contains a NUL character';
  return null;
}

function normalisePath(p: string): string {
  let q = p;
  while (q.startsWith('./')) q = q.slice(2);
  return q.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

export interface ParsedManifest {
  alg: string;
  file: string;
  entries: Map<string, string>;
}

/** All regular files under `dir`, as paths relative to `base`; anything else is a problem. */
async function walk(base: string, rel: string, problems: BagProblem[], out: Array<{ path: string; size: number }>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(join(base, rel))).sort();
  } catch (e) {
    problems.push({ code: 'BAG_UNREADABLE', path: rel, message: `cannot list ${rel}: ${errorMessage(e)}` });
    return;
  }
  for (const name of names) {
    const p = `${rel}/${name}`;
    const st = await lstat(join(base, p));
    if (st.isDirectory()) await walk(base, p, problems, out);
    else if (st.isFile()) out.push({ path: p, size: st.size });
    else problems.push({ code: 'PAYLOAD_NOT_A_FILE', path: p, message: `${p} is not a regular file (a link or a device)` });
  }
}

/** Hash a file once with several algorithms. */
async function hashFile(file: string, algs: readonly string[]): Promise<Map<string, string>> {
  const hashes: Array<[string, Hash]> = algs.map((a) => [a, createHash(a)]);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (const [, h] of hashes) h.update(chunk);
  }
  return new Map(hashes.map(([a, h]) => [a, h.digest('hex')]));
}

/** Read a bag's declaration (bagit.txt): exactly two lines, UTF-8, no BOM. */
function parseDeclaration(bytes: Buffer, problems: BagProblem[]): { version: string; encoding: string } | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    problems.push({ code: 'BAG_DECLARATION_INVALID', path: 'bagit.txt', message: 'bagit.txt is not UTF-8' });
    return null;
  }
  if (text.startsWith('\uFEFF')) {
    problems.push({ code: 'BAG_DECLARATION_INVALID', path: 'bagit.txt', message: 'bagit.txt starts with a byte order mark' });
    text = text.slice(1);
  }
  const ls = lines(text);
  const found: string[] = [];
  for (let i = 0; i < 2; i++) {
    const m = DECLARATION_RE[i]!.exec(ls[i] ?? '');
    if (!m) {
      const want = i === 0 ? '"BagIt-Version: M.N"' : '"Tag-File-Character-Encoding: ENCODING"';
      problems.push({ code: 'BAG_DECLARATION_INVALID', path: 'bagit.txt', message: `line ${i + 1} of bagit.txt is ${JSON.stringify(ls[i] ?? '')}, expected ${want}` });
      // Read on leniently, so the rest of the bag is still checked and reported.
      const loose = LOOSE_DECLARATION_RE[i]!.exec(ls[i] ?? '');
      if (!loose) return null;
      found.push(loose[1]!);
      continue;
    }
    found.push(m[1]!);
  }
  if (ls.slice(2).some((l) => l.trim() !== '')) {
    problems.push({ code: 'BAG_DECLARATION_INVALID', path: 'bagit.txt', message: 'bagit.txt has more than the two declaration lines' });
  }
  return { version: found[0]!, encoding: found[1]! };
}

/** Parse bag-info.txt into label/value pairs (continuation lines begin with whitespace). */
function parseBagInfo(text: string, problems: BagProblem[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [i, line] of lines(text).entries()) {
    if (line.trim() === '') continue;
    if (/^[ \t]/.test(line)) {
      const last = out[out.length - 1];
      if (!last) {
        problems.push({ code: 'BAG_INFO_INVALID', path: 'bag-info.txt', message: `line ${i + 1} continues nothing` });
        continue;
      }
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const m = /^([^:\s](?:[^:]*[^:\s])?)\s*:\s*(.*)$/.exec(line);
    if (!m) {
      problems.push({ code: 'BAG_INFO_INVALID', path: 'bag-info.txt', message: `line ${i + 1} is not "Label: value"` });
      continue;
    }
    out.push([m[1]!, m[2]!.trim()]);
  }
  return out;
}

export interface ValidateBagOptions {
  /** Called after each payload file is hashed (for progress). */
  onFile?: (path: string, bytes: number) => void;
}

/**
 * Validate the bag in `dir`. Never throws for a bad bag: problems are returned.
 * The checks run in order, each its own function below: the declaration (without
 * which nothing else can be read), the payload, the manifests, completeness, the
 * payload and tag checksums, bag-info.txt's Payload-Oxum, and fetch.txt's paths.
 */
export async function validateBag(dir: string, opts: ValidateBagOptions = {}): Promise<BagReport> {
  const problems: BagProblem[] = [];
  const report: BagReport = { ok: false, version: null, encoding: null, payloadFiles: 0, payloadBytes: 0, manifests: [], tagManifests: [], info: [], checksums: {}, problems };
  const done = (): BagReport => {
    report.ok = problems.length === 0;
    return report;
  };

  let top: string[];
  try {
    top = (await readdir(dir)).sort();
  } catch (e) {
    problems.push({ code: 'BAG_UNREADABLE', message: `cannot read ${dir}: ${errorMessage(e)}` });
    return done();
  }

  const decl = await readDeclaration(dir, problems);
  if (!decl) return done();
  report.version = decl.version;
  report.encoding = decl.encoding;
  if (!encodingSupported(decl.encoding, problems)) return done();
  const readTag = tagReader(dir, decl.encoding, problems);

  const payload = await listPayload(dir, problems);
  report.payloadFiles = payload.length;
  report.payloadBytes = payload.reduce((s, f) => s + f.size, 0);

  const { manifests, tagManifests } = await readManifests(top, decl.version, readTag, problems);
  report.manifests = manifests.names;
  report.tagManifests = tagManifests.names;
  if (report.manifests.length === 0) problems.push({ code: 'BAG_MANIFEST_MISSING', message: 'no payload manifest (manifest-<algorithm>.txt)' });
  for (const m of manifests.parsed) report.checksums[m.alg] = m.entries;

  checkCompleteness(manifests.parsed, payload, problems);
  await checkPayloadChecksums(dir, payload, manifests.parsed, problems, opts.onFile);
  await checkTagManifests(dir, tagManifests.parsed, problems);

  // bag-info.txt (optional) and its Payload-Oxum.
  if (top.includes('bag-info.txt')) {
    const text = await readTag('bag-info.txt');
    if (text !== null) report.info = parseBagInfo(text, problems);
    checkPayloadOxum(report.info, { bytes: report.payloadBytes, files: report.payloadFiles }, problems);
  }

  // fetch.txt: nothing is fetched, but its paths must stay in the payload.
  if (top.includes('fetch.txt')) {
    const text = await readTag('fetch.txt');
    if (text !== null) checkFetch(text, decl.version, problems);
  }
  return done();
}

/** bagit.txt, read and parsed; null (with the problem) when it is missing or unreadable as a declaration. */
export async function readDeclaration(dir: string, problems: BagProblem[]): Promise<{ version: string; encoding: string } | null> {
  let declBytes: Buffer;
  try {
    declBytes = await readFile(join(dir, 'bagit.txt'));
  } catch {
    problems.push({ code: 'BAG_DECLARATION_MISSING', path: 'bagit.txt', message: 'bagit.txt is missing: this is not a bag' });
    return null;
  }
  return parseDeclaration(declBytes, problems);
}

/** Whether tag files in `encoding` can be decoded here; false (with the problem) when not. */
export function encodingSupported(encoding: string, problems: BagProblem[]): boolean {
  try {
    new TextDecoder(encoding.toLowerCase().startsWith('utf-16') ? 'utf-16le' : encoding);
    return true;
  } catch {
    problems.push({ code: 'BAG_ENCODING_UNSUPPORTED', path: 'bagit.txt', message: `tag file encoding ${encoding} is not supported` });
    return false;
  }
}

/** A reader of the bag's tag files in its declared encoding: the text, or null with the problem. */
function tagReader(dir: string, encoding: string, problems: BagProblem[]): (name: string) => Promise<string | null> {
  return async (name) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name));
    } catch (e) {
      problems.push({ code: 'TAG_FILE_UNREADABLE', path: name, message: `cannot read ${name}: ${errorMessage(e)}` });
      return null;
    }
    try {
      return decodeTagFile(bytes, encoding);
    } catch {
      problems.push({ code: 'TAG_FILE_ENCODING', path: name, message: `${name} is not valid ${encoding}` });
      return null;
    }
  };
}

/** The payload files under data/ (a missing data/ is a problem). */
async function listPayload(dir: string, problems: BagProblem[]): Promise<Array<{ path: string; size: number }>> {
  const dataStat = await lstat(join(dir, 'data')).catch(() => null);
  const payload: Array<{ path: string; size: number }> = [];
  if (!dataStat?.isDirectory()) problems.push({ code: 'BAG_PAYLOAD_MISSING', path: 'data', message: 'the payload directory data/ is missing' });
  else await walk(dir, 'data', problems, payload);
  return payload;
}

/** The payload manifests and tag manifests at the top of the bag, by name order; each parsed when its algorithm can be checked. */
async function readManifests(
  top: readonly string[],
  version: string,
  readTag: (name: string) => Promise<string | null>,
  problems: BagProblem[],
): Promise<{ manifests: { names: string[]; parsed: ParsedManifest[] }; tagManifests: { names: string[]; parsed: ParsedManifest[] } }> {
  const manifests = { names: [] as string[], parsed: [] as ParsedManifest[] };
  const tagManifests = { names: [] as string[], parsed: [] as ParsedManifest[] };
  for (const name of top) {
    const pm = MANIFEST_RE.exec(name);
    const tm = TAGMANIFEST_RE.exec(name);
    const into = pm ? manifests : tm ? tagManifests : null;
    const alg = (pm ?? tm)?.[1];
    if (!into || alg === undefined) continue;
    into.names.push(alg);
    if (!algorithmSupported(name, alg, problems)) continue;
    const text = await readTag(name);
    if (text === null) continue;
    into.parsed.push({ alg, file: name, entries: parseManifest(name, alg, text, { version, tag: into === tagManifests }, problems) });
  }
  return { manifests, tagManifests };
}

/** Whether a manifest's checksum algorithm can be checked; false (with the problem) when not. */
export function algorithmSupported(file: string, alg: string, problems: BagProblem[]): boolean {
  if (SUPPORTED.has(alg) && getHashes().includes(alg)) return true;
  problems.push({ code: 'MANIFEST_ALGORITHM_UNSUPPORTED', path: file, message: `${file}: checksum algorithm ${alg} is not supported, so it cannot be checked` });
  return false;
}

/**
 * A manifest's lines as path → checksum (lowercase hex). A line that is not
 * "<checksum> <path>", a path that leaves the bag, a payload manifest's path outside
 * data/, a tag manifest's path to the payload or to a tag manifest, and a path listed
 * twice are problems, and the line is left out.
 */
export function parseManifest(file: string, alg: string, text: string, how: { version: string; tag: boolean }, problems: BagProblem[]): Map<string, string> {
  const entries = new Map<string, string>();
  const hexLen = createHash(alg).digest('hex').length;
  for (const [i, line] of lines(text).entries()) {
    if (line.trim() === '') continue;
    const m = /^\s*([0-9A-Fa-f]+)[ \t]+(.+)$/.exec(line);
    if (!m || m[1]!.length !== hexLen) {
      problems.push({ code: 'MANIFEST_LINE_INVALID', path: file, message: `${file} line ${i + 1} is not "<${alg} checksum> <path>"` });
      continue;
    }
    const raw = decodeManifestPath(m[2]!, how.version);
    const why = unsafePath(raw);
    if (why) {
      problems.push({ code: 'MANIFEST_PATH_UNSAFE', path: file, message: `${file} line ${i + 1}: path ${JSON.stringify(raw)} ${why}` });
      continue;
    }
    const p = normalisePath(raw);
    if (!how.tag && !p.startsWith('data/')) {
      problems.push({ code: 'MANIFEST_PATH_OUTSIDE_PAYLOAD', path: file, message: `${file} line ${i + 1}: ${JSON.stringify(p)} is not in data/` });
      continue;
    }
    if (how.tag && (p.startsWith('data/') || TAGMANIFEST_RE.test(p))) {
      problems.push({ code: 'MANIFEST_PATH_NOT_TAG_FILE', path: file, message: `${file} line ${i + 1}: ${JSON.stringify(p)} is not a tag file a tag manifest may list` });
      continue;
    }
    if (entries.has(p)) {
      problems.push({ code: 'MANIFEST_DUPLICATE', path: file, message: `${file} lists ${p} more than once` });
      continue;
    }
    entries.set(p, m[1]!.toLowerCase());
  }
  return entries;
}

/** Completeness: every payload file in every manifest, every listed file present. */
export function checkCompleteness(manifests: readonly ParsedManifest[], payload: readonly { path: string }[], problems: BagProblem[]): void {
  const payloadSet = new Set(payload.map((f) => f.path));
  for (const m of manifests) {
    for (const f of payload) {
      if (!m.entries.has(f.path)) problems.push({ code: 'PAYLOAD_NOT_IN_MANIFEST', path: f.path, message: `${f.path} is in the payload but not in ${m.file}` });
    }
    for (const p of m.entries.keys()) {
      if (!payloadSet.has(p)) problems.push({ code: 'PAYLOAD_MISSING', path: p, message: `${p} is listed in ${m.file} but is not in the bag` });
    }
  }
}

/** Every payload checksum of every manifest, each file read once for all algorithms. */
async function checkPayloadChecksums(
  dir: string,
  payload: readonly { path: string; size: number }[],
  manifests: readonly ParsedManifest[],
  problems: BagProblem[],
  onFile: ValidateBagOptions['onFile'],
): Promise<void> {
  const payloadAlgs = [...new Set(manifests.map((m) => m.alg))];
  for (const f of payload) {
    const listed = manifests.filter((m) => m.entries.has(f.path));
    if (listed.length === 0) continue;
    let actual: Map<string, string>;
    try {
      actual = await hashFile(join(dir, f.path), payloadAlgs);
    } catch (e) {
      problems.push({ code: 'PAYLOAD_UNREADABLE', path: f.path, message: `cannot read ${f.path}: ${errorMessage(e)}` });
      continue;
    }
    for (const m of listed) {
      if (actual.get(m.alg) !== m.entries.get(f.path)) {
        problems.push({ code: 'PAYLOAD_CHECKSUM_MISMATCH', path: f.path, message: `${f.path}: ${m.alg} is ${actual.get(m.alg)}, ${m.file} says ${m.entries.get(f.path)}` });
      }
    }
    onFile?.(f.path, f.size);
  }
}

/** Tag manifests: every listed tag file present, a regular file, with its checksum. */
async function checkTagManifests(dir: string, tagManifests: readonly ParsedManifest[], problems: BagProblem[]): Promise<void> {
  for (const m of tagManifests) {
    for (const [p, want] of m.entries) {
      let got: string;
      try {
        const st = await lstat(join(dir, p));
        if (!st.isFile()) throw new Error('not a regular file');
        got = (await hashFile(join(dir, p), [m.alg])).get(m.alg)!;
      } catch (e) {
        problems.push({ code: 'TAG_FILE_MISSING', path: p, message: `${p} is listed in ${m.file} but cannot be read: ${errorMessage(e)}` });
        continue;
      }
      if (got !== want) problems.push({ code: 'TAG_CHECKSUM_MISMATCH', path: p, message: `${p}: ${m.alg} is ${got}, ${m.file} says ${want}` });
    }
  }
}

/** bag-info.txt's Payload-Oxum, when given (once), is "octets.files" and equals the payload. */
export function checkPayloadOxum(info: ReadonlyArray<readonly [string, string]>, payload: { bytes: number; files: number }, problems: BagProblem[]): void {
  const oxum = info.filter(([k]) => k.toLowerCase() === 'payload-oxum');
  if (oxum.length > 1) problems.push({ code: 'BAG_INFO_INVALID', path: 'bag-info.txt', message: 'Payload-Oxum appears more than once' });
  if (oxum.length !== 1) return;
  const m = /^([0-9]+)\.([0-9]+)$/.exec(oxum[0]![1]);
  if (!m) problems.push({ code: 'BAG_INFO_INVALID', path: 'bag-info.txt', message: `Payload-Oxum ${JSON.stringify(oxum[0]![1])} is not "octets.files"` });
  else if (Number(m[1]) !== payload.bytes || Number(m[2]) !== payload.files) {
    problems.push({
      code: 'PAYLOAD_OXUM_MISMATCH',
      path: 'bag-info.txt',
      message: `Payload-Oxum says ${m[1]} bytes in ${m[2]} files; the payload has ${payload.bytes} bytes in ${payload.files} files`,
    });
  }
}

/** fetch.txt: each line "<url> <length> <path>", each path inside data/. Nothing is fetched. */
export function checkFetch(text: string, version: string, problems: BagProblem[]): void {
  for (const [i, line] of lines(text).entries()) {
    if (line.trim() === '') continue;
    const m = /^(\S+)[ \t]+(-|[0-9]+)[ \t]+(.+)$/.exec(line);
    if (!m) {
      problems.push({ code: 'FETCH_LINE_INVALID', path: 'fetch.txt', message: `fetch.txt line ${i + 1} is not "<url> <length> <path>"` });
      continue;
    }
    const raw = decodeManifestPath(m[3]!, version);
    const why = unsafePath(raw);
    const p = normalisePath(raw);
    if (why || !p.startsWith('data/')) {
      problems.push({ code: 'FETCH_PATH_UNSAFE', path: 'fetch.txt', message: `fetch.txt line ${i + 1}: path ${JSON.stringify(raw)} ${why ?? 'is not in data/'}` });
    }
  }
}
