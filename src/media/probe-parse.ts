import { z } from 'zod';
import { MediaError } from './errors.js';
import type { MediaInfo, MediaKind, MediaStream, StreamType } from './types.js';

/**
 * The part of `ffprobe -of json -show_format -show_streams` that custody reads.
 * ffprobe's output is treated as untrusted: everything optional, anything odd dropped.
 */
const tags = z.record(z.string(), z.unknown()).optional().catch(undefined);
const numeric = z.union([z.number(), z.string()]).optional().catch(undefined);
const text = z.string().optional().catch(undefined);

const ffprobeStream = z.object({
  codec_type: text,
  codec_name: text,
  width: numeric,
  height: numeric,
  avg_frame_rate: text,
  r_frame_rate: text,
  sample_rate: numeric,
  channels: numeric,
  duration: numeric,
  disposition: z.object({ attached_pic: numeric }).optional().catch(undefined),
  tags,
});

const ffprobeOutput = z.object({
  streams: z.array(ffprobeStream).catch([]),
  format: z
    .object({ format_name: text, duration: numeric, bit_rate: numeric, tags })
    .optional()
    .catch(undefined),
});

/** Demuxers that read one still image (image2 for files, *_pipe when sniffed). */
const IMAGE_DEMUXER = /^(image2|[a-z0-9]+_pipe|webp|gif|apng)$/;
const STILL_CODEC: Record<string, string> = { mjpeg: 'jpeg', png: 'png', webp: 'webp', bmp: 'bmp', tiff: 'tiff', gif: 'gif' };

function num(v: number | string | undefined): number | undefined {
  if (v === undefined || v === '' || v === 'N/A') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function positive(v: number | string | undefined): number | undefined {
  const n = num(v);
  return n !== undefined && n > 0 ? n : undefined;
}

function rate(r: string | undefined): number | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(r ?? '');
  if (!m) return undefined;
  const d = Number(m[2]);
  const n = Number(m[1]);
  if (d === 0 || n === 0) return undefined;
  return Math.round((n / d) * 1000) / 1000;
}

function tag(t: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!t) return undefined;
  for (const [k, v] of Object.entries(t)) if (k.toLowerCase() === name && typeof v === 'string') return v;
  return undefined;
}

const CREATION_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A container creation_time as a Date, or undefined when it is absent, partial
 * (BWF WAV puts just "10:03:04" there) or the all-zero value of a recorder that
 * never set it (1904-01-01 in MP4, 1970-01-01 elsewhere). Without a zone the value
 * is UTC, which is what MP4 and Matroska store.
 */
export function parseCreationTime(s: string | undefined): Date | undefined {
  const m = CREATION_TIME.exec(s?.trim() ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  const check = new Date(t);
  // Date.UTC rolls 2026-02-31 over to March; a rolled-over value is not a real time.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) {
    return undefined;
  }
  if (zone && zone !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    const offsetMin = (Number(zm[2]) * 60 + Number(zm[3])) * (zm[1] === '-' ? -1 : 1);
    t -= offsetMin * 60_000;
  }
  const date = new Date(t);
  if (date.getTime() <= Date.UTC(1904, 0, 1) || date.getTime() === 0) return undefined;
  return date;
}

function streamType(t: string | undefined): StreamType {
  return t === 'video' || t === 'audio' || t === 'subtitle' || t === 'data' ? t : 'other';
}

function containerName(formatName: string | undefined, majorBrand: string | undefined, firstVideoCodec: string | undefined): string {
  const first = (formatName ?? '').split(',')[0]?.trim() ?? '';
  if (first === 'mov') return majorBrand?.trim() === 'qt' ? 'mov' : 'mp4';
  if (IMAGE_DEMUXER.test(first)) {
    if (first.endsWith('_pipe')) return first.slice(0, -'_pipe'.length);
    return (firstVideoCodec && STILL_CODEC[firstVideoCodec]) ?? first;
  }
  return first || 'unknown';
}

/** Turn ffprobe JSON into custody's MediaInfo; no ffprobe shape leaves this module. */
export function parseProbeOutput(json: unknown): MediaInfo {
  const parsed = ffprobeOutput.safeParse(json);
  if (!parsed.success) throw new MediaError('MEDIA_PROBE_FAILED', 'ffprobe printed no usable description');
  const out = parsed.data;
  const format = out.format;
  const streams: MediaStream[] = out.streams.map((s) => {
    const type = streamType(s.codec_type);
    const st: MediaStream = { type, codec: s.codec_name ?? 'unknown' };
    if (type === 'video') {
      const w = positive(s.width);
      const h = positive(s.height);
      if (w !== undefined) st.width = w;
      if (h !== undefined) st.height = h;
      if (num(s.disposition?.attached_pic) === 1) st.attachedPicture = true;
    }
    if (type === 'audio') {
      const sr = positive(s.sample_rate);
      const ch = positive(s.channels);
      if (sr !== undefined) st.sampleRate = sr;
      if (ch !== undefined) st.channels = ch;
    }
    return st;
  });

  const firstFormat = (format?.format_name ?? '').split(',')[0] ?? '';
  const footage = out.streams.filter((s) => s.codec_type === 'video' && num(s.disposition?.attached_pic) !== 1);
  const isImage = IMAGE_DEMUXER.test(firstFormat) && footage.length > 0;
  // Frame rates mean something only for moving pictures.
  if (!isImage) {
    out.streams.forEach((s, i) => {
      const st = streams[i]!;
      if (st.type !== 'video' || st.attachedPicture) return;
      const fr = rate(s.avg_frame_rate) ?? rate(s.r_frame_rate);
      if (fr !== undefined) st.frameRate = fr;
    });
  }

  let kind: MediaKind = 'unknown';
  if (isImage) kind = 'photo';
  else if (footage.length > 0) kind = 'video';
  else if (streams.some((s) => s.type === 'audio')) kind = 'audio';

  let durationS = positive(format?.duration);
  if (durationS === undefined) {
    const perStream = out.streams.map((s) => positive(s.duration)).filter((d): d is number => d !== undefined);
    durationS = perStream.length ? Math.max(...perStream) : undefined;
  }

  const info: MediaInfo = {
    kind,
    container: containerName(format?.format_name, tag(format?.tags, 'major_brand'), footage[0]?.codec_name),
    durationMs: kind === 'photo' || durationS === undefined ? 0 : Math.round(durationS * 1000),
    streams,
  };
  const created =
    parseCreationTime(tag(format?.tags, 'creation_time')) ??
    out.streams.map((s) => parseCreationTime(tag(s.tags, 'creation_time'))).find((d) => d !== undefined);
  if (created) info.creationTime = created;
  const bitRate = positive(format?.bit_rate);
  if (bitRate !== undefined && kind !== 'photo') info.bitRate = Math.round(bitRate);
  return info;
}
