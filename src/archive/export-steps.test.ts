import { describe, expect, it } from 'vitest';
import { CustodyError } from '../core/index.js';
import type { LedgerEntry } from '../ledger/index.js';
import { bagNameOf, copyErrorOf, diskWarnings, errnoOf, excerptEntries, excerptSeqs, scrub } from './export-steps.js';

const entry = (seq: number, type: string): LedgerEntry => ({ seq, time: '2026-11-27T06:00:00.000Z', type, actor: 'test', subject: null, data: {}, prev: '0'.repeat(64), hash: String(seq).padStart(64, '0') }) as LedgerEntry;

describe('export step: the copy folder name (issue 13)', () => {
  it('is the safe case number, the end of the export id and copy n of m', () => {
    expect(bagNameOf('XM-2026/0042', '0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 2, 3)).toBe('XM-2026_0042_0c1d2e3f4a5b_copy2of3');
  });
});

describe('export step: the ledger excerpt (issue 13)', () => {
  it('stops at the checkpoint, so every entry carried can be proven', () => {
    expect(excerptSeqs([1, 4, 9, 12], 9)).toEqual([1, 4, 9]);
    expect(excerptSeqs([1, 4, 9, 12], null)).toEqual([1, 4, 9, 12]);
  });

  it('carries the custody history only: no access.* entries (other people\'s views and refusals)', () => {
    const kept = excerptEntries([entry(1, 'evidence.ingested'), entry(2, 'access.viewed'), null, entry(3, 'hold.placed'), entry(4, 'access.exported')]);
    expect(kept.map((e) => [e.seq, e.type])).toEqual([
      [1, 'evidence.ingested'],
      [3, 'hold.placed'],
    ]);
  });
});

describe('export step: where the copies land (issue 13)', () => {
  it('says nothing of copies on separate disks away from the vault', () => {
    const devs = new Map<number, number>();
    expect(diskWarnings({ copy: 1, given: '/mnt/a', dev: 10, vaultDev: 1, devs })).toEqual([]);
    expect(diskWarnings({ copy: 2, given: '/mnt/b', dev: 11, vaultDev: 1, devs })).toEqual([]);
  });

  it('warns of a copy on the vault\'s disk and of two copies on one disk', () => {
    const devs = new Map<number, number>();
    expect(diskWarnings({ copy: 1, given: '/srv/x', dev: 1, vaultDev: 1, devs })).toEqual([
      'copy 1 is on the same disk as the vault (/srv/x): it does not protect against losing that disk',
    ]);
    expect(diskWarnings({ copy: 2, given: '/srv/y', dev: 1, vaultDev: null, devs })).toEqual(['copies 1 and 2 are on the same disk']);
  });
});

describe('export step: what the caller is told of a failed copy (issue 13)', () => {
  it('a custody error keeps its code, without station paths', () => {
    expect(copyErrorOf(new CustodyError('EXPORT_DESTINATION_FORBIDDEN', 'cannot write to /var/lib/custody/x now'), 1)).toEqual({
      code: 'EXPORT_DESTINATION_FORBIDDEN',
      message: 'cannot write to … now',
    });
  });

  it('a system error is EXPORT_WRITE_FAILED with its errno code only', () => {
    const e = Object.assign(new Error("ENOSPC: no space left on device, write '/mnt/a/x'"), { code: 'ENOSPC' });
    expect(copyErrorOf(e, 2)).toEqual({ code: 'EXPORT_WRITE_FAILED', message: 'copy 2 could not be written (ENOSPC)' });
    expect(copyErrorOf(new Error('boom'), 1)).toEqual({ code: 'EXPORT_WRITE_FAILED', message: 'copy 1 could not be written' });
    expect(errnoOf(null)).toBe('');
  });

  it('scrub turns a system message into its code and leaves absolute paths out', () => {
    expect(scrub("EACCES: permission denied, open '/var/lib/custody/vault/x'")).toBe('EACCES');
    expect(scrub('see /home/li/export for details')).toBe('see … for details');
  });
});
