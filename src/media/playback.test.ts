import { describe, expect, it } from 'vitest';
import { playbackPlan, type ProxyKind } from './playback.js';

type S = { type: string; codec: string; attachedPicture?: boolean };
const v = (codec: string): S => ({ type: 'video', codec });
const a = (codec: string): S => ({ type: 'audio', codec });
const probed = (kind: string, container: string, streams: S[]): Record<string, unknown> => ({ ok: true, kind, container, durationMs: 1000, streams, creationTime: null });

// [what, media type at ingest, probe record, expected: 'original' or the proxy kind]
const TABLE: Array<[string, ProxyKind, Record<string, unknown> | null, 'original' | ProxyKind]> = [
  ['H.264/AAC MP4', 'video', probed('video', 'mp4', [v('h264'), a('aac')]), 'original'],
  ['H.264 MP4 without audio', 'video', probed('video', 'mp4', [v('h264')]), 'original'],
  ['H.264/AAC MOV', 'video', probed('video', 'mov', [v('h264'), a('aac')]), 'original'],
  ['H.264 MP4 with a data track', 'video', probed('video', 'mp4', [v('h264'), a('aac'), { type: 'data', codec: 'bin_data' }]), 'original'],
  ['VP9/Opus WebM', 'video', probed('video', 'matroska', [v('vp9'), a('opus')]), 'original'],
  ['VP8/Vorbis WebM', 'video', probed('video', 'matroska', [v('vp8'), a('vorbis')]), 'original'],
  ['AV1 WebM without audio', 'video', probed('video', 'matroska', [v('av1')]), 'original'],
  ['H.265/AAC MP4', 'video', probed('video', 'mp4', [v('hevc'), a('aac')]), 'video'],
  ['H.265 MOV', 'video', probed('video', 'mov', [v('hevc')]), 'video'],
  ['H.264 MP4 with PCM audio', 'video', probed('video', 'mov', [v('h264'), a('pcm_s16le')]), 'video'],
  ['H.264 MP4 with ADPCM audio', 'video', probed('video', 'mp4', [v('h264'), a('adpcm_ima_qt')]), 'video'],
  ['H.264 in AVI', 'video', probed('video', 'avi', [v('h264'), a('pcm_s16le')]), 'video'],
  ['MJPEG AVI', 'video', probed('video', 'avi', [v('mjpeg')]), 'video'],
  ['H.264/AAC MKV', 'video', probed('video', 'matroska', [v('h264'), a('aac')]), 'video'],
  ['H.265 MKV', 'video', probed('video', 'matroska', [v('hevc')]), 'video'],
  ['VP9 with AAC in Matroska', 'video', probed('video', 'matroska', [v('vp9'), a('aac')]), 'video'],
  ['H.264 in MPEG-TS', 'video', probed('video', 'mpegts', [v('h264'), a('aac')]), 'video'],
  ['MPEG-2 program stream', 'video', probed('video', 'mpeg', [v('mpeg2video')]), 'video'],
  ['MP3', 'audio', probed('audio', 'mp3', [a('mp3')]), 'original'],
  ['MP3 with cover art', 'audio', probed('audio', 'mp3', [a('mp3'), { type: 'video', codec: 'mjpeg', attachedPicture: true }]), 'original'],
  ['AAC (ADTS)', 'audio', probed('audio', 'aac', [a('aac')]), 'original'],
  ['AAC in M4A', 'audio', probed('audio', 'mp4', [a('aac')]), 'original'],
  ['PCM WAV', 'audio', probed('audio', 'wav', [a('pcm_s16le')]), 'original'],
  ['24-bit WAV', 'audio', probed('audio', 'wav', [a('pcm_s24le')]), 'original'],
  ['Opus in Ogg', 'audio', probed('audio', 'ogg', [a('opus')]), 'original'],
  ['AMR-NB', 'audio', probed('audio', 'amr', [a('amr_nb')]), 'audio'],
  ['AMR-WB', 'audio', probed('audio', 'amr', [a('amr_wb')]), 'audio'],
  ['IMA ADPCM WAV', 'audio', probed('audio', 'wav', [a('adpcm_ima_wav')]), 'audio'],
  ['G.711 WAV', 'audio', probed('audio', 'wav', [a('pcm_alaw')]), 'audio'],
  ['FLAC', 'audio', probed('audio', 'flac', [a('flac')]), 'audio'],
  ['JPEG', 'photo', probed('photo', 'jpeg', [v('mjpeg')]), 'original'],
  ['PNG', 'photo', probed('photo', 'png', [v('png')]), 'original'],
  ['WebP', 'photo', probed('photo', 'webp', [v('webp')]), 'original'],
  ['TIFF', 'photo', probed('photo', 'tiff', [v('tiff')]), 'photo'],
  ['a .mp4 that holds only audio gets an audio proxy', 'video', probed('audio', 'mp4', [a('amr_nb')]), 'audio'],
  ['not analysed yet', 'video', null, 'video'],
  ['probe failed (video)', 'video', { ok: false, error: { code: 'MEDIA_PROBE_FAILED', message: 'x' } }, 'video'],
  ['probe failed (audio)', 'audio', { ok: false, error: { code: 'MEDIA_PROBE_FAILED', message: 'x' } }, 'audio'],
  ['unknown kind', 'video', probed('unknown', 'mp4', [{ type: 'data', codec: 'bin_data' }]), 'video'],
  ['a record of a shape not known', 'photo', { ok: true, kind: 42, container: null, streams: 'nope' }, 'photo'],
];

describe('playbackPlan: whether Chromium plays the original (issue 15)', () => {
  it.each(TABLE)('%s', (_what, mediaType, media, expected) => {
    const plan = playbackPlan(mediaType, media);
    if (expected === 'original') {
      expect(plan).toEqual({ original: true });
    } else {
      expect(plan).toMatchObject({ original: false, proxy: expected });
      expect(plan.original === false && plan.reason.length).toBeGreaterThan(0);
    }
  });

  it('names the reason', () => {
    expect(playbackPlan('video', probed('video', 'mp4', [v('hevc'), a('aac')]))).toEqual({ original: false, proxy: 'video', reason: 'hevc video' });
    expect(playbackPlan('audio', probed('audio', 'amr', [a('amr_nb')]))).toEqual({ original: false, proxy: 'audio', reason: 'amr_nb audio in amr' });
  });
});
