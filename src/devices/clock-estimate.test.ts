import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { DriverRegistry } from './drivers.js';
import { loadProfiles } from './profiles.js';

describe('the drift estimate for recorders whose clock nothing reads (issue 16)', () => {
  it('a plain mass-storage recorder (folder driver, no status file) gets the newest-file estimate, with its workings', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'DCIM'));
    const clip = join(root, 'DCIM', 'ZFY9_20261202141000_0001.MP4');
    await writeFile(clip, 'x');
    await writeFile(join(root, 'DCIM', 'ZFY9_20261202141100_0002.JPG'), 'photo, not timed');
    const ahead = new Date(Date.now() + 15 * 60_000);
    await utimes(clip, ahead, ahead);
    const seen: string[] = [];
    const drivers = new DriverRegistry({
      creationTimeOf: async (p) => {
        seen.push(p);
        return new Date(ahead.getTime() - 120_000);
      },
    });
    const generic = loadProfiles().get('generic-mass-storage')!;
    const h = await drivers.create({ location: root, profile: generic, usb: null }).health();
    expect(h.batteryPercent).toBeNull();
    expect(h.deviceClock).toBeNull();
    expect(h.clockDriftMethod).toBe('newest-file-estimate');
    expect(h.clockDriftMs!).toBeGreaterThan(14 * 60_000);
    expect(h.clockDriftMs!).toBeLessThanOrEqual(15 * 60_000);
    expect(h.clockEstimate).toMatchObject({ method: 'newest-file', bound: 'at-least', file: 'DCIM/ZFY9_20261202141000_0001.MP4', embeddedCreation: new Date(ahead.getTime() - 120_000).toISOString() });
    expect(seen).toEqual([clip]);

    // The simulated recorder reads its clock from its status file: no estimate there.
    const sim = loadProfiles().get('custody-simulated')!;
    await writeFile(
      join(root, 'RECORDER.JSON'),
      JSON.stringify({ format: 'custody-sim-recorder/1', serial: 'S', model: 'M', officer: 'O', unit: 'U', battery: 80, clockOffsetSeconds: 3, storageTotalBytes: 10, storageFreeBytes: 5 }),
    );
    const s = await drivers.create({ location: root, profile: sim, usb: null }).health();
    expect(s.clockDriftMs).toBe(3000);
    expect(s.clockEstimate).toBeUndefined();
  });
});
