/**
 * Issue 8: what verify-export catches in a custody copy beyond the bag itself — each
 * tampering done by someone who also rewrote the tag manifest, so only the ledger
 * excerpt, the item records and the proofs can give it away.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveService, verifyExport } from '../../src/archive/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { CheckpointIssuer, ed25519Signer, formatVerifierKey, loadStationSigner } from '../../src/proof/index.js';
import { ensureStationKey } from '../../src/vault/index.js';
import { apiRig, type ApiRig } from './api-fixtures.js';

let rig: ApiRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** One fresh copy of a two-item case; returns its folder. */
async function exportedCopy(opts: { checkpoint?: boolean } = {}): Promise<string> {
  const r = await apiRig();
  rig = r;
  await ensureStationKey(r.home);
  const items = [await r.seed({ name: 'A.MP4' }), await r.seed({ name: 'B.JPG', type: 'photo' })];
  const caseId = uuidv7();
  r.catalog.tx(() => {
    r.catalog.db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, 'N-1', 'name', 'U1', 't', 'test')").run(caseId);
    for (const i of items) r.catalog.db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, 't', 'test')").run(caseId, i.id);
    r.catalog.ledger.append({ type: 'case.created', actor: 'test', subject: caseId, data: {} });
  });
  const issuer = new CheckpointIssuer({ catalog: r.catalog, store: r.store, signer: await loadStationSigner(r.home, ''), log: silentLogger });
  const archive = new ArchiveService({
    catalog: r.catalog,
    store: r.store,
    log: silentLogger,
    timezone: 'Asia/Shanghai',
    copies: 1,
    sourceOrganization: 'custody',
    ...(opts.checkpoint === false ? {} : { verifierKey: issuer.verifierKey, checkpoint: async () => (await issuer.issue())?.checkpoint ?? null }),
  });
  // The grant as authorizeExport would find it (the rule itself: api-access-paths.test.ts).
  const access = { requestId: 'request-1', approvedBy: 'user-2', evidenceIds: new Set(items.map((i) => i.id)) };
  const res = await archive.exportCase({ caseRef: caseId, destinations: [join(r.dir, 'out')], maker: 'm', actor: 'test', access });
  expect(res.ok).toBe(true);
  const dir = res.copies[0]!.dir!;
  expect((await verifyExport(dir)).problems).toEqual([]);
  return dir;
}

/** Rewrite a file and its line in tagmanifest-sha256.txt, as a careful forger would. */
async function forge(dir: string, rel: string, change: (s: string) => string): Promise<void> {
  const text = change(await readFile(join(dir, rel), 'utf8'));
  await writeFile(join(dir, rel), text);
  const tm = join(dir, 'tagmanifest-sha256.txt');
  const lines = (await readFile(tm, 'utf8')).split('\n').map((l) => (l.endsWith(`  ${rel}`) ? `${sha256(text)}  ${rel}` : l));
  await writeFile(tm, lines.join('\n'));
}

async function codes(dir: string, key?: string): Promise<string[]> {
  return (await verifyExport(dir, key === undefined ? {} : { verifierKey: key })).problems.map((p) => p.code);
}

describe('verify-export on forged custody copies (issue 8)', { timeout: 60_000 }, () => {
  it('an entry whose hash was recomputed after a change is not in the signed tree', async () => {
    const dir = await exportedCopy();
    // Change an entry and recompute its hash: its own hash check passes, its proof cannot.
    const { canonicalJson, entryHash } = await import('../../src/ledger/index.js');
    await forge(dir, 'custody/ledger.jsonl', (s) =>
      s
        .split('\n')
        .map((l) => {
          if (!l.includes('"type":"case.created"')) return l;
          const e = JSON.parse(l) as Parameters<typeof entryHash>[0] & { hash: string };
          e.actor = 'someone-else';
          e.hash = entryHash(e);
          return canonicalJson(e);
        })
        .join('\n'),
    );
    const c = await codes(dir);
    expect(c).toContain('PROOF_INVALID');
    expect(c).not.toContain('LEDGER_HASH_MISMATCH');
  });

  it('an item whose evidence.ingested entry was removed from the excerpt is named', async () => {
    const dir = await exportedCopy();
    let removed = false;
    await forge(dir, 'custody/ledger.jsonl', (s) =>
      s
        .split('\n')
        .filter((l) => {
          if (removed || !l.includes('"type":"evidence.ingested"')) return true;
          removed = true;
          return false;
        })
        .join('\n'),
    );
    expect(await codes(dir)).toContain('EXCERPT_ITEM_UNRECORDED');
  });

  it('a changed inclusion path fails its proof', async () => {
    const dir = await exportedCopy();
    await forge(dir, 'custody/proofs.json', (s) => {
      const p = JSON.parse(s) as { proofs: Record<string, string[]> };
      const seq = Object.keys(p.proofs).find((k) => p.proofs[k]!.length > 0)!;
      p.proofs[seq]![0] = Buffer.alloc(32, 7).toString('base64');
      return JSON.stringify(p);
    });
    expect(await codes(dir)).toContain('PROOF_INVALID');
  });

  it('a file added to the payload with every manifest updated is still not one of the export items', async () => {
    const dir = await exportedCopy();
    const extra = Buffer.from('planted');
    await writeFile(join(dir, 'data', 'planted.txt'), extra);
    await forge(dir, 'manifest-sha256.txt', (s) => `${s}${sha256(extra)}  data/planted.txt\n`);
    await forge(dir, 'manifest-sha512.txt', (s) => `${s}${createHash('sha512').update(extra).digest('hex')}  data/planted.txt\n`);
    await forge(dir, 'bag-info.txt', (s) => s.replace(/Payload-Oxum: (\d+)\.(\d+)/, (_m, b: string, n: string) => `Payload-Oxum: ${Number(b) + extra.length}.${Number(n) + 1}`));
    expect(await codes(dir)).toEqual(['EXPORT_ITEM_UNKNOWN']);
    expect((await readdir(join(dir, 'data'))).length).toBe(3);
  });

  it('a checkpoint checked with another key than the station\'s is refused', async () => {
    const dir = await exportedCopy();
    // A key of the same name (the origin) that is not the station's.
    const origin = (await readFile(join(dir, 'custody', 'checkpoint.txt'), 'utf8')).split('\n')[0]!;
    const stranger = formatVerifierKey(ed25519Signer(origin, generateKeyPairSync('ed25519').privateKey));
    expect(await codes(dir, stranger)).toEqual(['CHECKPOINT_INVALID']);
    // The station's own key, given independently, passes.
    expect(await codes(dir, (await readFile(join(dir, 'custody', 'verifier-key.txt'), 'utf8')).trim())).toEqual([]);
  });

  it('a copy without a checkpoint is valid on its own, but not when a key was given to check', async () => {
    const dir = await exportedCopy({ checkpoint: false });
    expect(await codes(dir)).toEqual([]);
    const key = formatVerifierKey(ed25519Signer('custody/0123456789abcdef', generateKeyPairSync('ed25519').privateKey));
    expect(await codes(dir, key)).toEqual(['CHECKPOINT_MISSING']);
  });
});
