/**
 * C2SP signed notes and tlog checkpoints (issue 9). The external anchor is the
 * known-answer vector of golang.org/x/mod/sumdb/note (its package documentation):
 * Ed25519 is deterministic, so signing its text with its key must give its note
 * byte for byte, and any Go-ecosystem verifier then accepts custody's notes.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import { ProofError } from './errors.js';
import { leafHash } from './merkle.js';
import { ed25519Signer, ed25519Verifier, formatVerifierKey, openNote, parseVerifierKey, signNote, splitNote } from './note.js';

const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

/** The Go signer key holds 0x01 || 32-byte seed; node:crypto takes the seed as PKCS#8. */
function goSigner(): ReturnType<typeof ed25519Signer> {
  const seed = Buffer.from(GO_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return ed25519Signer('PeterNeumann', createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
}

function newSigner(name: string): ReturnType<typeof ed25519Signer> {
  return ed25519Signer(name, generateKeyPairSync('ed25519').privateKey);
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProofError) return e.code;
    throw e;
  }
  return 'OK';
}

describe('signed notes (c2sp.org/signed-note)', () => {
  it('reproduces the golang.org/x/mod/sumdb/note known answer byte for byte', () => {
    const signer = goSigner();
    expect(formatVerifierKey(signer)).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, [signer])).toBe(GO_NOTE);
    const opened = openNote(GO_NOTE, [parseVerifierKey(GO_VKEY)]);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verifiedBy.map((v) => v.name)).toEqual(['PeterNeumann']);
  });

  it('rejects an altered text, a forged signature and a note no known key signed', () => {
    const v = parseVerifierKey(GO_VKEY);
    expect(code(() => openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [v]))).toBe('NOTE_BAD_SIGNATURE');
    const sig = Buffer.from(GO_NOTE.split(' ').pop()!.trim(), 'base64');
    sig[10]! ^= 1;
    expect(code(() => openNote(`${GO_TEXT}\n\u2014 PeterNeumann ${sig.toString('base64')}\n`, [v]))).toBe('NOTE_BAD_SIGNATURE');
    // Same name, another key (so another key ID): unknown, ignored, hence unverified.
    expect(code(() => openNote(GO_NOTE, [newSigner('PeterNeumann')]))).toBe('NOTE_UNKNOWN_KEY');
    expect(code(() => openNote(GO_NOTE, []))).toBe('NOTE_UNKNOWN_KEY');
  });

  it('ignores signatures by unknown keys next to a known one', () => {
    const a = newSigner('a.example/log');
    const b = newSigner('b.example/witness');
    const note = signNote('hello\n', [a, b]);
    expect(openNote(note, [a]).unknown.map((s) => s.name)).toEqual(['b.example/witness']);
    expect(openNote(note, [b, a]).verifiedBy.map((s) => s.name)).toEqual(['a.example/log', 'b.example/witness']);
  });

  it('refuses malformed notes and keys', () => {
    const s = newSigner('x.example');
    const good = signNote('a\nb\n', [s]);
    expect(code(() => splitNote(good.replace('\n\n', '\n')))).toBe('NOTE_MALFORMED');
    expect(code(() => splitNote(good.slice(0, -1)))).toBe('NOTE_MALFORMED');
    expect(code(() => splitNote(good.replace('\u2014', '-')))).toBe('NOTE_MALFORMED');
    expect(code(() => splitNote(`a\tb\n${good.slice(good.indexOf('\n\n'))}`))).toBe('NOTE_MALFORMED');
    expect(code(() => splitNote(Buffer.from([0x61, 0xff, 0x0a, 0x0a])))).toBe('NOTE_MALFORMED');
    expect(code(() => signNote('no newline', [s]))).toBe('NOTE_MALFORMED');
    expect(code(() => ed25519Verifier('has space', s.publicKey))).toBe('NOTE_BAD_KEY_NAME');
    expect(code(() => ed25519Verifier('a+b', s.publicKey))).toBe('NOTE_BAD_KEY_NAME');
    expect(code(() => parseVerifierKey(GO_VKEY.replace('c74f20a3', 'c74f20a4')))).toBe('NOTE_BAD_KEY');
    expect(code(() => parseVerifierKey('PeterNeumann+c74f20a3+AQ=='))).toBe('NOTE_BAD_KEY');
    expect(code(() => ed25519Signer('k', generateKeyPairSync('x25519').privateKey))).toBe('NOTE_BAD_KEY');
  });
});

describe('checkpoints (c2sp.org/tlog-checkpoint)', () => {
  const root = leafHash('root');

  it('formats origin, size and base64 root, and parses back only that', () => {
    const text = formatCheckpoint({ origin: 'custody/0123456789abcdef', size: 42, root });
    expect(text).toBe(`custody/0123456789abcdef\n42\n${root.toString('base64')}\n`);
    expect(parseCheckpoint(text)).toEqual({ origin: 'custody/0123456789abcdef', size: 42, root });
    for (const bad of [
      `o\n042\n${root.toString('base64')}\n`,
      `o\n-1\n${root.toString('base64')}\n`,
      `o\n1\n${root.subarray(1).toString('base64')}\n`,
      `o\n1\n${root.toString('base64')}`,
      `o\n1\n${root.toString('base64')}\nextension\n`,
      `\n1\n${root.toString('base64')}\n`,
      `o\n99999999999999999999\n${root.toString('base64')}\n`,
    ]) {
      expect(code(() => parseCheckpoint(bad)), JSON.stringify(bad)).toBe('CHECKPOINT_MALFORMED');
    }
  });

  it('opens only a checkpoint signed by the trusted key under its origin', () => {
    const signer = newSigner('custody/test');
    const cp = signCheckpoint({ origin: 'custody/test', size: 7, root }, signer);
    expect(openCheckpoint(cp.note, { publicKey: signer.publicKey })).toMatchObject({ origin: 'custody/test', size: 7 });
    expect(openCheckpoint(cp.note, { publicKey: signer.publicKey, origin: 'custody/test' }).root.equals(root)).toBe(true);
    expect(openCheckpoint(cp.note, { verifiers: [parseVerifierKey(formatVerifierKey(signer))] }).size).toBe(7);

    expect(code(() => openCheckpoint(cp.note, { publicKey: signer.publicKey, origin: 'custody/other' }))).toBe('NOTE_UNKNOWN_KEY');
    expect(code(() => openCheckpoint(cp.note, { publicKey: newSigner('custody/test').publicKey }))).toBe('NOTE_UNKNOWN_KEY');
    expect(code(() => openCheckpoint(cp.note.replace('\n7\n', '\n8\n'), { publicKey: signer.publicKey }))).toBe('NOTE_BAD_SIGNATURE');
    // A checkpoint whose only trusted signature is under another name is not that log's.
    const alias = newSigner('custody/alias');
    const aliased = signNote(formatCheckpoint({ origin: 'custody/test', size: 7, root }), [alias]);
    expect(code(() => openCheckpoint(aliased, { verifiers: [alias] }))).toBe('NOTE_UNKNOWN_KEY');
    expect(code(() => signCheckpoint({ origin: 'custody/x', size: 1, root }, signer))).toBe('CHECKPOINT_KEY_NAME');
  });
});
