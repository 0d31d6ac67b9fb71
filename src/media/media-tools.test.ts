import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaTools, isMediaError, resolveBinary, type MediaErrorCode } from './index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'custody-media-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Resolves the real binaries; a missing ffmpeg fails every test that needs one, loudly. */
let media: MediaTools;
beforeAll(() => {
  // Generous limits for real ffmpeg work: a loaded CI machine must not turn a slow run into a "not found".
  media = new MediaTools({ creationTimeTimeoutMs: 30_000 });
  const { ffmpeg, ffprobe } = media.binaries();
  expect(ffmpeg.path).toBeTruthy();
  expect(ffprobe.path).toBeTruthy();
});

async function expectMediaError(p: Promise<unknown>, code: MediaErrorCode): Promise<Error & { code: string; retryable: boolean }> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isMediaError(e)) throw new Error(`expected MediaError ${code}, got ${String(e)}`);
  expect(e.code).toBe(code);
  return e;
}

/** A stand-in ffprobe: a shell script, used to make the real process misbehave on cue. */
async function fakeTool(dir: string, name: string, body: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const CREATED = new Date('2026-03-01T02:03:04Z');

async function clip(dir: string, name = 'clip.mp4', extra: Partial<{ seconds: number; faststart: boolean; minBytes: number }> = {}): Promise<string> {
  const p = join(dir, name);
  await media.generateSample(p, { kind: 'video', seconds: extra.seconds ?? 2, creationTime: CREATED, ...extra });
  return p;
}

describe('binary resolution', () => {
  it('prefers the configured path, then PATH, then the bundled build', async () => {
    const dir = await tempDir();
    const configured = await fakeTool(dir, 'my-ffprobe', 'exit 0');
    const onPathDir = join(dir, 'bin');
    await mkdir(onPathDir);
    const system = await fakeTool(onPathDir, 'ffprobe', 'exit 0');

    expect(resolveBinary('ffprobe', { configured, env: { PATH: onPathDir } })).toEqual({ tool: 'ffprobe', path: configured, source: 'configured' });
    expect(resolveBinary('ffprobe', { env: { PATH: `/nonexistent:${onPathDir}` } })).toEqual({ tool: 'ffprobe', path: system, source: 'system' });
    // A bare configured name is looked up on PATH.
    expect(resolveBinary('ffprobe', { configured: 'ffprobe', env: { PATH: onPathDir } }).path).toBe(system);

    const bundled = resolveBinary('ffmpeg', { env: { PATH: '' } });
    expect(bundled.source).toBe('bundled');
    expect((await stat(bundled.path)).isFile()).toBe(true);
  });

  it('refuses a configured path that does not work instead of silently using another build', async () => {
    const dir = await tempDir();
    const notExecutable = join(dir, 'ffmpeg');
    await writeFile(notExecutable, 'not a program');
    for (const configured of [join(dir, 'missing'), notExecutable, 'no-such-ffmpeg-anywhere']) {
      let err: unknown;
      try {
        resolveBinary('ffmpeg', { configured, env: { PATH: dir } });
      } catch (e) {
        err = e;
      }
      expect(isMediaError(err, 'MEDIA_BINARY_NOT_FOUND')).toBe(true);
      expect((err as Error).message).toContain('media.ffmpegPath');
    }
  });

  it('reports a missing binary when neither PATH nor the bundled build has one', () => {
    expect(() => resolveBinary('ffprobe', { env: { PATH: '' }, bundled: false })).toThrow(/no ffprobe on PATH/);
  });

  it('never picks a binary from a relative PATH entry (the working directory)', async () => {
    const dir = await tempDir();
    await fakeTool(dir, 'ffprobe', 'exit 0');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(() => resolveBinary('ffprobe', { env: { PATH: '.:' }, bundled: false })).toThrow(/no ffprobe/);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('probe', () => {
  it('describes an H.264/AAC MP4 with its creation time', async () => {
    const dir = await tempDir();
    const info = await media.probe(await clip(dir));
    expect(info).toMatchObject({ kind: 'video', container: 'mp4', creationTime: CREATED });
    expect(info.durationMs).toBeGreaterThanOrEqual(1950);
    expect(info.durationMs).toBeLessThanOrEqual(2100);
    expect(info.bitRate).toBeGreaterThan(0);
    expect(info.streams).toEqual([
      { type: 'video', codec: 'h264', width: 640, height: 360, frameRate: 25 },
      { type: 'audio', codec: 'aac', sampleRate: 48000, channels: 1 },
    ]);
  });

  it('describes a WAV recording and a JPEG photo', async () => {
    const dir = await tempDir();
    const wav = join(dir, 'rec.wav');
    const jpg = join(dir, 'photo.jpg');
    await media.generateSample(wav, { kind: 'audio', seconds: 3, sampleRate: 8000 });
    await media.generateSample(jpg, { kind: 'photo', width: 800, height: 600 });

    const a = await media.probe(wav);
    expect(a).toMatchObject({ kind: 'audio', container: 'wav', durationMs: 3000 });
    expect(a.streams).toEqual([{ type: 'audio', codec: 'pcm_s16le', sampleRate: 8000, channels: 1 }]);
    expect(a.creationTime).toBeUndefined();

    const p = await media.probe(jpg);
    expect(p).toEqual({ kind: 'photo', container: 'jpeg', durationMs: 0, streams: [{ type: 'video', codec: 'mjpeg', width: 800, height: 600 }] });
  });

  it('reads the creation time of a Matroska file', async () => {
    const dir = await tempDir();
    const mkv = join(dir, 'clip.mkv');
    await media.generateSample(mkv, { kind: 'video', seconds: 1, container: 'matroska', creationTime: CREATED, width: 320, height: 240 });
    const info = await media.probe(mkv);
    expect(info).toMatchObject({ kind: 'video', container: 'matroska', creationTime: CREATED });
  });

  it('fails typed, not retryable, on a truncated MP4, random bytes, a folder and a missing file', async () => {
    const dir = await tempDir();
    const truncated = await clip(dir, 'truncated.mp4');
    await truncate(truncated, Math.floor((await stat(truncated)).size / 2));
    const random = join(dir, 'random.mp4');
    await writeFile(random, randomBytes(64 * 1024));
    for (const bad of [truncated, random, dir, join(dir, 'missing.mp4')]) {
      const e = await expectMediaError(media.probe(bad), 'MEDIA_PROBE_FAILED');
      expect(e.retryable).toBe(false);
    }
  });

  it('refuses a FIFO instead of blocking on it', async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'trap.mp4');
    execFileSync('mkfifo', [fifo]);
    const e = await expectMediaError(media.probe(fifo, { timeoutMs: 60_000 }), 'MEDIA_PROBE_FAILED');
    expect(e.message).toMatch(/not a regular file/);
  });

  it('treats a hostile file name as a file, not as an ffmpeg protocol', async () => {
    const dir = await tempDir();
    const src = await clip(dir);
    const hostile = join(dir, 'concat:pipe:0|x.mp4');
    await copyFile(src, hostile);
    expect((await media.probe(hostile)).kind).toBe('video');
  });

  it('kills ffprobe when it runs past the timeout', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'pid');
    const slow = new MediaTools({ ffprobePath: await fakeTool(dir, 'ffprobe', `echo $$ > '${pidFile}'\nexec sleep 30`) });
    const target = await clip(dir);
    const t0 = Date.now();
    const e = await expectMediaError(slow.probe(target, { timeoutMs: 300 }), 'MEDIA_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(20_000); // well short of the fake tool's 30 s: the limit, not the tool, ended it
    expect(e.retryable).toBe(true);
    expect(alive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('kills ffprobe when the signal aborts, and does not start it for an aborted signal', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'pid');
    const slow = new MediaTools({ ffprobePath: await fakeTool(dir, 'ffprobe', `echo $$ > '${pidFile}'\nexec sleep 30`) });
    const target = await clip(dir);

    const before = new AbortController();
    before.abort();
    await expectMediaError(slow.probe(target, { signal: before.signal }), 'MEDIA_ABORTED');
    await expect(stat(pidFile)).rejects.toThrow();

    const ac = new AbortController();
    const pending = slow.probe(target, { signal: ac.signal, timeoutMs: 60_000 });
    // Wait for the child to be running (its pid written: the file exists a moment before
    // its content, and a niced child under load may be killed in between), then abort.
    let pid = 0;
    while (!(pid > 0)) {
      pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (!(pid > 0)) await new Promise((r) => setImmediate(r));
    }
    ac.abort();
    await expectMediaError(pending, 'MEDIA_ABORTED');
    expect(alive(pid)).toBe(false);
  });

  it('turns garbage and runaway output into MEDIA_PROBE_FAILED', async () => {
    const dir = await tempDir();
    const target = await clip(dir);
    const garbage = new MediaTools({ ffprobePath: await fakeTool(dir, 'garbage', 'echo "this is not json"') });
    await expectMediaError(garbage.probe(target), 'MEDIA_PROBE_FAILED');
    const runaway = new MediaTools({ ffprobePath: await fakeTool(dir, 'runaway', 'exec yes') });
    const e = await expectMediaError(runaway.probe(target, { timeoutMs: 30_000 }), 'MEDIA_PROBE_FAILED');
    expect(e.message).toMatch(/output larger than/);
    const failing = new MediaTools({ ffprobePath: await fakeTool(dir, 'failing', 'echo "moov atom not found" >&2; exit 1') });
    expect((await expectMediaError(failing.probe(target), 'MEDIA_PROBE_FAILED')).message).toMatch(/moov atom not found$/);
  });
});

describe('thumbnail', () => {
  async function webpMeta(buf: Buffer): Promise<Metadata> {
    return sharp(buf).metadata();
  }

  it('makes a WebP of the requested width from a video frame', async () => {
    const dir = await tempDir();
    const t = await media.thumbnail(await clip(dir), { width: 160 });
    if (!t.hasPicture) throw new Error('expected a picture');
    const meta = await webpMeta(t.webp);
    expect(meta).toMatchObject({ format: 'webp', width: 160, height: 90 });
    expect([t.width, t.height]).toEqual([160, 90]);
  });

  it('resizes a photo itself, using the configured default width', async () => {
    const dir = await tempDir();
    const jpg = join(dir, 'p.jpg');
    await media.generateSample(jpg, { kind: 'photo', width: 1280, height: 720 });
    const tools = new MediaTools({ thumbnailWidth: 96 });
    const t = await tools.thumbnail(jpg);
    if (!t.hasPicture) throw new Error('expected a picture');
    expect(await webpMeta(t.webp)).toMatchObject({ format: 'webp', width: 96, height: 54 });
  });

  it('says "no picture" for audio, without an error', async () => {
    const dir = await tempDir();
    const wav = join(dir, 'r.wav');
    await media.generateSample(wav, { kind: 'audio', seconds: 1 });
    expect(await media.thumbnail(wav, { width: 100 })).toEqual({ hasPicture: false, reason: 'audio' });
  });

  it('falls back to the first frame when there is none at 10 % of the duration', async () => {
    const dir = await tempDir();
    // 0.2 s of picture in a 20 s file: 10 % (2 s) is past the last frame.
    const p = join(dir, 'short-video.mp4');
    await media.generateSample(p, { kind: 'video', seconds: 0.2, audioSeconds: 20 });
    expect((await media.probe(p)).durationMs).toBeGreaterThan(19_000);
    const t = await media.thumbnail(p, { width: 64 });
    if (!t.hasPicture) throw new Error('expected a picture');
    expect(await webpMeta(t.webp)).toMatchObject({ format: 'webp', width: 64, height: 36 });
  });

  it('kills ffmpeg when the frame takes longer than the timeout', async () => {
    const dir = await tempDir();
    const target = await clip(dir);
    const pidFile = join(dir, 'pid');
    const stuck = new MediaTools({ ffmpegPath: await fakeTool(dir, 'ffmpeg', `echo $$ > '${pidFile}'\nexec sleep 30`) });
    const t0 = Date.now();
    await expectMediaError(stuck.thumbnail(target, { width: 64, timeoutMs: 1500 }), 'MEDIA_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(20_000); // well short of the fake tool's 30 s
    expect(alive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('fails typed on broken media', async () => {
    const dir = await tempDir();
    const random = join(dir, 'random.mp4');
    await writeFile(random, randomBytes(4096));
    await expectMediaError(media.thumbnail(random, { width: 64 }), 'MEDIA_PROBE_FAILED');
    await expectMediaError(media.thumbnail(random, { width: 0 }), 'MEDIA_THUMBNAIL_FAILED');
  });
});

describe('creationTimeOf', () => {
  it('reads MP4 headers whether the moov box is at the end or the start, and agrees with probe', async () => {
    const dir = await tempDir();
    const atEnd = await clip(dir, 'end.mp4');
    const atStart = await clip(dir, 'start.mp4', { faststart: true });
    expect(await media.creationTimeOf(atEnd)).toEqual(CREATED);
    expect(await media.creationTimeOf(atStart)).toEqual(CREATED);
    expect((await media.probe(atEnd)).creationTime).toEqual(CREATED);
  });

  it('needs no ffprobe for MP4 (no child process on the ingest path)', async () => {
    const dir = await tempDir();
    const target = await clip(dir);
    const noProbe = new MediaTools({ ffprobePath: await fakeTool(dir, 'ffprobe', 'exit 1') });
    expect(await noProbe.creationTimeOf(target)).toEqual(CREATED);
  });

  it('reads a padded clip (trailing free box) like the clip itself', async () => {
    const dir = await tempDir();
    const padded = await clip(dir, 'padded.mp4', { seconds: 1, minBytes: 3 * 1024 * 1024 });
    expect((await stat(padded)).size).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(await media.creationTimeOf(padded)).toEqual(CREATED);
    const info = await media.probe(padded);
    expect(info.kind).toBe('video');
    expect(info.durationMs).toBeLessThanOrEqual(1100);
  });

  it('does not read audio or pictures: they have no container creation time', async () => {
    const dir = await tempDir();
    // An MP4 under an audio recording's name: read, it would give its time.
    const named = join(dir, 'NOTE_0001.WAV');
    await copyFile(await clip(dir), named);
    expect(await media.creationTimeOf(named)).toBeNull();
    const mp4 = join(dir, 'NOTE_0001.MP4');
    await copyFile(named, mp4);
    expect(await media.creationTimeOf(mp4)).toEqual(CREATED);
  });

  it('asks ffprobe for other containers', async () => {
    const dir = await tempDir();
    const mkv = join(dir, 'c.mkv');
    await media.generateSample(mkv, { kind: 'video', seconds: 1, container: 'matroska', creationTime: CREATED, width: 320, height: 240 });
    expect(await media.creationTimeOf(mkv)).toEqual(CREATED);
  });

  it('gives up on a stuck ffprobe within its short limit and returns null', async () => {
    const dir = await tempDir();
    const mkv = join(dir, 'c.mkv');
    await media.generateSample(mkv, { kind: 'video', seconds: 1, container: 'matroska', creationTime: CREATED, width: 320, height: 240 });
    const stuck = new MediaTools({ ffprobePath: await fakeTool(dir, 'ffprobe', 'exec sleep 30'), creationTimeTimeoutMs: 300 });
    const t0 = Date.now();
    expect(await stuck.creationTimeOf(mkv)).toBeNull();
    expect(Date.now() - t0).toBeLessThan(20_000); // well short of the fake tool's 30 s: the limit, not the tool, ended it
  });

  it('returns null, never throws, for media without one and for bad files', async () => {
    const dir = await tempDir();
    const wav = join(dir, 'a.wav');
    await media.generateSample(wav, { kind: 'audio', seconds: 1 });
    const noTime = join(dir, 'untimed.mp4');
    await media.generateSample(noTime, { kind: 'video', seconds: 1 });
    const truncated = await clip(dir, 'truncated.mp4');
    await truncate(truncated, Math.floor((await stat(truncated)).size / 2));
    const random = join(dir, 'random.mp4');
    await writeFile(random, randomBytes(8192));
    const fifo = join(dir, 'fifo.mp4');
    execFileSync('mkfifo', [fifo]);
    for (const f of [wav, noTime, truncated, random, fifo, dir, join(dir, 'missing.mp4')]) {
      expect(await media.creationTimeOf(f)).toBeNull();
    }
  });

  describe('hand-made ISO BMFF boxes', () => {
    const box = (type: string, ...payload: Buffer[]): Buffer => {
      const body = Buffer.concat(payload);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(8 + body.length, 0);
      h.write(type, 4, 'latin1');
      return Buffer.concat([h, body]);
    };
    const MP4_EPOCH = 2_082_844_800;
    const ftyp = box('ftyp', Buffer.from('isom\0\0\0\0isom', 'latin1'));
    const mvhdV0 = (secs: number): Buffer => {
      const b = Buffer.alloc(100);
      b.writeUInt32BE(secs, 4);
      return box('mvhd', b);
    };
    const mvhdV1 = (secs: bigint): Buffer => {
      const b = Buffer.alloc(112);
      b[0] = 1;
      b.writeBigUInt64BE(secs, 4);
      return box('mvhd', b);
    };
    const mdhd = (secs: number): Buffer => {
      const b = Buffer.alloc(24);
      b.writeUInt32BE(secs, 4);
      return box('mdhd', b);
    };
    const at = async (bytes: Buffer): Promise<Date | null> => {
      const dir = await tempDir();
      const f = join(dir, 'x.mp4');
      await writeFile(f, bytes);
      return media.creationTimeOf(f);
    };
    const secs = CREATED.getTime() / 1000 + MP4_EPOCH;

    it('reads version 0 and version 1 (64-bit) movie headers', async () => {
      expect(await at(Buffer.concat([ftyp, box('mdat', Buffer.alloc(1000)), box('moov', mvhdV0(secs))]))).toEqual(CREATED);
      expect(await at(Buffer.concat([ftyp, box('moov', mvhdV1(BigInt(secs)))]))).toEqual(CREATED);
    });

    it('falls back to a track media header when the movie header time is zero', async () => {
      const moov = box('moov', mvhdV0(0), box('trak', box('mdia', mdhd(secs))));
      expect(await at(Buffer.concat([ftyp, moov]))).toEqual(CREATED);
      expect(await at(Buffer.concat([ftyp, box('moov', mvhdV0(0))]))).toBeNull();
    });

    it('survives hostile sizes: too small, past the end, 64-bit giants', async () => {
      const tooSmall = Buffer.from(ftyp);
      tooSmall.writeUInt32BE(4, 0);
      const pastEnd = Buffer.concat([ftyp, box('moov', mvhdV0(secs))]);
      pastEnd.writeUInt32BE(0x7fff_ffff, ftyp.length);
      const giant = Buffer.alloc(16);
      giant.writeUInt32BE(1, 0);
      giant.write('mdat', 4, 'latin1');
      giant.writeBigUInt64BE(0xffff_ffff_ffff_ffffn, 8);
      const shortMvhd = Buffer.concat([ftyp, box('moov', box('mvhd', Buffer.alloc(2)))]);
      for (const bytes of [tooSmall, pastEnd, Buffer.concat([ftyp, giant]), shortMvhd, Buffer.alloc(0)]) {
        expect(await at(bytes)).toBeNull();
      }
    });
  });
});

describe('generateSample', () => {
  it('never overwrites an existing file and leaves no partial output on failure', async () => {
    const dir = await tempDir();
    const existing = join(dir, 'x.mp4');
    await writeFile(existing, 'precious');
    await expectMediaError(media.generateSample(existing, { kind: 'video', seconds: 1 }), 'MEDIA_GENERATE_FAILED');
    expect(await readFile(existing, 'utf8')).toBe('precious');

    const broken = new MediaTools({ ffmpegPath: await fakeTool(dir, 'ffmpeg', 'for a; do out="$a"; done\necho partial > "${out#file:}"\nexit 1') });
    const target = join(dir, 'y.mp4');
    await expectMediaError(broken.generateSample(target, { kind: 'video', seconds: 1 }), 'MEDIA_GENERATE_FAILED');
    await expect(stat(target)).rejects.toThrow();
  });

  it('makes samples with the same settings differ by variant', async () => {
    const dir = await tempDir();
    const a = join(dir, 'a.jpg');
    const b = join(dir, 'b.jpg');
    await media.generateSample(a, { kind: 'photo', variant: 1 });
    await media.generateSample(b, { kind: 'photo', variant: 2 });
    expect((await readFile(a)).equals(await readFile(b))).toBe(false);
  });
});
