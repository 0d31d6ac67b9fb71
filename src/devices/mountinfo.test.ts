import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { isMountPoint, mountAt, mountsBelow, parseMountInfo, readMountInfo } from './mountinfo.js';

const fixture = readFileSync(new URL('./fixtures/mountinfo.txt', import.meta.url), 'utf8');

describe('parseMountInfo', () => {
  const table = parseMountInfo(fixture);

  it('reads every well-formed line and skips the malformed ones', () => {
    expect(table).toHaveLength(12);
    expect(table.some((m) => m.mountPoint === '/mnt/bad')).toBe(false);
  });

  it('takes the device numbers, source and type, past any number of optional fields', () => {
    expect(mountAt(table, '/media/ZFY001')).toMatchObject({ mountId: 530, parentId: 28, major: 8, minor: 17, root: '/', fsType: 'vfat', source: '/dev/sdb1' });
    // "shared:405 master:3": two optional fields before the separator.
    expect(mountAt(table, '/run/media/alice/REC 001')).toMatchObject({ major: 8, minor: 33, fsType: 'exfat', source: '/dev/sdc1' });
  });

  it('undoes the octal escapes of spaces and tabs', () => {
    expect(table.map((m) => m.mountPoint)).toContain('/run/media/alice/REC 001');
    expect(table.map((m) => m.mountPoint)).toContain('/mnt/bind\ttab');
    expect(mountAt(table, '/mnt/bind\ttab')?.root).toBe('/srv/drop');
  });

  it('answers for the topmost of stacked mounts, and only for exact mount points', () => {
    expect(mountAt(table, '/media/STACKED')?.source).toBe('/dev/sdf1');
    expect(mountAt(table, '/media/ZFY001/DCIM')).toBeNull();
    expect(mountAt(table, '/media/ZFY001/')?.mountId).toBe(530);
  });

  it('finds the mounts inside a user folder', () => {
    expect(mountsBelow(table, '/run/media/alice').map((m) => m.mountPoint)).toEqual(['/run/media/alice/REC 001']);
    expect(mountsBelow(table, '/run/media/bob')).toEqual([]);
    expect(mountsBelow(table, '/media').map((m) => m.mountPoint)).toEqual(['/media/ZFY001', '/media/custody/sdd', '/media/STACKED', '/media/STACKED']);
  });
});

describe('isMountPoint', () => {
  it('uses the table when there is one', async () => {
    const table = parseMountInfo(fixture);
    expect(await isMountPoint('/media/ZFY001', table)).toBe(true);
    expect(await isMountPoint('/media/ZFY002', table)).toBe(false);
  });

  it('without a table, compares the device of the folder with its parent', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'plain'));
    expect(await isMountPoint(join(dir, 'plain'), null)).toBe(false);
    expect(await isMountPoint(join(dir, 'missing'), null)).toBe(false);
    // /proc is a filesystem of its own wherever there is one.
    expect(await isMountPoint('/proc', null)).toBe(process.platform === 'linux');
  });

  it('reads the table from a file, and gives null where there is none', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'mountinfo'), fixture);
    expect(await readMountInfo(join(dir, 'mountinfo'))).toHaveLength(12);
    expect(await readMountInfo(join(dir, 'none'))).toBeNull();
  });
});
