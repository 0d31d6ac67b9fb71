#!/usr/bin/env node
// Check custody's signed checkpoints and Merkle proofs without custody.
//
//   node verify-proof.mjs --key KEY checkpoint <file.checkpoint>
//   node verify-proof.mjs --key KEY inclusion <proof.json>       (custody ledger proof)
//   node verify-proof.mjs --key KEY consistency <proof.json>     (custody ledger consistency --json: .bundle)
//   node verify-proof.mjs --key KEY root <export.jsonl> <file.checkpoint>
//
// KEY is the station's checkpoint key as the auditor holds it independently: its
// verifier key string (custody ledger checkpoint --verifier-key, "name+id+base64"),
// or its Ed25519 public key PEM file (keys/station.ed25519.pub.pem), which is then
// trusted under the origin the checkpoint names.
//
// Needs Node.js 18+ and nothing else: node:crypto only. docs/proofs.md defines the
// formats: C2SP signed notes and tlog checkpoints, RFC 9162 Merkle trees whose leaves
// are the lines of `custody ledger export`, and the JSON proofs custody prints.
//
// - checkpoint: the signature by KEY, and the note's form.
// - inclusion: the checkpoint as above; the leaf hash is SHA-256(0x00 || line); the
//   path leads from it to the signed root (RFC 9162 §2.1.3.2).
// - consistency: both checkpoints; the proof shows the older tree is a prefix of the
//   newer (RFC 9162 §2.1.4.2).
// - root: the Merkle root of the export's first <size> lines equals the signed root,
//   i.e. the export is exactly the history the checkpoint signed.
//
// Exit status: 0 verified, 1 not verified (the reason is printed), 2 usage or
// unreadable input.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';

class Fail extends Error {}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node verify-proof.mjs --key KEY checkpoint FILE | inclusion PROOF.json | consistency PROOF.json | root EXPORT.jsonl FILE\n`,
  );
  process.exit(2);
}

function read(file) {
  try {
    return readFileSync(file);
  } catch (e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
}

// --- hashing (RFC 6962 §2.1) ------------------------------------------------

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafHash = (data) => sha256(Buffer.from([0]), data);
const nodeHash = (l, r) => sha256(Buffer.from([1]), l, r);

// --- keys and signed notes (c2sp.org/signed-note) ---------------------------

function keyId(name, pub) {
  return sha256(Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x01]), pub).subarray(0, 4);
}

function strictBase64(s, what) {
  const b = Buffer.from(s, 'base64');
  if (s.length === 0 || b.toString('base64') !== s) throw new Fail(`${what} is not standard base64`);
  return b;
}

/** The trusted key: { name | null, pub }. */
function loadKey(spec) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(spec.trim());
  if (m) {
    const raw = Buffer.from(m[3], 'base64');
    if (raw.length !== 33 || raw[0] !== 1) usage('the verifier key is not an Ed25519 key');
    const pub = raw.subarray(1);
    if (keyId(m[1], pub).toString('hex') !== m[2]) usage('the verifier key ID does not match its name and key');
    return { name: m[1], pub };
  }
  let key;
  try {
    key = createPublicKey(read(spec));
  } catch (e) {
    usage(`${spec} is neither a verifier key nor a public key PEM file: ${e.message}`);
  }
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519') usage(`${spec} is not an Ed25519 key`);
  return { name: null, pub: Buffer.from(jwk.x, 'base64url') };
}

/** Verify a signed note by the trusted key; returns its text. */
function openNote(note, key) {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new Fail('the note holds a control character');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Fail('not a signed note (no blank line before the signatures)');
  const text = note.slice(0, split + 1);
  const name = key.name ?? text.slice(0, text.indexOf('\n'));
  const id = keyId(name, key.pub);
  const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.pub.toString('base64url') }, format: 'jwk' });
  let verified = false;
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) throw new Fail(`not a signature line: ${JSON.stringify(line.slice(0, 80))}`);
    const raw = strictBase64(m[2], 'a signature');
    if (m[1] !== name || raw.length < 5 || !raw.subarray(0, 4).equals(id)) continue; // another key: ignored
    if (!verify(null, Buffer.from(text, 'utf8'), pub, raw.subarray(4))) throw new Fail(`the signature by ${name} does not verify: the note was altered or forged`);
    verified = true;
  }
  if (!verified) throw new Fail(`the note is not signed by the trusted key (${name}+${id.toString('hex')})`);
  return text;
}

/** A verified checkpoint: { origin, size (BigInt), root }. */
function openCheckpoint(note, key) {
  const text = openNote(note, key);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== 3) throw new Fail('a custody checkpoint has exactly an origin, a size and a root line');
  const [origin, size, root] = lines;
  if (key.name !== null && origin !== key.name) throw new Fail(`the checkpoint is for ${origin}, not ${key.name}`);
  if (!/^(0|[1-9][0-9]*)$/.test(size)) throw new Fail('bad tree size line');
  const r = strictBase64(root, 'the root hash');
  if (r.length !== 32) throw new Fail('the root hash is not 32 bytes');
  return { origin, size: BigInt(size), root: r };
}

// --- proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------

function hashes(list, what) {
  if (!Array.isArray(list)) throw new Fail(`${what} is not a list`);
  return list.map((h, i) => {
    const b = strictBase64(h, `${what}[${i}]`);
    if (b.length !== 32) throw new Fail(`${what}[${i}] is not 32 bytes`);
    return b;
  });
}

function verifyInclusion(index, size, leaf, proof, root) {
  if (index >= size) throw new Fail(`leaf ${index} is not in a tree of ${size}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Fail('the inclusion proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Fail('the inclusion proof is too short');
  if (!r.equals(root)) throw new Fail('the inclusion proof does not lead to the signed root');
}

function verifyConsistency(first, second, proof, root1, root2) {
  if (first === 0n || second < first) throw new Fail(`no consistency proof from ${first} to ${second} entries`);
  if (first === second) {
    if (proof.length !== 0 || !root1.equals(root2)) throw new Fail('equal sizes need equal roots and an empty proof');
    return;
  }
  if (proof.length === 0) throw new Fail('the consistency proof is empty');
  const path = (first & (first - 1n)) === 0n ? [root1, ...proof] : proof;
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Fail('the consistency proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Fail('the consistency proof is too short');
  if (!fr.equals(root1)) throw new Fail(`the older tree (${first} entries) is not a prefix of the newer: history was rewritten`);
  if (!sr.equals(root2)) throw new Fail(`the proof does not lead to the newer root (${second} entries)`);
}

// --- commands -----------------------------------------------------------------

function json(file) {
  try {
    return JSON.parse(read(file).toString('utf8'));
  } catch (e) {
    usage(`${file} is not JSON: ${e.message}`);
  }
}

function inclusion(key, file) {
  const b = json(file);
  if (b.format !== 'custody-inclusion-proof/v1') throw new Fail('not a custody-inclusion-proof/v1 document');
  if (typeof b.checkpoint !== 'string') throw new Fail('the proof carries no signed checkpoint');
  const cp = openCheckpoint(b.checkpoint, key);
  if (BigInt(b.treeSize) !== cp.size) throw new Fail('the checkpoint is not for the proof\'s tree size');
  const leaf = leafHash(Buffer.from(b.line, 'utf8'));
  if (leaf.toString('base64') !== b.leafHash) throw new Fail('the leaf hash is not the hash of the line');
  const entry = JSON.parse(b.line);
  if (entry.seq !== b.seq) throw new Fail(`the line is entry ${entry.seq}, the proof says ${b.seq}`);
  verifyInclusion(BigInt(b.seq) - 1n, cp.size, leaf, hashes(b.proof, 'proof'), cp.root);
  return `entry ${b.seq} (${entry.type}, ${entry.subject ?? 'no subject'}, hash ${entry.hash}) is in the tree of ${cp.size} entries signed by ${cp.origin}`;
}

function consistency(key, file) {
  let b = json(file);
  if (b && b.bundle !== undefined) {
    // The --json output of custody ledger consistency.
    if (b.bundle === null) throw new Fail('this consistency output carries no proof between two signed checkpoints (no later checkpoint covered the saved one)');
    b = b.bundle;
  }
  if (!b || b.format !== 'custody-consistency-proof/v1') throw new Fail('not a custody-consistency-proof/v1 document');
  if (typeof b.checkpoint1 !== 'string' || typeof b.checkpoint2 !== 'string') throw new Fail('the proof lacks a signed checkpoint');
  const from = openCheckpoint(b.checkpoint1, key);
  const to = openCheckpoint(b.checkpoint2, key);
  verifyConsistency(from.size, to.size, hashes(b.proof, 'proof'), from.root, to.root);
  return `the tree of ${to.size} entries extends the tree of ${from.size} entries (${from.origin})`;
}

async function root(key, exportFile, checkpointFile) {
  const cp = openCheckpoint(read(checkpointFile).toString('utf8'), key);
  // The root, leaf by leaf, keeping only the right edge of the tree (one hash per level).
  const stack = [];
  let n = 0n;
  let carry = '';
  const add = (line) => {
    if (n === cp.size) return;
    let h = { level: 0, hash: leafHash(Buffer.from(line, 'utf8')) };
    while (stack.length > 0 && stack[stack.length - 1].level === h.level) {
      const left = stack.pop();
      h = { level: h.level + 1, hash: nodeHash(left.hash, h.hash) };
    }
    stack.push(h);
    n++;
  };
  try {
    for await (const chunk of createReadStream(exportFile, { encoding: 'utf8' })) {
      const parts = (carry + chunk).split('\n');
      carry = parts.pop();
      for (const p of parts) add(p);
    }
  } catch (e) {
    usage(`cannot read ${exportFile}: ${e.message}`);
  }
  if (carry !== '') add(carry);
  if (n < cp.size) throw new Fail(`the export has ${n} lines, fewer than the ${cp.size} entries the checkpoint signed`);
  let r = n === 0n ? sha256() : stack[stack.length - 1].hash;
  for (let i = stack.length - 2; i >= 0; i--) r = nodeHash(stack[i].hash, r);
  if (!r.equals(cp.root)) throw new Fail(`the export's first ${cp.size} lines do not hash to the signed root: they are not the history ${cp.origin} signed`);
  return `the export's first ${cp.size} lines are exactly the ledger ${cp.origin} signed (root ${cp.root.toString('base64')})`;
}

const args = process.argv.slice(2);
const k = args.indexOf('--key');
if (k < 0 || !args[k + 1]) usage('--key is required');
const key = loadKey(args[k + 1]);
args.splice(k, 2);
const [cmd, ...files] = args;
try {
  let msg;
  if (cmd === 'checkpoint' && files.length === 1) {
    const cp = openCheckpoint(read(files[0]).toString('utf8'), key);
    msg = `checkpoint of ${cp.origin}: ${cp.size} entries, root ${cp.root.toString('base64')}`;
  } else if (cmd === 'inclusion' && files.length === 1) msg = inclusion(key, files[0]);
  else if (cmd === 'consistency' && files.length === 1) msg = consistency(key, files[0]);
  else if (cmd === 'root' && files.length === 2) msg = await root(key, files[0], files[1]);
  else usage('unknown command or wrong number of files');
  process.stdout.write(`OK: ${msg}\n`);
} catch (e) {
  // Anything a malformed document makes the checks throw is a failure to verify, too.
  process.stdout.write(`FAIL: ${e instanceof Fail ? '' : 'malformed proof: '}${e.message}\n`);
  process.exit(1);
}
