import { CustodyError } from '../core/index.js';

export type MediaErrorCode =
  /** ffprobe could not read the file: truncated, corrupt, hostile or not media at all. */
  | 'MEDIA_PROBE_FAILED'
  /** The file probed but no picture could be made from it. */
  | 'MEDIA_THUMBNAIL_FAILED'
  /** ffmpeg could not make a browser-playable proxy of the file (it cannot be decoded). */
  | 'MEDIA_TRANSCODE_FAILED'
  /** ffmpeg could not write a generated sample (simulation, tests). */
  | 'MEDIA_GENERATE_FAILED'
  /** ffmpeg/ffprobe ran past its time limit and was killed. */
  | 'MEDIA_TIMEOUT'
  /** The caller's AbortSignal fired; the child process was killed. */
  | 'MEDIA_ABORTED'
  /** No usable ffmpeg/ffprobe binary (configured path wrong, nothing on PATH, no bundled package). */
  | 'MEDIA_BINARY_NOT_FOUND';

/**
 * An error from the media adapter. Bad media is never retryable (the same bytes fail
 * the same way); a timeout is, because a busy machine or a slow removable disk can
 * cause it, and the job runner bounds the attempts.
 */
export class MediaError extends CustodyError {
  declare readonly code: MediaErrorCode;

  constructor(
    code: MediaErrorCode,
    message: string,
    opts: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, opts);
  }
}

export function isMediaError(e: unknown, code?: MediaErrorCode): e is MediaError {
  return e instanceof MediaError && (code === undefined || e.code === code);
}
