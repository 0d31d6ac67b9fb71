import { constants } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { Sharp } from 'sharp';
import type { Config } from '../config/index.js';
import { errorMessage, type Logger, silentLogger } from '../core/index.js';
import { resolveBinary, type MediaTool, type ResolvedBinary } from './binaries.js';
import { MediaError, isMediaError } from './errors.js';
import { padIsoBmff, sampleArgs, type SampleSpec } from './generate.js';
import { readMp4CreationTime } from './mp4-header.js';
import { parseCreationTime, parseProbeOutput } from './probe-parse.js';
import { runTool } from './run.js';
import type { ProxyKind } from './playback.js';
import type { MediaCallOptions, MediaInfo, ProxyMedia, ProxyOptions, Thumbnail, ThumbnailOptions } from './types.js';

export interface MediaToolsOptions {
  ffmpegPath?: string | undefined;
  ffprobePath?: string | undefined;
  /** Default limit for probe, thumbnail and sample generation. */
  timeoutSeconds?: number;
  /** Default thumbnail width. */
  thumbnailWidth?: number;
  /** Limit for creationTimeOf, which sits on the ingest critical path. */
  creationTimeTimeoutMs?: number;
  /** Whose PATH is searched for system binaries; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/**
 * Demuxers ffmpeg may use on recorder files. Anything else (HLS or concat playlists
 * that point at other files, network protocols, devices) is refused, because a file
 * from a recorder is untrusted input: a ".mp4" that is really a playlist could
 * otherwise make ffmpeg read arbitrary local files into a thumbnail.
 */
const FORMAT_WHITELIST = [
  'mov', 'mp4', 'avi', 'matroska', 'webm', 'mpegts', 'mpeg', 'flv', 'asf',
  'wav', 'w64', 'mp3', 'aac', 'amr', 'flac', 'ogg',
  'image2', 'jpeg_pipe', 'png_pipe', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'gif',
].join(',');

/** Options every ffmpeg/ffprobe run on an untrusted file gets before its -i. */
const INPUT_GUARDS = ['-protocol_whitelist', 'file', '-format_whitelist', FORMAT_WHITELIST];

/** ffprobe JSON for a sane file is a few KiB; a hostile one is cut off well before memory hurts. */
const MAX_PROBE_OUTPUT = 4 * 1024 * 1024;
/** One pre-scaled PNG frame. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
type SharpFactory = (typeof import('sharp'))['default'];
let sharpModule: Promise<SharpFactory> | null = null;
/**
 * sharp (libvips, some 30 modules and a native library) is loaded at the first
 * thumbnail, not with the media tools: ingest needs only the header reader, and the
 * one-shot `custody ingest` should not pay for an image library it may never use.
 */
function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import('sharp').then((m) => {
    // No decoded-image cache: it would keep file handles open on removable disks.
    m.default.cache(false);
    // One libvips thread per image: thumbnails are background work beside dock sessions
    // (sharp's own threads cannot be niced like ffmpeg).
    m.default.concurrency(1);
    return m.default;
  });
  return sharpModule;
}

/** Kinds of file with no container creation time (raw audio, pictures): creationTimeOf does not read them. */
const NO_CONTAINER_TIME = /^\.(wav|mp3|aac|amr|flac|ogg|opus|wma|jpe?g|png|bmp|gif|heic|heif|webp|tiff?)$/i;

/** Photos are read whole (sharp needs the image); bigger than this is not a recorder photo. */
const MAX_PHOTO_BYTES = 64 * 1024 * 1024;
/** Decompression-bomb guard for photos: 100 megapixels. */
const MAX_PHOTO_PIXELS = 100_000_000;

/**
 * `file:` stops ffmpeg from reading "concat:a|b", "pipe:1" or "http://…" in a
 * hostile file name as a protocol; the absolute path stops "-x" being an option.
 */
function inputUrl(file: string): string {
  return `file:${resolve(file)}`;
}

/** Fit within 1280×720 (720×1280 when upright), keep the aspect, even sizes, never enlarge. */
const PROXY_SCALE =
  'scale=w=if(gte(iw\\,ih)\\,min(iw\\,1280)\\,min(iw\\,720)):h=if(gte(iw\\,ih)\\,min(ih\\,720)\\,min(ih\\,1280))' +
  ':force_original_aspect_ratio=decrease:force_divisible_by=2';

/**
 * How much follow-up work (probes, thumbnails, proxies) yields the CPU: nice 19, the
 * lowest priority, so it takes only what dock sessions, their hashing and the API leave
 * over (`scripts/bench-ingest-lab.ts --follow-ups N` measures what it still costs them).
 */
export const PROXY_NICENESS = 19;

/** The ffmpeg arguments that write a browser-playable proxy of `file` to `out` (never overwriting it). */
export function proxyArgs(file: string, out: string, kind: ProxyKind): string[] {
  const head = ['-nostdin', '-hide_banner', '-v', 'error', '-n', ...INPUT_GUARDS, '-i', inputUrl(file)];
  const target = `file:${resolve(out)}`;
  switch (kind) {
    case 'video':
      return [
        ...head,
        '-map', '0:v:0', '-map', '0:a:0?', '-sn', '-dn',
        '-vf', `${PROXY_SCALE},format=yuv420p`,
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-profile:v', 'high',
        // A keyframe every 2 s: a browser seeks to any point without decoding far.
        '-force_key_frames', 'expr:gte(t,n_forced*2)',
        '-c:a', 'aac', '-b:a', '128k',
        '-movflags', '+faststart', '-f', 'mp4', target,
      ];
    case 'audio':
      return [...head, '-map', '0:a:0', '-vn', '-sn', '-dn', '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', '-f', 'mp4', target];
    case 'photo':
      return [
        ...head,
        '-map', '0:v:0', '-frames:v', '1',
        '-vf', "scale=w=min(iw\\,4096):h=min(ih\\,4096):force_original_aspect_ratio=decrease,format=yuvj420p",
        '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', '-update', '1', target,
      ];
  }
}

/**
 * The one adapter that knows ffmpeg, ffprobe and sharp. It runs plain `ffprobe -of
 * json` and `ffmpeg` as child processes rather than through fluent-ffmpeg: that
 * library is archived, its ffprobe() has neither a timeout nor an AbortSignal, and it
 * buffers output without limit. Callers see only custody types (MediaInfo,
 * Thumbnail, MediaError).
 */
export class MediaTools {
  private readonly opts: MediaToolsOptions;
  private readonly log: Logger;
  private readonly resolved = new Map<MediaTool, ResolvedBinary>();
  private readonly timeoutMs: number;

  constructor(opts: MediaToolsOptions = {}) {
    this.opts = opts;
    this.log = (opts.log ?? silentLogger).child({ module: 'media' });
    this.timeoutMs = (opts.timeoutSeconds ?? 60) * 1000;
  }

  static fromConfig(media: Config['media'], log?: Logger): MediaTools {
    return new MediaTools({
      ffmpegPath: media.ffmpegPath,
      ffprobePath: media.ffprobePath,
      timeoutSeconds: media.timeoutSeconds,
      thumbnailWidth: media.thumbnailWidth,
      ...(log ? { log } : {}),
    });
  }

  /**
   * The binary used for `tool` (configured → PATH → bundled), resolved on first use
   * and logged once. Throws MEDIA_BINARY_NOT_FOUND.
   */
  binary(tool: MediaTool): ResolvedBinary {
    let b = this.resolved.get(tool);
    if (!b) {
      const configured = tool === 'ffmpeg' ? this.opts.ffmpegPath : this.opts.ffprobePath;
      b = resolveBinary(tool, { configured, ...(this.opts.env ? { env: this.opts.env } : {}) });
      this.resolved.set(tool, b);
      this.log.info({ tool, path: b.path, source: b.source }, 'media binary resolved');
      if (b.warning) this.log.warn({ tool, path: b.path, source: b.source }, b.warning);
    }
    return b;
  }

  /** Both binaries, for status reports; throws if either is missing. */
  binaries(): { ffmpeg: ResolvedBinary; ffprobe: ResolvedBinary } {
    return { ffmpeg: this.binary('ffmpeg'), ffprobe: this.binary('ffprobe') };
  }

  /**
   * Describe a media file. A truncated, corrupt or hostile file is MEDIA_PROBE_FAILED
   * (not retryable); running out of time is MEDIA_TIMEOUT; the signal, MEDIA_ABORTED.
   */
  async probe(file: string, opts: MediaCallOptions = {}): Promise<MediaInfo> {
    await this.requireRegularFile(file, 'MEDIA_PROBE_FAILED');
    const what = `probe ${file}`;
    const { stdout } = await runTool(
      this.binary('ffprobe').path,
      ['-hide_banner', '-v', 'error', ...INPUT_GUARDS, '-of', 'json', '-show_format', '-show_streams', inputUrl(file)],
      // Probes are follow-up work (the analysis, a proxy's check): niced like proxies, so
      // dock sessions' copying and hashing come first (issue 18).
      { timeoutMs: opts.timeoutMs ?? this.timeoutMs, signal: opts.signal, maxStdoutBytes: MAX_PROBE_OUTPUT, failCode: 'MEDIA_PROBE_FAILED', what, niceness: PROXY_NICENESS },
    );
    let json: unknown;
    try {
      json = JSON.parse(stdout.toString('utf8'));
    } catch (e) {
      throw new MediaError('MEDIA_PROBE_FAILED', `${what}: ffprobe printed invalid JSON`, { cause: e });
    }
    const info = parseProbeOutput(json);
    if (info.streams.length === 0) throw new MediaError('MEDIA_PROBE_FAILED', `${what}: no audio or video streams`);
    return info;
  }

  /**
   * The recorder's clock at the start of recording, from the container header only;
   * null when the file has none or cannot be read. Never throws for bad media.
   * MP4/MOV are read natively (a few small reads, no child process); other
   * containers ask ffprobe for just the creation_time tags, under a short limit.
   */
  async creationTimeOf(file: string, opts: MediaCallOptions = {}): Promise<Date | null> {
    // Audio and pictures carry no container creation time: not even opened (four file
    // calls fewer per file on the ingest path of a recorder's audio notes).
    if (NO_CONTAINER_TIME.test(extname(file))) return null;
    const timeoutMs = opts.timeoutMs ?? this.opts.creationTimeTimeoutMs ?? 5000;
    const native = await readMp4CreationTime(file, { timeoutMs, signal: opts.signal });
    if (native !== undefined) return native;
    if (!/^\.(avi|mkv|webm|ts|mts|m2ts|mpg|mpeg|flv|asf|wmv)$/i.test(extname(file))) {
      // Audio and photos carry no container creation_time worth a process spawn.
      return null;
    }
    try {
      const { stdout } = await runTool(
        this.binary('ffprobe').path,
        [
          '-hide_banner', '-v', 'error', ...INPUT_GUARDS,
          '-of', 'json', '-show_entries', 'format_tags=creation_time:stream_tags=creation_time', inputUrl(file),
        ],
        { timeoutMs, signal: opts.signal, maxStdoutBytes: 64 * 1024, failCode: 'MEDIA_PROBE_FAILED', what: `creation time of ${file}` },
      );
      const json = JSON.parse(stdout.toString('utf8')) as {
        format?: { tags?: Record<string, unknown> };
        streams?: { tags?: Record<string, unknown> }[];
      };
      const pick = (t: Record<string, unknown> | undefined): Date | undefined =>
        typeof t?.creation_time === 'string' ? parseCreationTime(t.creation_time) : undefined;
      return pick(json.format?.tags) ?? (json.streams ?? []).map((s) => pick(s.tags)).find((d) => d !== undefined) ?? null;
    } catch (e) {
      // A missing binary is a deployment fault, not bad media: say so loudly.
      if (isMediaError(e, 'MEDIA_BINARY_NOT_FOUND')) throw e;
      this.log.debug({ file, err: e }, 'no creation time');
      return null;
    }
  }

  /**
   * A WebP thumbnail `width` pixels wide. Video: one frame at 10 % of the duration
   * (1 s when the duration is unknown), else the first frame; photos: the image
   * itself, turned upright per EXIF; audio: `{ hasPicture: false }`, unless it carries
   * cover art. Only one pre-scaled frame is ever in memory, never the video.
   */
  async thumbnail(file: string, opts: ThumbnailOptions = {}): Promise<Thumbnail> {
    const width = opts.width ?? this.opts.thumbnailWidth ?? 320;
    if (!Number.isInteger(width) || width < 1 || width > 8192) {
      throw new MediaError('MEDIA_THUMBNAIL_FAILED', `thumbnail width must be an integer 1..8192, got ${width}`);
    }
    const deadline = Date.now() + (opts.timeoutMs ?? this.timeoutMs);
    const left = (): number => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new MediaError('MEDIA_TIMEOUT', `thumbnail ${file}: out of time`);
      return ms;
    };
    const info = await this.probe(file, { signal: opts.signal, timeoutMs: left() });

    if (info.kind === 'photo') {
      const fromPhoto = await this.photoThumbnail(file, width);
      if (fromPhoto) return fromPhoto;
      // sharp cannot decode it (e.g. BMP): let ffmpeg turn it into a frame.
    }
    const videoStreams = info.streams.filter((s) => s.type === 'video').length;
    if (videoStreams === 0) return { hasPicture: false, reason: info.kind === 'audio' ? 'audio' : 'no-video-stream' };

    const at = info.kind === 'video' ? (info.durationMs > 0 ? info.durationMs / 10000 : 1) : undefined;
    let frame = await this.frame(file, width, at, { signal: opts.signal, timeoutMs: left() }).catch((e: unknown) => {
      // A seek past the last decodable frame of a damaged file; the first frame may still work.
      if (at === undefined || !isMediaError(e, 'MEDIA_THUMBNAIL_FAILED')) throw e;
      return undefined;
    });
    if ((frame === undefined || frame.length === 0) && at !== undefined) {
      this.log.debug({ file, at }, 'no frame at seek point, using the first frame');
      frame = await this.frame(file, width, undefined, { signal: opts.signal, timeoutMs: left() });
    }
    if (!frame || frame.length === 0) throw new MediaError('MEDIA_THUMBNAIL_FAILED', `thumbnail ${file}: ffmpeg decoded no frame`);
    return this.toWebp((await loadSharp())(frame), width, file);
  }

  /**
   * Write a synthetic sample to `out` (which must not exist) with the resolved
   * ffmpeg. Throws MEDIA_GENERATE_FAILED; a partial output is removed.
   */
  async generateSample(out: string, spec: SampleSpec, opts: MediaCallOptions = {}): Promise<void> {
    const target = resolve(out);
    if (await stat(target).then(() => true, () => false)) {
      throw new MediaError('MEDIA_GENERATE_FAILED', `generate ${target}: already exists`);
    }
    if (spec.kind === 'video' && spec.minBytes !== undefined && spec.container === 'matroska') {
      throw new MediaError('MEDIA_GENERATE_FAILED', 'minBytes padding needs an MP4 or MOV container');
    }
    try {
      await runTool(this.binary('ffmpeg').path, sampleArgs(target, spec), {
        timeoutMs: opts.timeoutMs ?? this.timeoutMs,
        signal: opts.signal,
        maxStdoutBytes: 64 * 1024,
        failCode: 'MEDIA_GENERATE_FAILED',
        what: `generate ${target}`,
      });
      if (spec.kind === 'video' && spec.minBytes !== undefined) await padIsoBmff(target, spec.minBytes);
    } catch (e) {
      await rm(target, { force: true });
      if (e instanceof MediaError) throw e;
      throw new MediaError('MEDIA_GENERATE_FAILED', `generate ${target}: ${errorMessage(e)}`, { cause: e });
    }
  }

  /**
   * Write a browser-playable proxy of `file` to `out` (which must not exist) and
   * describe it as ffprobe reads it back:
   * - video: H.264 (yuv420p, a keyframe every 2 s for seeking) with AAC audio when the
   *   source has audio, in an MP4 with the index first (+faststart), scaled down to fit
   *   1280×720 (720×1280 upright), aspect kept, even dimensions, never scaled up;
   * - audio: AAC in MP4 (m4a);
   * - photo: a JPEG of at most 4096 px a side.
   * The source is only read. MEDIA_TRANSCODE_FAILED when ffmpeg cannot decode it (not
   * retryable); the time limit grows with the duration (2 min + 4× the duration,
   * at least media.timeoutSeconds). A partial output is removed.
   */
  async makeProxy(file: string, out: string, kind: ProxyKind, opts: ProxyOptions = {}): Promise<ProxyMedia> {
    await this.requireRegularFile(file, 'MEDIA_TRANSCODE_FAILED');
    const target = resolve(out);
    if (await stat(target).then(() => true, () => false)) {
      throw new MediaError('MEDIA_TRANSCODE_FAILED', `proxy ${target}: already exists`);
    }
    const timeoutMs = opts.timeoutMs ?? Math.max(this.timeoutMs, 120_000 + 4 * Math.max(0, opts.durationMs ?? 0));
    const what = `proxy of ${file}`;
    try {
      await runTool(this.binary('ffmpeg').path, proxyArgs(file, target, kind), {
        timeoutMs,
        signal: opts.signal,
        maxStdoutBytes: 64 * 1024,
        failCode: 'MEDIA_TRANSCODE_FAILED',
        what,
        // A proxy is background work: a dock session's hashing and the API come first.
        niceness: PROXY_NICENESS,
      });
      const info = await this.probe(target, { signal: opts.signal }).catch((e: unknown) => {
        if (isMediaError(e, 'MEDIA_PROBE_FAILED')) throw new MediaError('MEDIA_TRANSCODE_FAILED', `${what}: ffmpeg wrote no readable file`, { cause: e });
        throw e;
      });
      const video = info.streams.find((s) => s.type === 'video');
      const audio = info.streams.find((s) => s.type === 'audio');
      if (kind !== 'audio' && !video) throw new MediaError('MEDIA_TRANSCODE_FAILED', `${what}: the source has no picture`);
      if (kind === 'audio' && !audio) throw new MediaError('MEDIA_TRANSCODE_FAILED', `${what}: the source has no sound`);
      return {
        container: kind === 'video' ? 'mp4' : kind === 'audio' ? 'm4a' : 'jpeg',
        videoCodec: kind === 'audio' ? null : (video?.codec ?? null),
        audioCodec: kind === 'photo' ? null : (audio?.codec ?? null),
        width: kind === 'audio' ? null : (video?.width ?? null),
        height: kind === 'audio' ? null : (video?.height ?? null),
        durationMs: info.durationMs,
      };
    } catch (e) {
      await rm(target, { force: true });
      if (e instanceof MediaError) throw e;
      throw new MediaError('MEDIA_TRANSCODE_FAILED', `${what}: ${errorMessage(e)}`, { cause: e });
    }
  }

  private async requireRegularFile(file: string, code: 'MEDIA_PROBE_FAILED' | 'MEDIA_TRANSCODE_FAILED'): Promise<void> {
    // A FIFO or a device node would block the reader forever: refuse them up front.
    const st = await stat(file).catch((e: unknown) => {
      throw new MediaError(code, `cannot read ${file}: ${errorMessage(e)}`, { cause: e });
    });
    if (!st.isFile()) throw new MediaError(code, `${file} is not a regular file`);
  }

  /** One frame as PNG, pre-scaled by ffmpeg to at most twice the thumbnail width. */
  private async frame(file: string, width: number, atSeconds: number | undefined, opts: MediaCallOptions): Promise<Buffer> {
    const seek = atSeconds === undefined ? [] : ['-ss', atSeconds.toFixed(3)];
    const { stdout } = await runTool(
      this.binary('ffmpeg').path,
      [
        '-nostdin', '-hide_banner', '-v', 'error', ...INPUT_GUARDS, ...seek, '-i', inputUrl(file),
        '-map', '0:v:0', '-an', '-sn', '-dn', '-frames:v', '1',
        '-vf', `scale=w=min(iw\\,${width * 2}):h=-2`,
        '-f', 'image2pipe', '-c:v', 'png', 'pipe:1',
      ],
      {
        // A thumbnail is follow-up work: niced like proxies (issue 18).
        niceness: PROXY_NICENESS,
        timeoutMs: opts.timeoutMs ?? this.timeoutMs,
        signal: opts.signal,
        maxStdoutBytes: MAX_FRAME_BYTES,
        failCode: 'MEDIA_THUMBNAIL_FAILED',
        what: `thumbnail ${file}`,
      },
    );
    return stdout;
  }

  /** Read the photo (bounded) and resize it; undefined when sharp cannot decode it. */
  private async photoThumbnail(file: string, width: number): Promise<Thumbnail | undefined> {
    // Read into memory ourselves so sharp never holds a handle on the removable disk.
    const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((e: unknown) => {
      throw new MediaError('MEDIA_THUMBNAIL_FAILED', `cannot read ${file}: ${errorMessage(e)}`, { cause: e });
    });
    let buf: Buffer;
    try {
      const size = (await fh.stat()).size;
      if (size > MAX_PHOTO_BYTES) throw new MediaError('MEDIA_THUMBNAIL_FAILED', `${file}: photo larger than ${MAX_PHOTO_BYTES} bytes`);
      buf = Buffer.alloc(size);
      const { bytesRead } = await fh.read(buf, 0, size, 0);
      buf = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    const img = (await loadSharp())(buf, { limitInputPixels: MAX_PHOTO_PIXELS, failOn: 'error' });
    try {
      await img.metadata();
    } catch {
      return undefined;
    }
    return this.toWebp(img.rotate(), width, file);
  }

  private async toWebp(img: Sharp, width: number, file: string): Promise<Thumbnail> {
    try {
      const { data, info } = await img.resize({ width }).webp({ quality: 75 }).toBuffer({ resolveWithObject: true });
      return { hasPicture: true, webp: data, width: info.width, height: info.height };
    } catch (e) {
      throw new MediaError('MEDIA_THUMBNAIL_FAILED', `thumbnail ${file}: ${errorMessage(e)}`, { cause: e });
    }
  }
}
