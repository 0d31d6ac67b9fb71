import { open } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';

/**
 * Synthetic media for the simulated recorder, tests and benchmarks: ffmpeg's lavfi
 * test pattern and sine sources, encoded the way body cameras do (H.264/AAC MP4,
 * PCM WAV, baseline JPEG). `variant` changes the picture hue / tone so that
 * samples made with the same settings still differ in content and hash.
 */
export type SampleSpec =
  | {
      kind: 'video';
      seconds: number;
      width?: number;
      height?: number;
      fps?: number;
      /** Length of the AAC track; 0 for none. Defaults to `seconds`. */
      audioSeconds?: number;
      /** Written as the container's creation_time (the recorder's clock at the start). */
      creationTime?: Date;
      /**
       * Put the moov box first. Recorders write it last (they cannot know the index
       * until recording stops), so the default is false, like theirs.
       */
      faststart?: boolean;
      container?: 'mp4' | 'mov' | 'matroska';
      /**
       * Pad the file to at least this many bytes with a trailing ISO BMFF `free` box
       * of incompressible bytes. The result is still a valid MP4 that probes and plays
       * as the short clip; it is how benchmarks get realistic file sizes without
       * encoding hours of video. MP4/MOV only.
       */
      minBytes?: number;
      variant?: number;
    }
  | { kind: 'audio'; seconds: number; sampleRate?: number; variant?: number }
  | { kind: 'photo'; width?: number; height?: number; variant?: number };

/** The ffmpeg arguments that write `spec` to `out` (never overwriting it). */
export function sampleArgs(out: string, spec: SampleSpec): string[] {
  const v = spec.variant ?? 0;
  const tone = 300 + (Math.abs(v) % 40) * 25;
  const head = ['-nostdin', '-hide_banner', '-v', 'error', '-n'];
  const target = `file:${out}`;
  switch (spec.kind) {
    case 'video': {
      const w = spec.width ?? 640;
      const h = spec.height ?? 360;
      const fps = spec.fps ?? 25;
      const audioSeconds = spec.audioSeconds ?? spec.seconds;
      const container = spec.container ?? 'mp4';
      const args = [...head, '-f', 'lavfi', '-i', `testsrc=size=${w}x${h}:rate=${fps}:duration=${spec.seconds}`];
      if (audioSeconds > 0) args.push('-f', 'lavfi', '-i', `sine=frequency=${tone}:sample_rate=48000:duration=${audioSeconds}`);
      args.push('-map', '0:v');
      if (audioSeconds > 0) args.push('-map', '1:a');
      // One keyframe a second, as recorders do, so a thumbnail seek decodes little.
      args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(fps));
      if (audioSeconds > 0) args.push('-c:a', 'aac', '-b:a', '64k', '-ac', '1');
      if (spec.faststart && container !== 'matroska') args.push('-movflags', '+faststart');
      if (spec.creationTime) args.push('-metadata', `creation_time=${spec.creationTime.toISOString()}`);
      args.push('-f', container === 'matroska' ? 'matroska' : container, target);
      return args;
    }
    case 'audio':
      return [
        ...head,
        '-f', 'lavfi', '-i', `sine=frequency=${tone}:sample_rate=${spec.sampleRate ?? 16000}:duration=${spec.seconds}`,
        '-ac', '1', '-c:a', 'pcm_s16le', '-f', 'wav', target,
      ];
    case 'photo':
      return [
        ...head,
        '-f', 'lavfi', '-i', `testsrc=size=${spec.width ?? 1280}x${spec.height ?? 720}:rate=1`,
        '-frames:v', '1', '-vf', `hue=h=${(Math.abs(v) * 47) % 360}`,
        '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '3', '-f', 'image2', '-update', '1', target,
      ];
  }
}

const PAD_CHUNK = 1024 * 1024;

/**
 * Append a top-level `free` box so the file is at least `minBytes` long. ISO BMFF
 * readers skip free boxes, so the media is unchanged. The filler is one random MiB
 * with a chunk counter stamped on each copy: incompressible like real H.264, and
 * no two chunks are equal, at the cost of one random fill per file.
 */
export async function padIsoBmff(file: string, minBytes: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const size = (await fh.stat()).size;
    if (size >= minBytes) return;
    const wanted = Math.max(minBytes - size, 16);
    // 64-bit box size when the 32-bit field cannot hold it.
    const large = wanted > 0xffff_ffff;
    const header = Buffer.alloc(large ? 16 : 8);
    if (large) {
      header.writeUInt32BE(1, 0);
      header.write('free', 4, 'latin1');
      header.writeBigUInt64BE(BigInt(wanted), 8);
    } else {
      header.writeUInt32BE(wanted, 0);
      header.write('free', 4, 'latin1');
    }
    let pos = size;
    await fh.write(header, 0, header.length, pos);
    pos += header.length;
    const chunk = randomFillSync(Buffer.allocUnsafe(PAD_CHUNK));
    let left = wanted - header.length;
    for (let n = 0; left > 0; n++) {
      chunk.writeUInt32BE(n >>> 0, 0);
      const len = Math.min(left, PAD_CHUNK);
      await fh.write(chunk, 0, len, pos);
      pos += len;
      left -= len;
    }
  } finally {
    await fh.close();
  }
}
