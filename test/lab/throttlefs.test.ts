/**
 * The lab's throttled mount lets a station's clock sync rewrite the recorder's status
 * file (a temp beside it, renamed onto it) and refuses every other write (issue 17: the
 * soak's recorders take the sync). Needs the lab: in CI its absence is a failure.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { Lab, labProblems } from './lab.js';

const missing = await labProblems();
let lab: Lab | null = null;
afterAll(async () => {
  await lab?.close();
});

if (missing.length === 0 || process.env.CI === 'true') describe('the throttled mount and the status file (issue 17)', () => {
  it('passes the clock sync of RECORDER.JSON, refuses any other write', async () => {
    if (missing.length > 0) throw new Error(`the recorder lab cannot run:\n  - ${missing.join('\n  - ')}`);
    const dir = await tempDir('custody-throttle-');
    lab = new Lab(join(dir, 'lab'));
    const card = join(dir, 'card');
    await mkdir(join(card, 'DCIM'), { recursive: true });
    await writeFile(join(card, 'RECORDER.JSON'), '{"clockOffsetSeconds": 40}\n');
    await writeFile(join(card, 'DCIM', 'A_0001.MP4'), 'clip');
    const at = join(dir, 'rec');
    await lab.throttle(card, at, { rate: 30, statusFile: 'RECORDER.JSON' });
    await writeFile(join(at, '.RECORDER.JSON.sync.tmp'), '{"clockOffsetSeconds": 0}\n');
    await rename(join(at, '.RECORDER.JSON.sync.tmp'), join(at, 'RECORDER.JSON'));
    expect(await readFile(join(card, 'RECORDER.JSON'), 'utf8')).toBe('{"clockOffsetSeconds": 0}\n');
    await expect(writeFile(join(at, 'DCIM', 'A_0001.MP4'), 'changed')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(writeFile(join(at, 'OTHER.JSON'), '{}')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(rename(join(at, 'DCIM', 'A_0001.MP4'), join(at, 'RECORDER.JSON'))).rejects.toMatchObject({ code: 'EROFS' });
    expect(await readFile(join(card, 'DCIM', 'A_0001.MP4'), 'utf8')).toBe('clip');
  }, 60_000);

  it('holds a read that reaches a gate until the test releases it, and says so in its events', async () => {
    if (missing.length > 0) throw new Error(`the recorder lab cannot run:\n  - ${missing.join('\n  - ')}`);
    const dir = await tempDir('custody-gate-');
    lab ??= new Lab(join(dir, 'lab'));
    const card = join(dir, 'card');
    await mkdir(join(card, 'DCIM'), { recursive: true });
    const clip = randomBytes(1024 * 1024);
    await writeFile(join(card, 'DCIM', 'A_0001.MP4'), clip);
    const events = join(dir, 'events.log');
    const gate = join(dir, 'release');
    const at = join(dir, 'rec');
    const m = await lab.throttle(card, at, { gate: [{ glob: 'DCIM/*.MP4', offset: 512 * 1024, until: gate }], events });
    let done = false;
    const read = readFile(join(m.at, 'DCIM', 'A_0001.MP4')).then((b) => {
      done = true;
      return b;
    });
    await waitFor('the read to wait at the gate', async () => (await readFile(events, 'utf8').catch(() => '')).split('\n').includes('gate DCIM/A_0001.MP4'), 30_000, 20);
    expect(done).toBe(false);
    await writeFile(gate, '');
    expect((await read).equals(clip)).toBe(true);
  }, 60_000);
});
else console.warn(`[recorder lab] throttled mount test not run: ${missing.join('; ')}. (With CI=true this is a failure.)`);
