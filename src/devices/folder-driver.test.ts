import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { FolderDriver } from './folder-driver.js';
import { RECORDER_STATUS_FORMAT } from './status-file.js';

async function files(root: string, paths: string[]): Promise<void> {
  for (const p of paths) {
    await mkdir(join(root, ...p.split('/').slice(0, -1)), { recursive: true });
    await writeFile(join(root, ...p.split('/')), 'x');
  }
}

async function list(d: FolderDriver): Promise<string[]> {
  const out: string[] = [];
  for await (const f of d.listFiles()) out.push(f.path);
  return out;
}

const status = {
  format: RECORDER_STATUS_FORMAT,
  serial: 'SIM7',
  model: 'SIM-DSJ-1',
  officer: '100001',
  unit: 'U1',
  battery: 55,
  clockOffsetSeconds: 95,
  storageTotalBytes: 1000,
  storageFreeBytes: 400,
};

describe('FolderDriver as model profiles configure it', () => {
  it('lists only the media folders of the layout, whatever their case', async () => {
    const root = await tempDir();
    await files(root, ['dcim/100/a.mp4', 'RECORD/b.wav', 'SYSTEM/c.mp4', 'd.mp4']);
    expect(await list(new FolderDriver({ root, mediaDirs: ['DCIM', 'record'] }))).toEqual(['RECORD/b.wav', 'dcim/100/a.mp4']);
    expect(await list(new FolderDriver({ root }))).toEqual(['RECORD/b.wav', 'SYSTEM/c.mp4', 'd.mp4', 'dcim/100/a.mp4']);
  });

  it('reads the serial from file names only when every sampled name agrees', async () => {
    const root = await tempDir();
    await files(root, ['DCIM/ZFY9_20260301100128_0001.MP4', 'DCIM/ZFY9_20260301100149_0002.MP4', 'DCIM/notes.txt']);
    const pattern = /^(?<serial>[A-Z0-9]+)_\d{14}_\d{4}\./u;
    const d = new FolderDriver({ root, statusFile: null, serialFromNames: pattern, fallbackIdentity: { model: 'X1' } });
    expect(await d.identify()).toEqual({ serial: 'ZFY9', model: 'X1', officer: null, unit: null });
    await files(root, ['DCIM/ZFY8_20260301100149_0003.MP4']);
    const mixed = new FolderDriver({ root, statusFile: null, serialFromNames: pattern });
    await expect(mixed.identify()).rejects.toMatchObject({ code: 'RECORDER_UNIDENTIFIED' });
  });

  it('prefers the status file to the USB serial, and the USB serial to file names', async () => {
    const root = await tempDir();
    await files(root, ['DCIM/ZFY9_20260301100128_0001.MP4']);
    const pattern = /^(?<serial>[A-Z0-9]+)_/u;
    const usb = new FolderDriver({ root, fallbackIdentity: { serial: 'USB-SN-1' }, serialFromNames: pattern });
    expect((await usb.identify()).serial).toBe('USB-SN-1');
    await writeFile(join(root, 'RECORDER.JSON'), JSON.stringify(status));
    expect((await new FolderDriver({ root, fallbackIdentity: { serial: 'USB-SN-1' }, serialFromNames: pattern }).identify()).serial).toBe('SIM7');
  });

  it('reports unknown battery and clock without a status file, and storage from statfs', async () => {
    const root = await tempDir();
    const h = await new FolderDriver({ root, statusFile: null }).health();
    expect(h).toMatchObject({ batteryPercent: null, deviceClock: null, clockDriftMs: null });
    expect(h.storageTotalBytes).toBeGreaterThan(0);
    expect(new FolderDriver({ root, statusFile: null, clockSync: true }).syncClock).toBeUndefined();
  });

  it('sets the simulated clock by rewriting the status file, after health has measured the drift', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'RECORDER.JSON'), JSON.stringify(status));
    const now = new Date('2026-03-01T02:00:00Z');
    const d = new FolderDriver({ root, clockSync: true, now: () => now });
    expect(await d.health()).toMatchObject({ clockDriftMs: 95_000, deviceClock: new Date('2026-03-01T02:01:35Z'), batteryPercent: 55 });
    expect(await d.syncClock!()).toEqual(now);
    expect(JSON.parse(await readFile(join(root, 'RECORDER.JSON'), 'utf8'))).toEqual({ ...status, clockOffsetSeconds: 0 });
    expect((await d.health()).clockDriftMs).toBe(0);
    expect(new FolderDriver({ root }).syncClock).toBeUndefined();
  });
});
