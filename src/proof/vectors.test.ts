/**
 * The RFC 6962 / 9162 proof vectors of transparency-dev/merkle (Apache-2.0), kept in
 * ../shared/testdata/merkle: every file runs. Happy paths must verify and must be
 * exactly what our tree generates for the same leaves; every mutated proof must be
 * rejected. Guards issue 9.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProofError } from './errors.js';
import { MerkleTree } from './merkle.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

const ROOT = fileURLToPath(new URL('../../../shared/testdata/merkle/', import.meta.url));

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return jsonFiles(p);
      return name.endsWith('.json') ? [p] : [];
    });
}

/**
 * JSON.parse loses integers past 2^53 (a mutated vector holds leafIdx 2^64 - 1), so
 * the size and index fields are read as strings and turned into BigInts.
 */
function parseVector(file: string): Record<string, unknown> {
  const text = readFileSync(file, 'utf8').replace(/"(leafIdx|treeSize|size1|size2)":\s*(\d+)/g, '"$1":"$2"');
  const v = JSON.parse(text) as Record<string, unknown>;
  for (const k of ['leafIdx', 'treeSize', 'size1', 'size2']) if (typeof v[k] === 'string') v[k] = BigInt(v[k]);
  return v;
}

const b64 = (s: unknown): Buffer => Buffer.from(s as string, 'base64');
const proofOf = (p: unknown): Buffer[] => ((p as string[] | null) ?? []).map(b64);

/** The leaves transparency-dev/merkle built its vectors from (proof/verify_test.go). */
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const tree = new MerkleTree();
for (const l of LEAVES) tree.append(l);

function outcome(fn: () => void): { ok: true } | { ok: false; error: unknown } {
  try {
    fn();
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

describe('transparency-dev/merkle vectors', () => {
  it('are present (a missing ../shared/testdata fails, never skips)', () => {
    expect(existsSync(ROOT), ROOT).toBe(true);
  });

  const inclusion = existsSync(ROOT) ? jsonFiles(join(ROOT, 'inclusion')) : [];
  const consistency = existsSync(ROOT) ? jsonFiles(join(ROOT, 'consistency')) : [];

  it('all run: 196 vector files (98 inclusion, 98 consistency)', () => {
    expect(inclusion.length).toBe(98);
    expect(consistency.length).toBe(98);
  });

  describe.each(inclusion.map((f) => [relative(ROOT, f), f]))('%s', (_name, file) => {
    const v = parseVector(file);
    it(`${v.wantErr ? 'is rejected' : 'verifies'}: ${String(v.desc)}`, () => {
      const r = outcome(() => verifyInclusion(v.leafIdx as bigint, v.treeSize as bigint, b64(v.leafHash), proofOf(v.proof), b64(v.root)));
      if (v.wantErr) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toBeInstanceOf(ProofError);
      } else {
        expect(r).toEqual({ ok: true });
      }
    });
  });

  describe.each(consistency.map((f) => [relative(ROOT, f), f]))('%s', (_name, file) => {
    const v = parseVector(file);
    it(`${v.wantErr ? 'is rejected' : 'verifies'}: ${String(v.desc)}`, () => {
      const r = outcome(() => verifyConsistency(v.size1 as bigint, v.size2 as bigint, proofOf(v.proof), b64(v.root1), b64(v.root2)));
      if (v.wantErr) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toBeInstanceOf(ProofError);
      } else {
        expect(r).toEqual({ ok: true });
      }
    });
  });

  it('happy paths are exactly the proofs our tree generates from the same leaves', () => {
    const happyInclusion = inclusion.filter((f) => f.endsWith('/happy-path.json')).map(parseVector);
    expect(happyInclusion).toHaveLength(5);
    for (const v of happyInclusion) {
      const idx = Number(v.leafIdx);
      const size = Number(v.treeSize);
      expect(tree.leaf(idx).toString('base64')).toBe(v.leafHash);
      expect(tree.root(size).toString('base64')).toBe(v.root);
      expect(tree.inclusionProof(idx, size).map((p) => p.toString('base64'))).toEqual((v.proof as string[] | null) ?? []);
    }
    const happyConsistency = consistency.filter((f) => f.endsWith('/happy-path.json')).map(parseVector);
    expect(happyConsistency).toHaveLength(5);
    for (const v of happyConsistency) {
      const s1 = Number(v.size1);
      const s2 = Number(v.size2);
      expect(tree.root(s1).toString('base64')).toBe(v.root1);
      expect(tree.root(s2).toString('base64')).toBe(v.root2);
      expect(tree.consistencyProof(s1, s2).map((p) => p.toString('base64'))).toEqual((v.proof as string[] | null) ?? []);
    }
  });
});
