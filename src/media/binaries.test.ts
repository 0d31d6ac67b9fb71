import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveBinary } from './binaries.js';
import { MediaTools } from './media-tools.js';

// Issue 13: the bundled ffmpeg of @ffmpeg-installer is a 2018 build; custody says so when it is the one in use.
describe('an old bundled build is named in a warning', () => {
  const now = new Date('2026-12-02T00:00:00.000Z');

  it('the bundled ffmpeg (built 2018-12-10) carries a warning that says how to replace it', () => {
    const b = resolveBinary('ffmpeg', { env: { PATH: '' }, now });
    expect(b.source).toBe('bundled');
    expect(b.warning).toMatch(/the bundled ffmpeg \(@ffmpeg-installer\/ffmpeg\) is a static build of 2018-12-10/);
    expect(b.warning).toMatch(/install a current ffmpeg on PATH .* or set media\.ffmpegPath$/);
    // Within two years of its build it was current enough: no warning.
    expect(resolveBinary('ffmpeg', { env: { PATH: '' }, now: new Date('2019-06-01T00:00:00.000Z') })).not.toHaveProperty('warning');
  });

  it('the bundled ffprobe is judged by its own build date (2023-07-21)', () => {
    expect(resolveBinary('ffprobe', { env: { PATH: '' }, now: new Date('2024-07-01T00:00:00.000Z') })).not.toHaveProperty('warning');
    expect(resolveBinary('ffprobe', { env: { PATH: '' }, now }).warning).toMatch(/static build of 2023-07-21/);
  });

  it('a configured or system binary carries none', () => {
    const bundled = resolveBinary('ffmpeg', { env: { PATH: '' }, now }).path;
    expect(resolveBinary('ffmpeg', { configured: bundled, now })).toEqual({ tool: 'ffmpeg', path: bundled, source: 'configured' });
  });

  it('MediaTools logs it as a warning, once, when it first needs ffmpeg', () => {
    const lines: Array<{ level: number; msg: string; tool?: string; source?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    const media = new MediaTools({ env: { PATH: '' }, log: pino({ level: 'info' }, sink) });
    media.binary('ffmpeg');
    media.binary('ffmpeg');
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ tool: 'ffmpeg', source: 'bundled', msg: expect.stringMatching(/static build of 2018-12-10/) });
  });
});
