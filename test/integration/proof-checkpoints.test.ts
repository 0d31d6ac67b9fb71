/**
 * Signed checkpoints against a real SQLite catalog and the real fs vault (issue 9):
 * issuing, resuming from the stored frontier, witnesses, and what a rewritten
 * database looks like to a saved checkpoint.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import {
  CHECKPOINT_PREFIX,
  CheckpointIssuer,
  CheckpointService,
  FolderWitness,
  LedgerTree,
  ProofError,
  TREE_STATE_PREFIX,
  checkExtends,
  checkWitnesses,
  ed25519Signer,
  latestCheckpoint,
  loadStationSigner,
  proveConsistency,
  leafHash,
  proveInclusion,
  signCheckpoint,
  signNote,
  treeStateKey,
  verifyConsistencyBundle,
  verifyInclusionBundle,
  type NoteSigner,
} from '../../src/proof/index.js';
import { putCheckpoint } from '../../src/proof/checkpoint-store.js';
import { ensureStationKey } from '../../src/vault/index.js';
import { verifyVault } from '../../src/ledger/index.js';
import { rewriteHistory, truncateLedger } from '../helpers/ledger-attack.js';
import { appendEntries, capturingLogger, testVault, type TestVault } from '../helpers/ledger-vault.js';
import { waitFor } from '../helpers/cli.js';

async function station(): Promise<{ v: TestVault; signer: NoteSigner }> {
  const v = await testVault('custody-proof-');
  await ensureStationKey(v.home);
  return { v, signer: await loadStationSigner(v.home, '') };
}

/** Another Ed25519 key under the same name: what a forger, or a replaced key, signs with. */
function stranger(name: string): NoteSigner {
  return ed25519Signer(name, generateKeyPairSync('ed25519').privateKey);
}

function issuer(v: TestVault, signer: NoteSigner, witnesses: FolderWitness[] = []): CheckpointIssuer {
  return new CheckpointIssuer({ catalog: v.catalog, store: v.store, signer, witnesses, log: silentLogger });
}

async function errorOf(p: Promise<unknown>): Promise<ProofError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProofError);
  return e as ProofError;
}

async function vaultKeys(v: TestVault, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of v.store.list(prefix)) keys.push(o.key);
  return keys;
}

describe('CheckpointIssuer', () => {
  it('signs nothing for an empty ledger, then one checkpoint per growth, each extending the last', async () => {
    const { v, signer } = await station();
    const iss = issuer(v, signer);
    expect(await iss.issue()).toBeNull();

    appendEntries(v.catalog, 10);
    const first = (await iss.issue())!;
    expect(first).toMatchObject({ issued: true, key: 'ledger/checkpoints/000000000010.checkpoint' });
    expect(first.checkpoint.root.equals(LedgerTree.build(v.catalog.ledger, { strict: true }).tree.root())).toBe(true);
    expect(first.checkpoint.note.startsWith(`${signer.name}\n10\n`)).toBe(true);
    expect(await latestCheckpoint(v.store)).toBe(first.checkpoint.note);

    const again = (await iss.issue())!;
    expect(again.issued).toBe(false);
    expect(again.checkpoint.note).toBe(first.checkpoint.note);

    appendEntries(v.catalog, 5);
    const second = (await iss.issue())!;
    expect(second.checkpoint.size).toBe(15);
    const tree = LedgerTree.build(v.catalog.ledger, { strict: false }).tree;
    const bundle = proveConsistency(tree, first.checkpoint, second.checkpoint);
    expect(verifyConsistencyBundle(bundle, { publicKey: signer.publicKey }).to.size).toBe(15);
    expect(await vaultKeys(v, CHECKPOINT_PREFIX)).toEqual(['ledger/checkpoints/000000000010.checkpoint', 'ledger/checkpoints/000000000015.checkpoint']);
    expect(await vaultKeys(v, TREE_STATE_PREFIX)).toEqual([treeStateKey(10), treeStateKey(15)]);
  });

  it('resumes from the stored frontier, and rebuilds it from the ledger when it is missing', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 40);
    await issuer(v, signer).issue();
    appendEntries(v.catalog, 7);
    // A new process: the frontier of 40 plus the 7 new entries.
    const r = (await issuer(v, signer).issue())!;
    expect(r.checkpoint.size).toBe(47);
    expect(r.checkpoint.root.equals(LedgerTree.build(v.catalog.ledger, { strict: true }).tree.root())).toBe(true);

    await rm(join(v.home, 'vault', treeStateKey(47)));
    appendEntries(v.catalog, 1);
    expect((await issuer(v, signer).issue())!.checkpoint.size).toBe(48);
    expect(await vaultKeys(v, TREE_STATE_PREFIX)).toContain(treeStateKey(47));
  });

  it('grows its tree from committed entries it hears of, and agrees with a full rebuild', async () => {
    const { v, signer } = await station();
    const iss = issuer(v, signer);
    appendEntries(v.catalog, 3);
    await iss.issue();
    const off = v.catalog.ledger.onAppend((e) => iss.observe(e));
    appendEntries(v.catalog, 50);
    v.catalog.ledger.append({ type: 'evidence.wiped', actor: 'test' });
    off();
    const r = (await iss.issue())!;
    expect(r.checkpoint.size).toBe(54);
    expect(r.checkpoint.root.equals(LedgerTree.build(v.catalog.ledger, { strict: true }).tree.root())).toBe(true);
  });

  it('refuses to sign over the last checkpoint under another key or origin', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 4);
    await issuer(v, signer).issue();
    appendEntries(v.catalog, 1);
    expect((await errorOf(issuer(v, stranger(signer.name)).issue())).code).toBe('CHECKPOINT_INVALID');
    const renamed = await loadStationSigner(v.home, 'custody.example/renamed');
    expect((await errorOf(issuer(v, renamed).issue())).code).toBe('CHECKPOINT_ORIGIN_CHANGED');
  });
});

describe('a rewritten database (every later hash recomputed)', () => {
  async function signedThenRewritten(): Promise<{ v: TestVault; signer: NoteSigner; saved: string }> {
    const { v, signer } = await station();
    appendEntries(v.catalog, 30);
    const saved = (await issuer(v, signer).issue())!.checkpoint.note;
    appendEntries(v.catalog, 5);
    rewriteHistory(v.catalog, 3, (e) => {
      e.data = { ...e.data, note: 'nothing happened here' };
    });
    return { v, signer, saved };
  }

  it('passes custody verify alone, but not the saved checkpoint', async () => {
    const { v, signer, saved } = await signedThenRewritten();
    expect((await verifyVault({ catalog: v.catalog, store: v.store, deep: false })).ok).toBe(true);
    const cp = issuer(v, signer).open(saved);
    const r = checkExtends(LedgerTree.build(v.catalog.ledger, { strict: false }).tree, cp);
    expect(r).toMatchObject({ ok: false, code: 'LEDGER_INCONSISTENT', size1: 30, size2: 35 });
    expect(r.reason).toMatch(/history was rewritten/);
  });

  it('gets no new signature: the checkpointed entry no longer has its hash', async () => {
    const { v, signer } = await signedThenRewritten();
    const e = await errorOf(issuer(v, signer).issue());
    expect(e.code).toBe('LEDGER_INCONSISTENT');
    expect(e.message).toMatch(/entry 30 now hashes to .* history was rewritten/);
    expect(await vaultKeys(v, CHECKPOINT_PREFIX)).toEqual(['ledger/checkpoints/000000000030.checkpoint']);
  });

  it('nor when the vault lost its tree state: the rebuilt tree must give the signed root', async () => {
    const { v, signer } = await signedThenRewritten();
    await rm(join(v.home, 'vault', treeStateKey(30)));
    expect((await errorOf(issuer(v, signer).issue())).message).toMatch(/do not hash to the latest checkpoint's root/);
  });

  it('shows removed entries too, from the end or from the middle', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 12);
    const cp = (await issuer(v, signer).issue())!.checkpoint;
    appendEntries(v.catalog, 3);
    v.catalog.db.exec('DROP TRIGGER ledger_no_delete');
    v.catalog.db.prepare('DELETE FROM ledger WHERE seq = 6').run();
    const middle = checkExtends(LedgerTree.build(v.catalog.ledger, { strict: false }).tree, cp);
    expect(middle).toMatchObject({ ok: false, code: 'LEDGER_INCONSISTENT', size2: 14 });
    truncateLedger(v.catalog, 10);
    const end = checkExtends(LedgerTree.build(v.catalog.ledger, { strict: false }).tree, cp);
    expect(end.reason).toMatch(/the ledger has 9 entries, fewer than the 12 the checkpoint signed: entries were removed/);
    expect((await errorOf(issuer(v, signer).issue())).message).toMatch(/entry 12, which the signed tree holds, is gone/);
  });

  it('and a proof of an old entry against the saved checkpoint cannot be made', async () => {
    const { v, signer, saved } = await signedThenRewritten();
    const tree = LedgerTree.build(v.catalog.ledger, { strict: false }).tree;
    expect(() => proveInclusion(tree, v.catalog.ledger, 1, 30, issuer(v, signer).open(saved))).toThrow(/history was rewritten/);
  });
});

describe('witnesses', () => {
  async function withWitness(): Promise<{ v: TestVault; signer: NoteSigner; dir: string; witness: FolderWitness }> {
    const { v, signer } = await station();
    const dir = join(v.dir, 'witness');
    await mkdir(dir);
    return { v, signer, dir, witness: new FolderWitness(dir, signer.name) };
  }

  it('receive each new checkpoint as a write-once file', async () => {
    const { v, signer, witness } = await withWitness();
    appendEntries(v.catalog, 6);
    const r = (await issuer(v, signer, [witness]).issue())!;
    expect(r.witnesses).toEqual([{ dir: witness.dir, ok: true, had: null, wrote: true }]);
    appendEntries(v.catalog, 2);
    await issuer(v, signer, [witness]).issue();
    expect((await readdir(witness.folder)).sort()).toEqual(['000000000006.checkpoint', '000000000008.checkpoint']);
    expect((await witness.latest())!.note).toBe(await latestCheckpoint(v.store));
    const checks = await checkWitnesses(LedgerTree.build(v.catalog.ledger, { strict: false }).tree, [witness], { publicKey: signer.publicKey, origin: signer.name });
    expect(checks).toMatchObject([{ reachable: true, ok: true, size: 8 }]);
  });

  it('stop a rewritten history from being signed even when the vault lost every checkpoint', async () => {
    const { v, signer, witness } = await withWitness();
    appendEntries(v.catalog, 20);
    await issuer(v, signer, [witness]).issue();
    rewriteHistory(v.catalog, 5, (e) => {
      e.subject = 'someone else';
    });
    await rm(join(v.home, 'vault', 'ledger'), { recursive: true });
    appendEntries(v.catalog, 1);
    const e = await errorOf(issuer(v, signer, [witness]).issue());
    expect(e.code).toBe('LEDGER_INCONSISTENT');
    expect(e.message).toMatch(/does not extend witness/);
    expect(await vaultKeys(v, CHECKPOINT_PREFIX)).toEqual([]);
    const checks = await checkWitnesses(LedgerTree.build(v.catalog.ledger, { strict: false }).tree, [witness], { publicKey: signer.publicKey });
    expect(checks[0]).toMatchObject({ ok: false, code: 'LEDGER_INCONSISTENT' });
  });

  it('refuse a checkpoint for a smaller tree than the witness holds', async () => {
    const { v, signer, witness } = await withWitness();
    appendEntries(v.catalog, 20);
    await issuer(v, signer, [witness]).issue();
    truncateLedger(v.catalog, 15);
    await rm(join(v.home, 'vault', 'ledger'), { recursive: true });
    const e = await errorOf(issuer(v, signer, [witness]).issue());
    expect(e.code).toBe('CHECKPOINT_WITNESS_AHEAD');
    expect(e.message).toMatch(/holds a checkpoint for 20 entries, but the ledger has only 15/);
  });

  it('refuse a witness copy with a tampered signature or an unknown key', async () => {
    const { v, signer, witness } = await withWitness();
    appendEntries(v.catalog, 4);
    const note = (await issuer(v, signer, [witness]).issue())!.checkpoint.note;
    appendEntries(v.catalog, 1);
    const file = join(witness.folder, '000000000004.checkpoint');
    await writeFile(file, note.replace(/ (\S)(\S+)\n$/, (_m, a: string, rest: string) => ` ${a === 'A' ? 'B' : 'A'}${rest}\n`));
    expect((await errorOf(issuer(v, signer, [witness]).issue())).code).toBe('CHECKPOINT_WITNESS_INVALID');

    const forged = note.slice(0, note.indexOf('\n\n') + 1);
    await writeFile(join(witness.folder, '000000000009.checkpoint'), signNote(forged, [stranger(signer.name)]));
    const e = await errorOf(issuer(v, signer, [witness]).issue());
    expect(e.code).toBe('CHECKPOINT_WITNESS_INVALID');
    expect(e.message).toMatch(/not signed by a known key/);
  });

  it('that are unreachable are reported and caught up later; the folder is never created', async () => {
    const { v, signer, dir, witness } = await withWitness();
    await rm(dir, { recursive: true });
    appendEntries(v.catalog, 3);
    const r = (await issuer(v, signer, [witness]).issue())!;
    expect(r.issued).toBe(true);
    expect(r.witnesses[0]).toMatchObject({ ok: false, wrote: false, error: { code: 'CHECKPOINT_WITNESS_UNREACHABLE' } });
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
    await mkdir(dir);
    const later = (await issuer(v, signer, [witness]).issue())!;
    expect(later).toMatchObject({ issued: false, witnesses: [{ ok: true, had: null, wrote: true }] });
    expect(await readFile(join(witness.folder, '000000000003.checkpoint'), 'utf8')).toBe(r.checkpoint.note);
  });
});

describe('write-once storage', () => {
  it('refuses a second, different checkpoint for a size, in the vault and in a witness', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 3);
    const cp = (await issuer(v, signer).issue())!.checkpoint;
    const other = signCheckpoint({ origin: signer.name, size: 3, root: leafHash('another history') }, signer);
    const e = await errorOf(putCheckpoint(v.store, other));
    expect(e.code).toBe('CHECKPOINT_CONFLICT');
    expect(await putCheckpoint(v.store, cp)).toEqual({ key: 'ledger/checkpoints/000000000003.checkpoint', created: false });

    const dir = join(v.dir, 'w');
    await mkdir(dir);
    const w = new FolderWitness(dir, signer.name);
    expect((await w.put(cp)).created).toBe(true);
    expect((await w.put(cp)).created).toBe(false);
    expect((await errorOf(w.put(other))).code).toBe('CHECKPOINT_WITNESS_CONFLICT');
    expect((await readdir(w.folder)).filter((n) => n.startsWith('.'))).toEqual([]); // no temp files left
  });
});

describe('inclusion proofs', () => {
  it('prove every entry against the signed checkpoint; a changed line, path or key fails', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 37);
    const cp = (await issuer(v, signer).issue())!.checkpoint;
    const tree = LedgerTree.build(v.catalog.ledger, { strict: false }).tree;
    const trust = { publicKey: signer.publicKey, origin: signer.name };
    for (let seq = 1; seq <= 37; seq++) verifyInclusionBundle(proveInclusion(tree, v.catalog.ledger, seq, 37, cp), trust);

    const b = proveInclusion(tree, v.catalog.ledger, 12, 37, cp);
    expect(() => verifyInclusionBundle({ ...b, line: b.line.replace('"s-', '"S-') }, trust)).toThrow(/leaf hash is not the hash of the line/);
    const bent = { ...b, proof: [...b.proof].reverse() };
    expect(() => verifyInclusionBundle(bent, trust)).toThrow(ProofError);
    expect(() => verifyInclusionBundle({ ...b, seq: 13 }, trust)).toThrow(/the line is entry 12/);
    expect(() => verifyInclusionBundle(b, { publicKey: stranger(signer.name).publicKey })).toThrow(/not signed by a known key/);
    expect(() => verifyInclusionBundle({ ...b, checkpoint: null }, trust)).toThrow(/unsigned root/);
  });
});

describe('CheckpointService', () => {
  it('signs on start, on demand, on its timer and at stop', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 5);
    const { log, lines } = capturingLogger();
    const svc = new CheckpointService({ catalog: v.catalog, store: v.store, signer, log, intervalSeconds: 1 });
    svc.start();
    await waitFor('the first checkpoint', async () => (await latestCheckpoint(v.store))?.includes('\n5\n'));

    appendEntries(v.catalog, 3);
    expect((await svc.issueIfGrown())!.checkpoint.size).toBe(8);
    expect(await svc.latest()).toBe(await latestCheckpoint(v.store));

    appendEntries(v.catalog, 2);
    await waitFor('a checkpoint from the timer', async () => (await latestCheckpoint(v.store))?.includes('\n10\n'), 10_000, 50);

    appendEntries(v.catalog, 1);
    await svc.stop();
    expect(await latestCheckpoint(v.store)).toMatch(/\n11\n/);
    expect(lines.filter((l) => l.msg === 'ledger checkpoint signed').map((l) => l.size)).toEqual([5, 8, 10, 11]);
  });

  it('logs a refusal and keeps running when the history was rewritten', async () => {
    const { v, signer } = await station();
    appendEntries(v.catalog, 5);
    const { log, lines } = capturingLogger();
    const svc = new CheckpointService({ catalog: v.catalog, store: v.store, signer, log, intervalSeconds: 0 });
    svc.start();
    await waitFor('the first checkpoint', async () => (await latestCheckpoint(v.store))?.includes('\n5\n'));
    rewriteHistory(v.catalog, 2, (e) => {
      e.actor = 'nobody';
    });
    appendEntries(v.catalog, 1);
    expect((await errorOf(svc.issueIfGrown())).code).toBe('LEDGER_INCONSISTENT');
    await expect(svc.stop()).rejects.toThrow(/history was rewritten/);
    expect(lines.some((l) => l.level === 50 && l.msg === 'final ledger checkpoint failed')).toBe(true);
  });
});
