import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSimulate } from '../cli/commands/simulate.js';
import { MediaTools } from '../media/index.js';
import { RECORDER_STATUS_FORMAT, parseRecorderStatus, simulateRecorder, type SimulatedRecorder } from './index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'custody-sim-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Resolving ffmpeg up front: without one every test here fails, loudly. */
let media: MediaTools;
beforeAll(() => {
  media = new MediaTools();
  media.binaries();
});

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (ent.isFile()) out.push(relative(root, join(ent.parentPath, ent.name)).split(sep).join('/'));
  }
  return out.sort();
}

describe('simulateRecorder', () => {
  let shared: string;
  let root: string;
  let sim: SimulatedRecorder;
  // 2026-03-01T01:59:58Z is 09:59:58 in Shanghai; the recorder runs 90 s fast.
  const recordedAt = new Date('2026-03-01T01:59:58.700Z');

  beforeAll(async () => {
    // One recorder for the read-only checks below, in its own temp dir.
    shared = await mkdtemp(join(tmpdir(), 'custody-sim-shared-'));
    root = join(shared, 'recorder');
    sim = await simulateRecorder({
      out: root,
      media,
      serial: 'DSJ0042',
      officer: '071234',
      officerName: '张三',
      unit: '350203000000',
      model: 'DSJ-V9',
      clips: 2,
      seconds: 1,
      recordedAt,
      clockOffsetSeconds: 90,
      battery: 64,
      timeZone: 'Asia/Shanghai',
      firstNumber: 41,
      omitNumbers: [43],
    });
  });
  afterAll(async () => {
    await rm(shared, { recursive: true, force: true });
  });

  it('writes the recorder layout, numbered across types in the device local time, and nothing else', async () => {
    expect(await tree(root)).toEqual([
      'DCIM/20260301/DSJ0042_20260301100128_0041.MP4',
      'DCIM/20260301/DSJ0042_20260301100149_0042.MP4',
      'PHOTO/20260301/DSJ0042_20260301100231_0045.JPG',
      'PHOTO/20260301/DSJ0042_20260301100251_0046.JPG',
      'RECORD/20260301/DSJ0042_20260301100210_0044.WAV',
      'RECORDER.JSON',
      'SYSTEM/LOG.TXT',
    ]);
    expect(sim.files.map((f) => [f.number, f.kind])).toEqual([
      [41, 'video'],
      [42, 'video'],
      [44, 'audio'],
      [45, 'photo'],
      [46, 'photo'],
    ]);
    expect(sim.missingNumbers).toEqual([43]);
    expect(sim.systemFiles).toEqual(['SYSTEM/LOG.TXT']);
    for (const f of sim.files) expect(f.path).toBe(join(root, ...f.relPath.split('/')));
  });

  it('keeps true and device times apart: the device clock is 90 s ahead', () => {
    const first = sim.files[0]!;
    expect(first.recordedStart).toEqual(new Date('2026-03-01T01:59:58Z'));
    expect(first.deviceStart).toEqual(new Date('2026-03-01T02:01:28Z'));
    for (const f of sim.files) expect(f.deviceStart.getTime() - f.recordedStart.getTime()).toBe(90_000);
    // Consecutive, with the default 20 s pause after each recording.
    expect(sim.files[1]!.recordedStart.getTime() - first.recordedStart.getTime()).toBe(21_000);
  });

  it('sets creation_time to the device clock at the clip start', async () => {
    const clip = sim.files[1]!;
    const info = await media.probe(clip.path);
    expect(info.kind).toBe('video');
    expect(info.container).toBe('mp4');
    expect(info.creationTime).toEqual(new Date('2026-03-01T02:01:49Z'));
    expect(info.streams.map((s) => s.codec)).toEqual(['h264', 'aac']);
    expect(info.durationMs).toBeGreaterThanOrEqual(950);
    expect(info.durationMs).toBeLessThanOrEqual(1100);
    expect(await media.creationTimeOf(clip.path)).toEqual(clip.deviceStart);
  });

  it('writes real media of the right kind, all different', async () => {
    const hashes = new Set<string>();
    for (const f of sim.files) {
      const info = await media.probe(f.path);
      expect(info.kind).toBe(f.kind);
      expect((await stat(f.path)).size).toBe(f.size);
      hashes.add(createHash('sha256').update(await readFile(f.path)).digest('hex'));
    }
    expect(hashes.size).toBe(sim.files.length);
  });

  it('sets each mtime to the device clock at the end of the recording', async () => {
    for (const f of sim.files) {
      const st = await stat(f.path);
      expect(st.mtimeMs).toBe(f.deviceStart.getTime() + f.durationMs);
      expect(f.mtime.getTime()).toBe(st.mtimeMs);
    }
    const photo = sim.files.find((f) => f.kind === 'photo')!;
    expect((await stat(photo.path)).mtime).toEqual(photo.deviceStart);
  });

  it('writes RECORDER.JSON that the schema accepts, with storage that adds up', async () => {
    const status = parseRecorderStatus(await readFile(sim.statusFile, 'utf8'));
    expect(status).toEqual({
      format: RECORDER_STATUS_FORMAT,
      serial: 'DSJ0042',
      model: 'DSJ-V9',
      officer: '071234',
      officerName: '张三',
      unit: '350203000000',
      battery: 64,
      clockOffsetSeconds: 90,
      storageTotalBytes: 32 * 1024 ** 3,
      storageFreeBytes: status.storageFreeBytes,
    });
    expect(sim.status).toEqual(status);
    const used = (await Promise.all((await tree(root)).filter((p) => p !== 'RECORDER.JSON').map(async (p) => (await stat(join(root, p))).size))).reduce((a, b) => a + b, 0);
    expect(status.storageFreeBytes).toBe(status.storageTotalBytes - used);
  });

  it('keeps a system log in device local time', async () => {
    const log = await readFile(join(root, 'SYSTEM', 'LOG.TXT'), 'utf8');
    expect(log).toContain('2026-03-01 10:01:28 REC START DSJ0042_20260301100128_0041.MP4');
    expect(log).toContain('2026-03-01 10:01:29 REC STOP DSJ0042_20260301100128_0041.MP4');
  });
});

describe('simulateRecorder, edge cases', () => {
  it('dates folders and names by the device clock, which may already be tomorrow', async () => {
    const out = join(await tempDir(), 'r');
    // 23:59:50 in Shanghai, recorder 15 s fast: it thinks it is 00:00:05 the next day.
    const sim = await simulateRecorder({ out, media, clips: 1, seconds: 1, recordedAt: new Date('2026-03-01T15:59:50Z'), clockOffsetSeconds: 15 });
    expect(sim.files[0]!.relPath).toBe('DCIM/20260302/SIM0001_20260302000005_0001.MP4');

    const utc = await simulateRecorder({ out: join(out, '..', 'utc'), media, clips: 1, seconds: 1, recordedAt: new Date('2026-03-01T15:59:50Z'), clockOffsetSeconds: -50, timeZone: 'UTC' });
    expect(utc.files[0]!.relPath).toBe('DCIM/20260301/SIM0001_20260301155900_0001.MP4');
    expect(await media.creationTimeOf(utc.files[0]!.path)).toEqual(new Date('2026-03-01T15:59:00Z'));
  });

  it('pads clips for benchmarks without breaking them', async () => {
    const out = join(await tempDir(), 'r');
    const clipBytes = 4 * 1024 * 1024;
    const sim = await simulateRecorder({ out, media, clips: 2, seconds: 1, clipBytes });
    const clips = sim.files.filter((f) => f.kind === 'video');
    for (const c of clips) {
      expect(c.size).toBeGreaterThanOrEqual(clipBytes);
      expect(await media.creationTimeOf(c.path)).toEqual(c.deviceStart);
      expect((await media.probe(c.path)).durationMs).toBeLessThanOrEqual(1100);
    }
    expect(sim.status.storageFreeBytes).toBeLessThan(sim.status.storageTotalBytes - 2 * clipBytes);
  });

  it('refuses a folder that is not empty, and bad options, as usage errors', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'evidence.mp4'), 'do not touch');
    await expect(simulateRecorder({ out: dir, media })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/not empty/) });
    expect(await readFile(join(dir, 'evidence.mp4'), 'utf8')).toBe('do not touch');
    const out = join(dir, 'r');
    await expect(simulateRecorder({ out, media, serial: '../x', battery: 101 })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/serial.*battery/),
    });
  });

  it('stops on an aborted signal and leaves the folder empty', async () => {
    const out = join(await tempDir(), 'r');
    const ac = new AbortController();
    ac.abort();
    await expect(simulateRecorder({ out, media, signal: ac.signal })).rejects.toMatchObject({ code: 'MEDIA_ABORTED' });
    expect(await readdir(out)).toEqual([]);
  });
});

describe('RECORDER.JSON schema', () => {
  const good = {
    format: RECORDER_STATUS_FORMAT,
    serial: 'S1',
    model: 'M',
    officer: '1',
    unit: 'U',
    battery: 50,
    clockOffsetSeconds: -2.5,
    storageTotalBytes: 100,
    storageFreeBytes: 40,
  };

  it('accepts a status, with or without a byte-order mark', () => {
    expect(parseRecorderStatus(JSON.stringify(good))).toEqual(good);
    expect(parseRecorderStatus('\uFEFF' + JSON.stringify(good))).toEqual(good);
  });

  it('rejects other formats, impossible values and non-JSON with RECORDER_STATUS_INVALID', () => {
    for (const bad of [
      JSON.stringify({ ...good, format: 'custody-sim-recorder/2' }),
      JSON.stringify({ ...good, storageFreeBytes: 101 }),
      JSON.stringify({ ...good, battery: 101 }),
      JSON.stringify({ ...good, serial: undefined }),
      '{',
    ]) {
      expect(() => parseRecorderStatus(bad)).toThrow(expect.objectContaining({ code: 'RECORDER_STATUS_INVALID' }));
    }
  });
});

describe('custody simulate recorder', () => {
  function program(): Command {
    const p = new Command('custody').option('--home <dir>').option('--config <file>').option('--json').option('--log-level <level>').exitOverride();
    registerSimulate(p);
    for (const c of p.commands) c.exitOverride();
    return p;
  }

  it('writes a recorder and prints its manifest as JSON', async () => {
    const dir = await tempDir();
    const out = join(dir, 'rec');
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    await program().parseAsync(
      ['--home', join(dir, 'home'), '--log-level', 'silent', 'simulate', 'recorder', '--out', out, '--clips', '1', '--seconds', '1', '--serial', 'CLI01', '--recorded-at', '2026-03-01T08:00:00+08:00', '--clock-offset', '-30', '--battery', '12', '--json'],
      { from: 'user' },
    );
    vi.restoreAllMocks();
    const manifest = JSON.parse(printed) as { files: { relPath: string; deviceStart: string }[]; status: { serial: string; battery: number; clockOffsetSeconds: number } };
    expect(manifest.status).toMatchObject({ serial: 'CLI01', battery: 12, clockOffsetSeconds: -30 });
    expect(manifest.files[0]).toMatchObject({ relPath: 'DCIM/20260301/CLI01_20260301075930_0001.MP4', deviceStart: '2026-02-28T23:59:30.000Z' });
    expect(await tree(out)).toHaveLength(6);
  });

  it('rejects a --recorded-at without a zone', async () => {
    const dir = await tempDir();
    await expect(
      program().parseAsync(['--home', dir, 'simulate', 'recorder', '--out', join(dir, 'r'), '--recorded-at', '2026-03-01T08:00:00'], { from: 'user' }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });
});
