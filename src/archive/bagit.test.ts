import { describe, expect, it } from 'vitest';
import {
  algorithmSupported,
  checkCompleteness,
  checkFetch,
  checkPayloadOxum,
  encodingSupported,
  parseManifest,
  type BagProblem,
  type ParsedManifest,
} from './bagit.js';

const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const codes = (ps: BagProblem[]): string[] => ps.map((p) => p.code);

describe('bag check: the tag-file encoding (issue 13)', () => {
  it('accepts UTF-8 and UTF-16 and refuses what cannot be decoded', () => {
    const problems: BagProblem[] = [];
    expect(encodingSupported('UTF-8', problems)).toBe(true);
    expect(encodingSupported('UTF-16', problems)).toBe(true);
    expect(problems).toEqual([]);
    expect(encodingSupported('EBCDIC-7', problems)).toBe(false);
    expect(codes(problems)).toEqual(['BAG_ENCODING_UNSUPPORTED']);
  });
});

describe('bag check: manifest algorithms (issue 13)', () => {
  it('checks the algorithms it knows and names the one it cannot', () => {
    const problems: BagProblem[] = [];
    expect(algorithmSupported('manifest-sha256.txt', 'sha256', problems)).toBe(true);
    expect(algorithmSupported('manifest-md5.txt', 'md5', problems)).toBe(true);
    expect(algorithmSupported('manifest-whirlpool.txt', 'whirlpool', problems)).toBe(false);
    expect(problems).toEqual([expect.objectContaining({ code: 'MANIFEST_ALGORITHM_UNSUPPORTED', path: 'manifest-whirlpool.txt' })]);
  });
});

describe('bag check: manifest lines (issue 13)', () => {
  const payload = { version: '1.0', tag: false };

  it('reads "<checksum> <path>" lines, lowercasing the checksum and normalising ./', () => {
    const problems: BagProblem[] = [];
    const entries = parseManifest('manifest-sha256.txt', 'sha256', `${SHA256_EMPTY.toUpperCase()}  ./data/a.mp4\n\n${SHA256_EMPTY} data/b%25c.mp4\n`, payload, problems);
    expect(problems).toEqual([]);
    expect([...entries]).toEqual([
      ['data/a.mp4', SHA256_EMPTY],
      ['data/b%c.mp4', SHA256_EMPTY],
    ]);
  });

  it('keeps percent signs as written in a 0.97 bag', () => {
    const entries = parseManifest('manifest-sha256.txt', 'sha256', `${SHA256_EMPTY} data/b%25c.mp4`, { version: '0.97', tag: false }, []);
    expect([...entries.keys()]).toEqual(['data/b%25c.mp4']);
  });

  it('leaves out, and names, a bad line, an unsafe path, a path outside data/ and a duplicate', () => {
    const problems: BagProblem[] = [];
    const text = [`abc data/short.mp4`, `${SHA256_EMPTY} ../etc/passwd`, `${SHA256_EMPTY} /abs.mp4`, `${SHA256_EMPTY} bag-info.txt`, `${SHA256_EMPTY} data/x`, `${SHA256_EMPTY} data/x`].join('\n');
    const entries = parseManifest('manifest-sha256.txt', 'sha256', text, payload, problems);
    expect([...entries.keys()]).toEqual(['data/x']);
    expect(codes(problems)).toEqual(['MANIFEST_LINE_INVALID', 'MANIFEST_PATH_UNSAFE', 'MANIFEST_PATH_UNSAFE', 'MANIFEST_PATH_OUTSIDE_PAYLOAD', 'MANIFEST_DUPLICATE']);
  });

  it('a tag manifest lists tag files only: not the payload, not tag manifests', () => {
    const problems: BagProblem[] = [];
    const text = [`${SHA256_EMPTY} bagit.txt`, `${SHA256_EMPTY} data/a.mp4`, `${SHA256_EMPTY} tagmanifest-md5.txt`].join('\n');
    const entries = parseManifest('tagmanifest-sha256.txt', 'sha256', text, { version: '1.0', tag: true }, problems);
    expect([...entries.keys()]).toEqual(['bagit.txt']);
    expect(codes(problems)).toEqual(['MANIFEST_PATH_NOT_TAG_FILE', 'MANIFEST_PATH_NOT_TAG_FILE']);
  });
});

describe('bag check: completeness (issue 13)', () => {
  const manifest = (file: string, paths: string[]): ParsedManifest => ({ alg: 'sha256', file, entries: new Map(paths.map((p) => [p, SHA256_EMPTY])) });

  it('passes when every manifest lists exactly the payload', () => {
    const problems: BagProblem[] = [];
    checkCompleteness([manifest('manifest-sha256.txt', ['data/a', 'data/b'])], [{ path: 'data/a' }, { path: 'data/b' }], problems);
    expect(problems).toEqual([]);
  });

  it('names a payload file a manifest leaves out, and a listed file that is not there, per manifest', () => {
    const problems: BagProblem[] = [];
    checkCompleteness([manifest('manifest-sha256.txt', ['data/a', 'data/gone']), manifest('manifest-md5.txt', ['data/a', 'data/b'])], [{ path: 'data/a' }, { path: 'data/b' }], problems);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['PAYLOAD_NOT_IN_MANIFEST', 'data/b'],
      ['PAYLOAD_MISSING', 'data/gone'],
    ]);
  });
});

describe('bag check: Payload-Oxum (issue 13)', () => {
  const payload = { bytes: 1234, files: 2 };
  const check = (info: Array<[string, string]>): string[] => {
    const problems: BagProblem[] = [];
    checkPayloadOxum(info, payload, problems);
    return codes(problems);
  };

  it('is optional, and passes when it equals the payload (label in any case)', () => {
    expect(check([['Source-Organization', 'x']])).toEqual([]);
    expect(check([['payload-oxum', '1234.2']])).toEqual([]);
  });

  it('names a wrong count, a malformed value and a repeated label', () => {
    expect(check([['Payload-Oxum', '1234.3']])).toEqual(['PAYLOAD_OXUM_MISMATCH']);
    expect(check([['Payload-Oxum', '1234']])).toEqual(['BAG_INFO_INVALID']);
    expect(check([['Payload-Oxum', '1234.2'], ['Payload-Oxum', '1234.2']])).toEqual(['BAG_INFO_INVALID']);
  });
});

describe('bag check: fetch.txt (issue 13)', () => {
  const check = (text: string): string[] => {
    const problems: BagProblem[] = [];
    checkFetch(text, '1.0', problems);
    return codes(problems);
  };

  it('accepts lines whose paths stay in data/, with or without a length', () => {
    expect(check('https://example.org/a.mp4 1234 data/a.mp4\nhttps://example.org/b.mp4 - data/b.mp4\n')).toEqual([]);
  });

  it('names a malformed line and a path that leaves the payload', () => {
    expect(check('https://example.org/a.mp4 data/a.mp4')).toEqual(['FETCH_LINE_INVALID']);
    expect(check('https://example.org/a 1 ../../etc/passwd\nhttps://example.org/b 1 bagit.txt')).toEqual(['FETCH_PATH_UNSAFE', 'FETCH_PATH_UNSAFE']);
  });
});
