#!/usr/bin/env node
// Check a custody ledger export (or a sealed segment object) without custody.
//
//   node verify-ledger-export.mjs <export.jsonl> [--prev <hash>] [--head <hash>]
//
// Needs Node.js 18+ and one package, the RFC 8785 (JCS) canonicaliser the ledger
// format is defined with: `npm install canonicalize@2.1.0` next to this script (in
// the custody source tree it is already installed). Nothing else from custody is
// used, so this checks custody rather than trusting it. docs/ledger.md describes
// the format this follows.
//
// For every line it checks that the line is an object with exactly the fields seq,
// time, type, actor, subject, data, prev, hash; that the line is byte for byte the
// canonical JSON of that object; that hash is the SHA-256 of the canonical JSON of
// the object without hash; that seq goes up by one; and that prev is the hash of
// the line before. The first line's prev must be 64 zeros when its seq is 1, or
// equal --prev when given. --head checks the last line's hash against one obtained
// elsewhere (e.g. printed by `custody ledger export --out` or published).
//
// Exit status: 0 the export verifies, 1 it does not (the first bad line is named),
// 2 usage or unreadable file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import canonicalize from 'canonicalize';

const FIELDS = ['actor', 'data', 'hash', 'prev', 'seq', 'subject', 'time', 'type'];
const GENESIS_PREV = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

function usage(message) {
  process.stderr.write(`${message}\nusage: node verify-ledger-export.mjs <export.jsonl> [--prev <hash>] [--head <hash>]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { file: null, prev: null, head: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--prev' || a === '--head') {
      const v = argv[++i];
      if (!v || !HEX64.test(v)) usage(`${a} needs a 64-digit lowercase hex hash`);
      opts[a.slice(2)] = v;
    } else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (opts.file === null) opts.file = a;
    else usage('only one file');
  }
  if (opts.file === null) usage('no file given');
  return opts;
}

function sha256(text) {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Lines of a file, split on "\n" only; the last is flagged when no newline ends it. */
async function* lines(file) {
  let carry = '';
  // A multi-byte character split across chunks is kept whole by the utf8 decoder.
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop();
    for (const p of parts) yield { text: p, terminated: true };
  }
  if (carry !== '') yield { text: carry, terminated: false };
}

/** What is wrong with one line, or null. Updates state on success. */
function checkLine(text, state) {
  let e;
  try {
    e = JSON.parse(text);
  } catch (err) {
    return `not JSON (${err.message})`;
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'not a JSON object';
  const keys = Object.keys(e).sort().join(',');
  if (keys !== FIELDS.join(',')) return `fields are ${keys}, expected exactly ${FIELDS.join(',')}`;
  if (!Number.isSafeInteger(e.seq) || e.seq < 1) return 'seq is not a positive integer';
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) return 'hash is not 64 lowercase hex digits';
  if (typeof e.prev !== 'string' || !HEX64.test(e.prev)) return 'prev is not 64 lowercase hex digits';
  if (canonicalize(e) !== text) return 'the line is not the canonical (RFC 8785) form of its entry';

  const { hash, ...unhashed } = e;
  const recomputed = sha256(canonicalize(unhashed));
  if (recomputed !== hash) return `hash ${hash} does not match the entry, which hashes to ${recomputed}`;

  if (state.lastSeq === null) {
    if (e.seq === 1 && e.prev !== GENESIS_PREV) return 'seq 1 must have prev of 64 zeros';
    if (state.anchor !== null && e.prev !== state.anchor) return `prev ${e.prev} is not the --prev given (${state.anchor})`;
    state.firstSeq = e.seq;
  } else {
    if (e.seq !== state.lastSeq + 1) return `seq ${e.seq} follows ${state.lastSeq} (entries ${state.lastSeq + 1}..${e.seq - 1} are missing or out of order)`;
    if (e.prev !== state.lastHash) return `prev ${e.prev} is not the hash of entry ${state.lastSeq} (${state.lastHash})`;
  }
  state.lastSeq = e.seq;
  state.lastHash = hash;
  return null;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const state = { anchor: opts.prev, firstSeq: null, lastSeq: null, lastHash: null };
  let lineNo = 0;
  try {
    for await (const line of lines(opts.file)) {
      lineNo++;
      const seqHint = state.lastSeq === null ? '' : ` (expected seq ${state.lastSeq + 1})`;
      const problem = line.terminated ? checkLine(line.text, state) : 'the file ends without a newline (truncated?)';
      if (problem) {
        process.stdout.write(`FAIL line ${lineNo}${seqHint}: ${problem}\n`);
        return 1;
      }
    }
  } catch (err) {
    process.stderr.write(`cannot read ${opts.file}: ${err.message}\n`);
    return 2;
  }
  if (state.lastSeq === null) {
    process.stdout.write('FAIL: the export holds no entries\n');
    return 1;
  }
  if (opts.head !== null && state.lastHash !== opts.head) {
    process.stdout.write(`FAIL: the last entry (seq ${state.lastSeq}) hashes to ${state.lastHash}, not the --head given (${opts.head})\n`);
    return 1;
  }
  const anchored = state.firstSeq === 1 ? 'from the genesis' : opts.prev ? 'from the --prev given' : `from entry ${state.firstSeq}'s prev (not checked: pass --prev)`;
  process.stdout.write(`OK: ${lineNo} entries, seq ${state.firstSeq}..${state.lastSeq}, chained ${anchored}; last hash ${state.lastHash}\n`);
  return 0;
}

process.exitCode = await main();
