import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaTools, isMediaError, playbackPlan } from './index.js';
import { PROXY_NICENESS, proxyArgs } from './media-tools.js';
import { runTool } from './run.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'custody-proxy-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Real ffmpeg; a missing binary fails loudly (media.binaries() throws). */
let media: MediaTools;
let ffmpeg: string;
beforeAll(() => {
  media = new MediaTools({ timeoutSeconds: 120 });
  ffmpeg = media.binaries().ffmpeg.path;
});

function make(out: string, args: string[]): string {
  execFileSync(ffmpeg, ['-nostdin', '-hide_banner', '-v', 'error', ...args, out]);
  return out;
}

describe('MediaTools.makeProxy (issue 15): browser-playable copies with real ffmpeg', () => {
  it('turns H.265 1080p into H.264/AAC at most 720p, index first, aspect kept, the source untouched', async () => {
    const dir = await tempDir();
    const src = make(join(dir, 'hevc.mp4'), [
      '-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest',
    ]);
    const before = await readFile(src);
    const info = await media.probe(src);
    expect(playbackPlan('video', { ok: true, ...info })).toMatchObject({ original: false, proxy: 'video' });

    const out = join(dir, 'proxy.mp4');
    const proxy = await media.makeProxy(src, out, 'video', { durationMs: info.durationMs });
    expect(proxy).toMatchObject({ container: 'mp4', videoCodec: 'h264', audioCodec: 'aac', width: 1280, height: 720 });
    expect(proxy.durationMs).toBeGreaterThan(800);
    const probed = await media.probe(out);
    expect(probed.container).toBe('mp4');
    // The proxy itself is what the browser plays as it is.
    expect(playbackPlan('video', { ok: true, ...probed })).toEqual({ original: true });
    // +faststart: the moov box comes before mdat.
    const head = await readFile(out);
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat'));
    expect((await readFile(src)).equals(before)).toBe(true);
  });

  it('keeps an upright or odd-sized picture upright, even-sized and never enlarged; a silent clip stays silent', async () => {
    const dir = await tempDir();
    const upright = make(join(dir, 'upright.mkv'), ['-f', 'lavfi', '-i', 'testsrc=size=1080x1920:rate=10:duration=0.5', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error']);
    expect(await media.makeProxy(upright, join(dir, 'a.mp4'), 'video')).toMatchObject({ width: 720, height: 1280, audioCodec: null, videoCodec: 'h264' });
    const small = make(join(dir, 'small.avi'), ['-f', 'lavfi', '-i', 'testsrc=size=321x241:rate=10:duration=0.5', '-c:v', 'mjpeg']);
    const p = await media.makeProxy(small, join(dir, 'b.mp4'), 'video');
    expect(p.width! % 2 + p.height! % 2).toBe(0);
    expect(p.width).toBeLessThanOrEqual(321);
    expect(p.height).toBeLessThanOrEqual(241);
  });

  it('makes AAC in MP4 (m4a) of audio a browser cannot play (ADPCM WAV)', async () => {
    const dir = await tempDir();
    const src = make(join(dir, 'rec.wav'), ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=8000:duration=1', '-c:a', 'adpcm_ima_wav']);
    const info = await media.probe(src);
    expect(playbackPlan('audio', { ok: true, ...info })).toMatchObject({ original: false, proxy: 'audio' });
    const proxy = await media.makeProxy(src, join(dir, 'rec.m4a'), 'audio');
    expect(proxy).toMatchObject({ container: 'm4a', videoCodec: null, audioCodec: 'aac', width: null, height: null });
    expect(playbackPlan('audio', { ok: true, ...(await media.probe(join(dir, 'rec.m4a'))) })).toEqual({ original: true });
  });

  it('makes a JPEG of a photo a browser cannot show (TIFF)', async () => {
    const dir = await tempDir();
    const src = make(join(dir, 'p.tiff'), ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=1:duration=1', '-frames:v', '1']);
    const proxy = await media.makeProxy(src, join(dir, 'p.jpg'), 'photo');
    expect(proxy).toMatchObject({ container: 'jpeg', videoCodec: 'mjpeg', width: 64, height: 48 });
  });

  it('fails undecodable input with MEDIA_TRANSCODE_FAILED (not retryable) and leaves no partial output', async () => {
    const dir = await tempDir();
    const junk = join(dir, 'junk.mp4');
    await writeFile(junk, randomBytes(8192));
    const out = join(dir, 'out.mp4');
    const e = await media.makeProxy(junk, out, 'video').catch((x: unknown) => x);
    expect(isMediaError(e, 'MEDIA_TRANSCODE_FAILED')).toBe(true);
    expect((e as { retryable: boolean }).retryable).toBe(false);
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    // Audio wanted from a file without sound.
    const silent = make(join(dir, 'silent.mp4'), ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=0.4', '-c:v', 'libx264']);
    expect(isMediaError(await media.makeProxy(silent, join(dir, 's.m4a'), 'audio').catch((x: unknown) => x), 'MEDIA_TRANSCODE_FAILED')).toBe(true);
    await expect(stat(join(dir, 's.m4a'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Never over an existing file.
    await writeFile(out, 'keep');
    expect(isMediaError(await media.makeProxy(silent, out, 'video').catch((x: unknown) => x), 'MEDIA_TRANSCODE_FAILED')).toBe(true);
    expect(await readFile(out, 'utf8')).toBe('keep');
  });

  it('runs ffmpeg for a proxy at a lower priority, so dock sessions keep the CPU they need', async () => {
    expect(PROXY_NICENESS).toBeGreaterThan(0);
    const run = (niceness?: number) =>
      runTool('/bin/sh', ['-c', 'sleep 0.3; nice'], { timeoutMs: 10_000, maxStdoutBytes: 1024, failCode: 'MEDIA_TRANSCODE_FAILED', what: 'nice', ...(niceness === undefined ? {} : { niceness }) });
    const base = Number((await run()).stdout.toString().trim());
    expect(Number((await run(PROXY_NICENESS)).stdout.toString().trim())).toBe(Math.min(19, Math.max(base, PROXY_NICENESS)));
  });

  it('keeps untrusted input to plain files (the same guards as probes and thumbnails)', () => {
    const args = proxyArgs('/tmp/-x.mp4', '/tmp/o.mp4', 'video');
    expect(args).toContain('-protocol_whitelist');
    expect(args[args.indexOf('-i') + 1]).toBe('file:/tmp/-x.mp4');
    expect(args.at(-1)).toBe('file:/tmp/o.mp4');
    expect(args).toContain('+faststart');
  });
});
