import { describe, expect, it } from 'vitest';
import { isMediaError } from './errors.js';
import { parseCreationTime, parseProbeOutput } from './probe-parse.js';

describe('parseCreationTime', () => {
  it('reads ISO times with and without a zone (no zone means UTC, as MP4 stores)', () => {
    expect(parseCreationTime('2026-03-01T02:03:04.000000Z')).toEqual(new Date('2026-03-01T02:03:04Z'));
    expect(parseCreationTime('2026-03-01 02:03:04')).toEqual(new Date('2026-03-01T02:03:04Z'));
    expect(parseCreationTime('2026-03-01T10:03:04+08:00')).toEqual(new Date('2026-03-01T02:03:04Z'));
    expect(parseCreationTime('2026-03-01T10:03:04.5+0800')).toEqual(new Date('2026-03-01T02:03:04.500Z'));
  });

  it('ignores partial, impossible and never-set values', () => {
    for (const s of ['10:03:04', '2026-03-01', '2026-02-31T00:00:00Z', '2026-03-01T24:00:00Z', '1904-01-01T00:00:00.000000Z', '1970-01-01T00:00:00Z', 'garbage', '', undefined]) {
      expect(parseCreationTime(s)).toBeUndefined();
    }
  });
});

describe('parseProbeOutput', () => {
  it('falls back to a stream creation_time and ignores a BWF-style partial one', () => {
    const info = parseProbeOutput({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '4.5', tags: { creation_time: '10:03:04', major_brand: 'qt  ' } },
      streams: [
        { codec_type: 'video', codec_name: 'hevc', width: 1920, height: 1080, avg_frame_rate: '30000/1001', tags: { CREATION_TIME: '2026-03-01T02:03:04Z' } },
      ],
    });
    expect(info).toEqual({
      kind: 'video',
      container: 'mov',
      durationMs: 4500,
      streams: [{ type: 'video', codec: 'hevc', width: 1920, height: 1080, frameRate: 29.97 }],
      creationTime: new Date('2026-03-01T02:03:04Z'),
    });
  });

  it('calls audio with cover art audio, and keeps the picture stream marked', () => {
    const info = parseProbeOutput({
      format: { format_name: 'mp3', duration: '60.0', bit_rate: '128000' },
      streams: [
        { codec_type: 'audio', codec_name: 'mp3', sample_rate: '44100', channels: 2 },
        { codec_type: 'video', codec_name: 'mjpeg', width: 300, height: 300, disposition: { attached_pic: 1 }, avg_frame_rate: '0/0' },
      ],
    });
    expect(info.kind).toBe('audio');
    expect(info.streams[1]).toEqual({ type: 'video', codec: 'mjpeg', width: 300, height: 300, attachedPicture: true });
    expect(info.bitRate).toBe(128000);
  });

  it('tolerates odd field types and unknown streams', () => {
    const info = parseProbeOutput({
      format: { format_name: 'mpegts', duration: 'N/A', tags: 'not a map' },
      streams: [{ codec_type: 'data', width: 'wide' }, { codec_type: 'video', codec_name: 'h264', width: 0, height: -1, duration: '7.25' }, { codec_type: 'weird' }],
    });
    expect(info).toEqual({
      kind: 'video',
      container: 'mpegts',
      durationMs: 7250,
      streams: [{ type: 'data', codec: 'unknown' }, { type: 'video', codec: 'h264' }, { type: 'other', codec: 'unknown' }],
    });
  });

  it('refuses output that is not an ffprobe description', () => {
    for (const bad of [null, 'text', 42]) {
      let err: unknown;
      try {
        parseProbeOutput(bad);
      } catch (e) {
        err = e;
      }
      expect(isMediaError(err, 'MEDIA_PROBE_FAILED')).toBe(true);
    }
  });
});
