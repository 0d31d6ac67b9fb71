import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { GENESIS_PREV, canonicalJson, canonicalLine, entryHash, hashInputOf, isCanonicalDataText, lineOf } from './ledger.js';

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

  // Issue 18: appends, the chain check and the segment lines build the canonical text
  // of an entry from its fields and the canonical text of its data; it must be byte for
  // byte canonicalJson of the whole entry.
  it('builds the canonical hash input and line field by field, as canonicalJson does', () => {
    const datas: Array<Record<string, unknown>> = [
      {},
      { b: 1e21, a: 0.1, c: '执法记录仪', d: -0, e: [3, { z: null, y: true }], f: 'quote " backslash \\ tab \t nul \u0000 del \u007f' },
      { '\u00e9': 1, e: 2, E: 3, '10': 4, '9': 5, emoji: '😀', lone: '\ud800' },
    ];
    for (const data of datas) {
      for (const subject of [null, 'ev-"1"\n']) {
        const dataJson = canonicalJson(data);
        const fields = { seq: 12, time: '2026-11-27T06:00:00.000Z', type: 'evidence.ingested', actor: 'cli:张三 "x"', subject, data, prev: GENESIS_PREV };
        expect(hashInputOf(12, fields.time, fields.type, fields.actor, subject, dataJson, fields.prev)).toBe(canonicalJson(fields));
        expect(lineOf(12, fields.time, fields.type, fields.actor, subject, dataJson, fields.prev, 'ab'.repeat(32))).toBe(canonicalJson({ ...fields, hash: 'ab'.repeat(32) }));
        // Integer-like keys ('10', '9') come first in a parsed object whatever the text
        // says, so such a text is not recognised, and is read the slow way instead.
        expect(isCanonicalDataText(dataJson)).toBe(!/"\d+":/.test(dataJson));
      }
    }
  });

  it('tells a data column in canonical form from every other form', () => {
    for (const text of ['{}', '{"a":1,"b":[1,"x",null]}', '{"a":1e+21,"b":0.1,"c":-5}', '{"s":"\\u0000\\"é😀"}']) {
      expect(isCanonicalDataText(JSON.parse(JSON.stringify(text)))).toBe(true);
    }
    for (const text of ['{"b":1,"a":2}', '{ "a":1}', '{"a":1.0}', '{"a":1E21}', '{"a":-0}', '{"a":"\\u0041"}', '{"a":1e999}', '[1]', 'null', '"x"', '{"a":1', '{"a":{"d":1,"c":2}}']) {
      expect(isCanonicalDataText(text)).toBe(false);
      // The definition it is a fast form of: the text is canonicalJson of what it parses to.
      let same = false;
      try {
        const v = JSON.parse(text) as unknown;
        same = v !== null && typeof v === 'object' && !Array.isArray(v) && canonicalJson(v) === text;
      } catch {
        same = false;
      }
      expect(same).toBe(false);
    }
  });

  it('hands out appended entries frozen, whose hash and line are what their fields give', () => {
    const c = catalog();
    const a = c.ledger.append({ type: 'evidence.ingested', actor: 'test', subject: 'e1', data: { sha256: 'x', size: 5, recorder: { serial: 'A', model: null }, dropped: undefined } });
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.data)).toBe(true);
    expect(Object.isFrozen(a.data.recorder)).toBe(true);
    expect(a.data).toEqual({ sha256: 'x', size: 5, recorder: { serial: 'A', model: null } });
    const copy = JSON.parse(JSON.stringify(a)) as typeof a;
    expect(entryHash(a)).toBe(entryHash(copy));
    expect(canonicalLine(a)).toBe(canonicalLine(copy));
    expect(c.ledger.get(1)).toEqual(a);
    c.close();
  });

  it('writes plain values itself exactly as canonicalize does, and leaves the rest to it', () => {
    const canonicalize = canonicalizeModule as unknown as (v: unknown) => string | undefined;
    const nul = Object.create(null) as Record<string, unknown>;
    nul.b = 1;
    nul.a = [true, false, null];
    const values: unknown[] = [
      null, true, 0, -0, 1e21, 1e-7, 0.1, -12.5, 2 ** 53, '', 'é😀\u2028\ud800"\\\n',
      [], [1, 'x', [null]], {}, { b: 1, a: 2, B: 3, _: 4, '10': 5, '9': 6, é: 7 },
      { skip: undefined, keep: 1, nested: { z: [{ y: 1, x: 2 }], a: 'v' } },
      nul, { toJSON: 1, a: 2 },
      // Not plain: left to canonicalize.
      new Date('2026-12-02T00:00:00.000Z'), { when: new Date(0) }, { j: { toJSON: () => 'x' } }, [undefined, 1],
    ];
    for (const v of values) expect(canonicalJson(v)).toBe(canonicalize(v));
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson(undefined)).toThrow(/no JSON form/);
  });
});
