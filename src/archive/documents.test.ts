import { describe, expect, it } from 'vitest';
import { payloadName, safeName } from './documents.js';

const item = (sourceName: string, evidenceId = '0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b') => ({
  officer: '0417',
  recorder: 'ZF-0417',
  recordedStart: '2026-11-20T01:02:03.000Z',
  sourceName,
  evidenceId,
});

describe('payload names (issue 8)', () => {
  it('reads officer, recorder, local recorded time and the original name, Chinese kept', () => {
    expect(payloadName(item('现场照片_0001.JPG'), 'Asia/Shanghai', new Set())).toBe('data/0417_ZF-0417_20261120-090203_现场照片_0001.JPG');
  });

  it('replaces what is unsafe on some file system and in a manifest line', () => {
    expect(safeName('a/b\\c:d*e?f"g<h>i|j%k\nl')).toBe('a_b_c_d_e_f_g_h_i_j_k_l');
    expect(safeName('..hidden')).toBe('_hidden');
  });

  it('keeps long Chinese names within Joliet and file-system limits, with their extension', () => {
    const n = payloadName(item('执'.repeat(300) + '.MP4'), 'Asia/Shanghai', new Set());
    const base = n.slice('data/'.length);
    expect([...base].length).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(base)).toBeLessThanOrEqual(240);
    expect(base.endsWith('.MP4')).toBe(true);
  });

  it('gives a clash the evidence id in front', () => {
    const taken = new Set<string>();
    const a = payloadName(item('A.MP4', 'id-1'), 'UTC', taken);
    const b = payloadName(item('a.mp4', 'id-2'), 'UTC', taken);
    expect(a).toBe('data/0417_ZF-0417_20261120-010203_A.MP4');
    expect(b).toBe('data/id-2_0417_ZF-0417_20261120-010203_a.mp4');
  });
});
