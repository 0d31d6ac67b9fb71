import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { GENESIS_PREV, canonicalJson, canonicalLine, entryHash } from './ledger.js';

function catalog(): Catalog {
  const t = new Date('2026-11-27T06:00:00.000Z');
  let n = 0;
  return Catalog.open(join(mkdtempSync(join(tmpdir(), 'custody-ledger-')), 'catalog.db'), { clock: { now: () => new Date(t.getTime() + n++) } });
}

describe('ledger', () => {
  it('chains entries: seq from 1, prev of the first is 64 zeros, hash over the canonical entry', () => {
    const c = catalog();
    const a = c.ledger.append({ type: 'evidence.ingested', actor: 'test', subject: 'e1', data: { size: 5, sha256: 'x', z: 1, a: [2, 1] } });
    const b = c.ledger.append({ type: 'evidence.wiped', actor: 'test', subject: 'e1' });
    expect(a.seq).toBe(1);
    expect(a.prev).toBe(GENESIS_PREV);
    expect(b.seq).toBe(2);
    expect(b.prev).toBe(a.hash);
    expect(a.time).toBe('2026-11-27T06:00:00.000Z');
    // The hash is the SHA-256 of the RFC 8785 form of the entry without `hash`: keys sorted, no spaces.
    const expected =
      '{"actor":"test","data":{"a":[2,1],"sha256":"x","size":5,"z":1},"prev":"' +
      GENESIS_PREV +
      '","seq":1,"subject":"e1","time":"2026-11-27T06:00:00.000Z","type":"evidence.ingested"}';
    expect(createHash('sha256').update(expected).digest('hex')).toBe(a.hash);
    expect(JSON.parse(canonicalLine(a))).toEqual({ ...JSON.parse(expected), hash: a.hash });
    expect(canonicalLine(a)).toMatch(/^{"actor":"test","data":{.*},"hash":"[0-9a-f]{64}","prev":/);
    expect(c.ledger.get(1)).toEqual(a);
    expect(c.ledger.head()).toEqual(b);
    c.close();
  });

  it('canonicalises numbers and unicode as RFC 8785 says', () => {
    expect(canonicalJson({ b: 1e21, a: 0.1, c: '执法记录仪', d: -0 })).toBe('{"a":0.1,"b":1e+21,"c":"执法记录仪","d":0}');
  });

  it('rolls an entry back with the change it records', () => {
    const c = catalog();
    c.ledger.append({ type: 'station.initialized', actor: 't' });
    expect(() =>
      c.tx(() => {
        c.ledger.append({ type: 'evidence.ingested', actor: 't', subject: 'x', data: { sha256: 'x', size: 1 } });
        c.setMeta('k', 'v');
        throw new Error('crash before commit');
      }),
    ).toThrow('crash before commit');
    expect(c.ledger.count()).toBe(1);
    expect(c.getMeta('k')).toBeNull();
    c.close();
  });

  it('tells listeners only of committed entries', () => {
    const c = catalog();
    const heard: number[] = [];
    c.ledger.onAppend((e) => heard.push(e.seq));
    c.ledger.append({ type: 'evidence.wiped', actor: 't' });
    expect(() =>
      c.tx(() => {
        c.ledger.append({ type: 'evidence.wiped', actor: 't' });
        throw new Error('no');
      }),
    ).toThrow();
    c.tx(() => c.ledger.append({ type: 'evidence.wiped', actor: 't' }));
    expect(heard).toEqual([1, 2]);
    c.close();
  });

  it('rejects malformed types and streams entries in order across pages', () => {
    const c = catalog();
    expect(() => c.ledger.append({ type: 'Bad Type', actor: 't' })).toThrow(/bad ledger entry type/);
    c.tx(() => {
      for (let i = 0; i < 25; i++) c.ledger.append({ type: 'evidence.wiped', actor: 't', data: { i } });
    });
    const seqs = [...c.ledger.entries(3, 20, 4)].map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 18 }, (_, i) => i + 3));
    for (const e of c.ledger.entries()) {
      const { hash, ...rest } = e;
      expect(entryHash(rest)).toBe(hash);
    }
    c.close();
  });
});
