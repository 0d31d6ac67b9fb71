/**
 * The incremental tree against a naive recursive one written straight from RFC 9162
 * §2.1.1, §2.1.3.1 and §2.1.4.1, on seeded random data; and proofs in trees far past
 * 2^31 leaves (issue 9), built on a synthetic tree that never holds its leaves.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProofError } from './errors.js';
import { EMPTY_ROOT, Frontier, MerkleTree, consistencyProof, inclusionProof, leafHash, nodeHash, rootAt, type SubtreeSource } from './merkle.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// The naive tree: the RFC's recursive definitions, nothing stored.

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return leafHash(d[0]!);
  const s = k(d.length);
  return nodeHash(mth(d.slice(0, s)), mth(d.slice(s)));
}

function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}

function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString('hex'));

function randomLeaves(rand: () => number, n: number): Buffer[] {
  return Array.from({ length: n }, () => Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))));
}

function flipBit(proof: Buffer[], i: number): Buffer[] {
  return proof.map((p, j) => (j === i ? Buffer.from(p.map((x, b) => (b === 0 ? x ^ 1 : x))) : p));
}

describe('MerkleTree against the RFC definitions', () => {
  it('has the root of the naive tree after every append (sizes 0..300)', () => {
    const rand = prng(9);
    const d = randomLeaves(rand, 300);
    const t = new MerkleTree();
    expect(t.root().equals(EMPTY_ROOT)).toBe(true);
    for (let n = 1; n <= d.length; n++) {
      t.append(d[n - 1]!);
      expect(t.root().toString('hex'), `size ${n}`).toBe(mth(d.slice(0, n)).toString('hex'));
    }
    // And every earlier size, from the finished tree.
    for (let n = 0; n <= d.length; n++) expect(t.root(n).toString('hex')).toBe(mth(d.slice(0, n)).toString('hex'));
  });

  it('generates the naive inclusion and consistency proofs, which verify, for random sizes', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rand = prng(seed);
      const n = 1 + Math.floor(rand() * 400);
      const d = randomLeaves(rand, n);
      const t = new MerkleTree();
      for (const x of d) t.append(x);
      for (let probe = 0; probe < 30; probe++) {
        const size = 1 + Math.floor(rand() * n);
        const naive = d.slice(0, size);
        const root = mth(naive);
        const m = Math.floor(rand() * size);
        const proof = t.inclusionProof(m, size);
        expect(hex(proof), `seed ${seed} PATH(${m}, D[${size}])`).toEqual(hex(path(m, naive)));
        verifyInclusion(m, size, leafHash(d[m]!), proof, root);
        for (let i = 0; i < proof.length; i++) expect(() => verifyInclusion(m, size, leafHash(d[m]!), flipBit(proof, i), root)).toThrow(ProofError);
        if (size > 1) expect(() => verifyInclusion((m + 1) % size, size, leafHash(d[m]!), proof, root)).toThrow(ProofError);

        const size1 = 1 + Math.floor(rand() * size);
        const cproof = t.consistencyProof(size1, size);
        expect(hex(cproof), `seed ${seed} PROOF(${size1}, D[${size}])`).toEqual(hex(subproof(size1, naive, true)));
        verifyConsistency(size1, size, cproof, mth(d.slice(0, size1)), root);
        for (let i = 0; i < cproof.length; i++) expect(() => verifyConsistency(size1, size, flipBit(cproof, i), mth(d.slice(0, size1)), root)).toThrow(ProofError);
      }
    }
  });

  it('proves every leaf and every pair of sizes of small trees', () => {
    const d = randomLeaves(prng(42), 33);
    const t = new MerkleTree();
    for (const x of d) t.append(x);
    for (let size = 1; size <= d.length; size++) {
      const root = t.root(size);
      for (let m = 0; m < size; m++) verifyInclusion(m, size, leafHash(d[m]!), t.inclusionProof(m, size), root);
      for (let size1 = 1; size1 <= size; size1++) verifyConsistency(size1, size, t.consistencyProof(size1, size), t.root(size1), root);
    }
  });

  it('refuses proofs for leaves or sizes it does not have', () => {
    const t = new MerkleTree();
    for (let i = 0; i < 5; i++) t.append(`leaf ${i}`);
    expect(() => t.inclusionProof(5, 5)).toThrow(/not in a tree of 5/);
    expect(() => t.inclusionProof(0, 6)).toThrow(/beyond the tree/);
    expect(() => t.consistencyProof(0, 5)).toThrow(/empty tree is meaningless/);
    expect(() => t.consistencyProof(4, 3)).toThrow(/larger than size2/);
    expect(() => t.appendLeafHash(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(t.consistencyProof(5, 5)).toEqual([]);
  });
});

describe('the worked example of docs/proofs.md', () => {
  it('gives the documented leaf hashes and root for the two entry lines of docs/ledger.md', () => {
    const text = readFileSync(new URL('../../docs/ledger.md', import.meta.url), 'utf8');
    const lines = text.split('\n').filter((l) => l.startsWith('{"actor"') && l.includes('"hash"'));
    expect(lines).toHaveLength(2);
    const t = new MerkleTree();
    for (const l of lines) t.append(l);
    expect(t.leaf(0).toString('hex')).toBe('de5f556bbb1b28cb42b2ab0d37896aeb03c5436db8d0738a0d3b452f44778c48');
    expect(t.leaf(1).toString('hex')).toBe('2e1fe84ac947c9e056e8bdc2d6d7a774004b1e38d398d3c2398a8fce399be70e');
    expect(t.root().toString('base64')).toBe('+7FMrHzxSjIjcLRCFIcwN8Ps3UpHfoPr0DFOAkYm4TA=');
    expect(t.inclusionProof(1)).toEqual([t.leaf(0)]);
    const doc = readFileSync(new URL('../../docs/proofs.md', import.meta.url), 'utf8');
    for (const h of [t.leaf(0).toString('hex'), t.leaf(1).toString('hex'), t.root().toString('hex'), t.root().toString('base64')]) expect(doc).toContain(h);
  });
});

describe('Frontier', () => {
  it('has the root of the full tree at every size, and resumes from any size', () => {
    const d = randomLeaves(prng(7), 260);
    const t = new MerkleTree();
    const f = new Frontier();
    expect(f.root().equals(EMPTY_ROOT)).toBe(true);
    for (const x of d) {
      t.append(x);
      f.appendLeafHash(leafHash(x));
      expect(f.root().toString('hex')).toBe(t.root().toString('hex'));
      expect(f.hashes()).toHaveLength([...f.size.toString(2)].filter((b) => b === '1').length);
    }
    for (const at of [0, 1, 2, 3, 64, 127, 128, 129, 200]) {
      const resumed = new Frontier(at, Frontier.of(t, at).hashes());
      expect(resumed.root().equals(t.root(at))).toBe(true);
      for (let i = at; i < d.length; i++) resumed.appendLeafHash(leafHash(d[i]!));
      expect(resumed.root().equals(t.root())).toBe(true);
    }
  });

  it('refuses a hash list that does not fit its size', () => {
    expect(() => new Frontier(3, [leafHash('a')])).toThrow(/has 2 hashes, got 1/);
    expect(() => new Frontier(1, [Buffer.alloc(31)])).toThrow(/32 bytes/);
    expect(new Frontier(2 ** 40 + 1, [leafHash('a'), leafHash('b')]).size).toBe(2 ** 40 + 1);
  });
});

// ---------------------------------------------------------------------------
// Trees past 2^31 leaves. Every leaf hashes to D except a few marked ones, so a
// perfect subtree without a marked leaf has a hash that depends only on its height,
// and any subtree hash costs O(marks × height): a real Merkle tree of 2^53 - 1 leaves
// that never exists in memory.

class SparseTree implements SubtreeSource {
  private readonly uniform: Buffer[] = [leafHash('default leaf')];
  private readonly marked: number[];

  constructor(
    readonly size: number,
    private readonly marks: Map<number, Buffer>,
  ) {
    this.marked = [...marks.keys()].sort((a, b) => a - b);
    for (let l = 1; l <= 54; l++) this.uniform.push(nodeHash(this.uniform[l - 1]!, this.uniform[l - 1]!));
  }

  private hasMark(from: number, to: number): boolean {
    return this.marked.some((m) => m >= from && m < to);
  }

  subtree(level: number, index: number): Buffer {
    const width = 2 ** level;
    const from = index * width;
    if (from + width > this.size) throw new Error(`subtree ${level}/${index} is outside the tree`);
    if (level === 0) return this.marks.get(index) ?? this.uniform[0]!;
    if (!this.hasMark(from, from + width)) return this.uniform[level]!;
    return nodeHash(this.subtree(level - 1, index * 2), this.subtree(level - 1, index * 2 + 1));
  }
}

describe('index arithmetic past 2^31', () => {
  const cases = [2 ** 31 + 1, 2 ** 32 + 7, 2 ** 40 + 12_345, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER];
  it.each(cases)('inclusion and consistency proofs verify in a tree of %d leaves', (size) => {
    const idx = [0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Math.floor(size / 3), size - 2, size - 1].filter((i) => i < size);
    const marks = new Map(idx.map((i) => [i, leafHash(`marked ${i}`)]));
    const t = new SparseTree(size, marks);
    const root = rootAt(t, size);
    for (const i of idx) {
      const proof = inclusionProof(t, i, size);
      verifyInclusion(i, size, marks.get(i)!, proof, root);
      verifyInclusion(BigInt(i), BigInt(size), marks.get(i)!, proof, root);
      // The neighbours' positions lead elsewhere: an index off by one, or one that a
      // 32-bit truncation would produce, must not verify.
      for (const wrong of [i - 1, i + 1, i % 2 ** 31, i % 2 ** 32].filter((w) => w !== i && w >= 0 && w < size)) {
        expect(() => verifyInclusion(wrong, size, marks.get(i)!, proof, root), `leaf ${i} as ${wrong}`).toThrow(ProofError);
      }
    }
    for (const size1 of [1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 + 3, Math.floor(size / 2), size - 1].filter((s) => s > 0 && s < size)) {
      const proof = consistencyProof(t, size1, size);
      verifyConsistency(size1, size, proof, rootAt(t, size1), root);
      expect(() => verifyConsistency(size1 + 1, size, proof, rootAt(t, size1), root)).toThrow(ProofError);
    }
  });

  it('the verifier takes the whole uint64 range and rejects what lies beyond it', () => {
    const h = leafHash('x');
    expect(() => verifyInclusion(2n ** 64n - 1n, 2n ** 64n - 1n, h, [], h)).toThrow(/not in a tree/);
    expect(() => verifyInclusion(0, 2n ** 64n, h, [], h)).toThrow(/outside 0..2\^64-1/);
    expect(() => verifyInclusion(-1, 1, h, [], h)).toThrow(/outside/);
    expect(() => verifyInclusion(0.5, 1, h, [], h)).toThrow(/not an integer/);
    // A tree of 2^64 - 1 leaves needs a 64-element proof for its last leaf.
    expect(() => verifyInclusion(2n ** 64n - 2n, 2n ** 64n - 1n, h, [], h)).toThrow(/shorter/);
  });
});
