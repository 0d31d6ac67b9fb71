import { describe, expect, it } from 'vitest';
import { fileNumber, recorderGapFindings } from './sequence-gap.js';
import { SETTINGS, attributeTo, ev } from './rule-fixtures.spec.js';

const ctx = { settings: SETTINGS, attribute: attributeTo() };
const files = (...names: string[]) => names.map((n, i) => ev(`e${i}`, { source_name: n }));

describe('rule sequence-gap (issue 13)', () => {
  it('reads the file number before the extension, and the prefix without time stamps', () => {
    expect(fileNumber('ZFY001_20261120083000_0007.MP4')).toEqual({ n: 7, digits: 4, prefix: 'ZFY001_#' });
    expect(fileNumber('现场照片.jpg')).toBeNull();
  });

  it('raises nothing for consecutive numbers, a repeated number, or files without one', () => {
    expect(recorderGapFindings('ZFY001', files('A_0001.MP4', 'A_0002.MP4', 'A_0002.MP4', 'notes.MP4', 'A_0003.MP4'), ctx)).toEqual([]);
  });

  it('names the numbers skipped between two files', () => {
    const [f, ...rest] = recorderGapFindings('ZFY001', files('A_0001.MP4', 'A_0004.MP4'), ctx);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'sequence-gap', key: 'sequence-gap:ZFY001:e0:e1', evidenceId: 'e1', seen: { kind: 'gap', missing: ['0002', '0003'], missingCount: 2 } });
    expect(f!.summary).toBe('recorder ZFY001 skipped file numbers 0002, 0003 between A_0001.MP4 and A_0004.MP4');
  });

  it('counts through the wrap at 99…9', () => {
    const [f] = recorderGapFindings('ZFY001', files('A_9998.MP4', 'A_0001.MP4'), ctx);
    expect(f!.seen).toMatchObject({ kind: 'gap', missing: ['9999', '0000'] });
  });

  it('a jump beyond maxFileNumberJump, or going back, is a numbering reset, not thousands of missing files', () => {
    const [jump] = recorderGapFindings('ZFY001', files('A_0005.MP4', 'A_0500.MP4'), ctx);
    expect(jump!.seen).toMatchObject({ kind: 'numbering-reset', reason: 'jump', from: '0005', to: '0500', maxJump: 100 });
    const [back] = recorderGapFindings('ZFY001', files('A_0500.MP4', 'A_0001.MP4'), ctx);
    expect(back!.seen).toMatchObject({ kind: 'numbering-reset', reason: 'jump' });
  });

  it('another file-name prefix is a numbering reset', () => {
    const [f] = recorderGapFindings('ZFY001', files('A_0005.MP4', 'B_0001.MP4'), ctx);
    expect(f!.seen).toEqual({ kind: 'numbering-reset', reason: 'prefix', after: 'A_0005.MP4', before: 'B_0001.MP4', prefixBefore: 'A', prefixAfter: 'B' });
  });
});
