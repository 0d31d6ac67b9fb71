/**
 * Whether a browser plays an item as it was recorded, from the probe data custody
 * keeps for it (issue 15, the console's player).
 *
 * The reference browser is Chromium as Debian ships it (no proprietary HEVC decoder):
 * - video: H.264 with AAC or no audio in MP4/MOV; VP8, VP9 or AV1 with Opus, Vorbis
 *   or no audio in WebM (ffprobe calls WebM "matroska": the codecs decide);
 * - audio: MP3, AAC (ADTS or in MP4), PCM WAV, Opus (or Vorbis) in Ogg/WebM;
 * - photos: JPEG, PNG, WebP.
 * Everything else — H.265/HEVC, AVI, MKV with other codecs, MPEG-TS, AMR, ADPCM WAV,
 * a file ffprobe could not read, anything unknown — gets a proxy: H.264/AAC MP4 at most
 * 720p for video, AAC in MP4 (m4a) for audio, a JPEG for a photo.
 */

/** What a proxy of an item is made as. */
export type ProxyKind = 'video' | 'audio' | 'photo';

export type PlaybackPlan =
  | { original: true }
  | {
      original: false;
      proxy: ProxyKind;
      /** Why the original is not played, for logs and the proxy record. */
      reason: string;
    };

/** The stored probe record's streams, as far as this decision reads them. */
interface StreamLike {
  type?: unknown;
  codec?: unknown;
  attachedPicture?: unknown;
}

const VIDEO_IN_MP4 = new Set(['h264']);
const AUDIO_IN_MP4 = new Set(['aac']);
const VIDEO_IN_WEBM = new Set(['vp8', 'vp9', 'av1']);
const AUDIO_IN_WEBM = new Set(['opus', 'vorbis']);
/** PCM in WAV; Chromium does not decode ADPCM or G.711 in WAV. */
const PCM = /^pcm_(u8|s16le|s24le|s32le|f32le)$/;
const PHOTO_CONTAINERS = new Set(['jpeg', 'png', 'webp']);

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function proxyFor(kind: ProxyKind, reason: string): PlaybackPlan {
  return { original: false, proxy: kind, reason };
}

function audioPlays(container: string, codec: string): boolean {
  switch (container) {
    case 'mp3':
      return codec === 'mp3';
    case 'aac':
    case 'mp4':
    case 'mov':
      return codec === 'aac';
    case 'wav':
      return PCM.test(codec);
    case 'ogg':
    case 'matroska':
    case 'webm':
      return AUDIO_IN_WEBM.has(codec);
    default:
      return false;
  }
}

/**
 * The playback plan of an item: its catalog media type (from the file name at ingest)
 * and the probe record stored by the analysis follow-up (`{ ok, kind, container,
 * streams, … }`). A record that is missing, says `ok: false` or has a shape this does
 * not know is treated as unknown: the item gets a proxy of its media type. Pure.
 */
export function playbackPlan(mediaType: ProxyKind, media: Readonly<Record<string, unknown>> | null): PlaybackPlan {
  if (media === null || media.ok !== true) return proxyFor(mediaType, 'the file could not be probed');
  const container = str(media.container) ?? 'unknown';
  const kind = str(media.kind) ?? 'unknown';
  const streams: StreamLike[] = Array.isArray(media.streams) ? (media.streams as unknown[]).filter((s): s is StreamLike => typeof s === 'object' && s !== null) : [];
  const codecs = (type: string): string[] =>
    streams.filter((s) => s.type === type && s.attachedPicture !== true).map((s) => str(s.codec) ?? 'unknown');
  const video = codecs('video');
  const audio = codecs('audio');

  if (kind === 'photo') {
    return PHOTO_CONTAINERS.has(container) ? { original: true } : proxyFor('photo', `a ${container} photo`);
  }
  if (kind === 'audio') {
    if (audio.length === 0) return proxyFor('audio', 'no audio stream');
    const bad = audio.find((c) => !audioPlays(container, c));
    return bad === undefined ? { original: true } : proxyFor('audio', `${bad} audio in ${container}`);
  }
  if (kind === 'video') {
    if (container === 'mp4' || container === 'mov') {
      const v = video.find((c) => !VIDEO_IN_MP4.has(c));
      if (v !== undefined) return proxyFor('video', `${v} video`);
      const a = audio.find((c) => !AUDIO_IN_MP4.has(c));
      return a === undefined ? { original: true } : proxyFor('video', `${a} audio in ${container}`);
    }
    if (container === 'matroska' || container === 'webm') {
      const webm = video.every((c) => VIDEO_IN_WEBM.has(c)) && audio.every((c) => AUDIO_IN_WEBM.has(c));
      return webm ? { original: true } : proxyFor('video', `${[...video, ...audio].join('/')} in Matroska`);
    }
    return proxyFor('video', `${video[0] ?? 'video'} in ${container}`);
  }
  return proxyFor(mediaType, `unknown media (${kind} in ${container})`);
}
