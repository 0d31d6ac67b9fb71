/** What a file holds, as far as custody cares. */
export type MediaKind = 'video' | 'audio' | 'photo' | 'unknown';

export type StreamType = 'video' | 'audio' | 'subtitle' | 'data' | 'other';

export interface MediaStream {
  type: StreamType;
  /** ffmpeg's codec name, e.g. h264, hevc, aac, pcm_s16le, mjpeg; "unknown" when none. */
  codec: string;
  width?: number;
  height?: number;
  /** Frames per second (average, else nominal), e.g. 25 or 29.97. */
  frameRate?: number;
  sampleRate?: number;
  channels?: number;
  /** A still picture carried in an audio file (cover art), not footage. */
  attachedPicture?: boolean;
}

export interface MediaInfo {
  kind: MediaKind;
  /** Normalised container name: mp4, mov, avi, matroska, mpegts, wav, mp3, aac, amr, jpeg, png, ... */
  container: string;
  /** 0 for photos and when the container does not say. */
  durationMs: number;
  streams: MediaStream[];
  /**
   * The container's creation_time (format level, else the first stream's). It is the
   * recorder's clock at the start of recording, so it carries the device's drift.
   */
  creationTime?: Date;
  /** Overall bits per second, when known. */
  bitRate?: number;
}

export interface MediaCallOptions {
  signal?: AbortSignal | undefined;
  /** Overrides the configured media.timeoutSeconds for this call. */
  timeoutMs?: number | undefined;
}

export interface ThumbnailOptions extends MediaCallOptions {
  /** Width of the WebP in pixels; the height keeps the aspect ratio. */
  width?: number | undefined;
}

/** A picture, or a clear statement that the file has none (audio): not an error. */
export type Thumbnail =
  | { hasPicture: true; webp: Buffer; width: number; height: number }
  | { hasPicture: false; reason: 'audio' | 'no-video-stream' };

/** A browser-playable copy made by {@link MediaTools.makeProxy}, as ffprobe reads it back. */
export interface ProxyMedia {
  /** mp4 (H.264/AAC video), m4a (AAC audio in MP4) or jpeg (a photo). */
  container: 'mp4' | 'm4a' | 'jpeg';
  /** The first video stream's codec (h264, mjpeg), or null for audio. */
  videoCodec: string | null;
  /** The first audio stream's codec (aac), or null when there is none. */
  audioCodec: string | null;
  width: number | null;
  height: number | null;
  durationMs: number;
}

export interface ProxyOptions extends MediaCallOptions {
  /**
   * The source's duration when known: the time limit grows with it (a proxy of a long
   * clip takes minutes), unless `timeoutMs` is given.
   */
  durationMs?: number | null | undefined;
}
