import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { UsageError } from '../core/index.js';
import { MediaTools, type ResolvedBinary, type SampleSpec } from '../media/index.js';
import { RECORDER_STATUS_FILE, RECORDER_STATUS_FORMAT, recorderStatusSchema, type RecorderStatus } from './status-file.js';

/**
 * A simulated body-worn recorder as it appears when docked in mass-storage mode:
 * real H.264/AAC clips, a WAV recording and JPEG photos in the recorder's folder
 * layout and numbering, a system log that is not evidence, and RECORDER.JSON with
 * what a vendor driver would read from the device (identity, battery, clock, storage).
 *
 * The recorder's clock runs `clockOffsetSeconds` ahead of true time (negative:
 * behind). Everything the recorder itself writes uses its clock: file names (in
 * local time of `timeZone`), folder dates, the MP4 creation_time and file mtimes.
 * The manifest keeps both the true time and the device time of every file, so tests
 * can check that custody measured and corrected the drift.
 */

export type SimulatedKind = 'video' | 'audio' | 'photo';

export interface SimulateRecorderOptions {
  /** The recorder's root; created if missing, and must be empty. */
  out: string;
  serial?: string;
  model?: string;
  officer?: string;
  officerName?: string;
  unit?: string;
  /** Number of video clips (default 3). */
  clips?: number;
  /** Length of each clip and of the audio recording (default 5). */
  seconds?: number;
  /** True time the first recording started (default: now minus one hour); whole seconds. */
  recordedAt?: Date;
  /** Device clock minus true time, seconds (default 0). */
  clockOffsetSeconds?: number;
  /** Battery percent reported in RECORDER.JSON (default 80). */
  battery?: number;
  /** Zone of the recorder's local clock (default Asia/Shanghai). */
  timeZone?: string;
  /** The recorder's running file counter at the first file (default 1). */
  firstNumber?: number;
  /**
   * File numbers the recorder used for files that are no longer on it (deleted on the
   * device): they are skipped in the numbering, leaving a gap custody should flag.
   */
  omitNumbers?: number[];
  /** Pause between one recording and the next, seconds (default 20). */
  gapSeconds?: number;
  /** Clip frame size (default 640x360: small, so generation is fast). */
  width?: number;
  height?: number;
  /**
   * For benchmarks: pad every clip to at least this many bytes (a trailing MP4
   * `free` box of incompressible bytes; the clip still probes and plays). Costs one
   * sequential write per clip, no extra encoding.
   */
  clipBytes?: number;
  /** Capacity reported in RECORDER.JSON (default 32 GiB); free = capacity - files. */
  storageTotalBytes?: number;
  /** The media adapter whose ffmpeg writes the samples (default: resolved from PATH/bundled). */
  media?: MediaTools;
  /** ffmpeg runs at once (default: up to 4). */
  concurrency?: number;
  /** "Now", for the default recordedAt. */
  now?: Date;
  signal?: AbortSignal;
}

export interface SimulatedFile {
  /** Absolute path. */
  path: string;
  /** Relative to the recorder root, '/'-separated, as the recorder names it. */
  relPath: string;
  /** The recorder's file number (the _NNNN in the name). */
  number: number;
  kind: SimulatedKind;
  size: number;
  /** True time recording started. */
  recordedStart: Date;
  /** The recorder's clock at that moment (recordedStart + offset): in the name and creation_time. */
  deviceStart: Date;
  /** 0 for photos. */
  durationMs: number;
  /** File mtime: the recorder's clock when it closed the file. */
  mtime: Date;
}

export interface SimulatedRecorder {
  root: string;
  /** Media files in recording order (which is file-number order). */
  files: SimulatedFile[];
  /** Numbers skipped in the numbering (`omitNumbers` that fell in range). */
  missingNumbers: number[];
  /** Recorder files that are not evidence and that ingest must skip ('/'-separated, relative). */
  systemFiles: string[];
  /** Absolute path of RECORDER.JSON. */
  statusFile: string;
  status: RecorderStatus;
  /** The ffmpeg that wrote the media. */
  ffmpeg: ResolvedBinary;
}

const GiB = 1024 ** 3;

const isZone = (tz: string): boolean => DateTime.now().setZone(tz).isValid;

const optionsSchema = z.object({
  // Serials go into file names: keep them to characters every filesystem accepts.
  serial: z.string().regex(/^[A-Za-z0-9-]{1,32}$/, 'letters, digits and "-", at most 32').default('SIM0001'),
  model: z.string().min(1).max(64).default('SIM-DSJ-1'),
  officer: z.string().min(1).max(64).default('100001'),
  officerName: z.string().min(1).max(64).optional(),
  unit: z.string().min(1).max(64).default('350200000000'),
  clips: z.number().int().min(0).max(10_000).default(3),
  seconds: z.number().int().min(1).max(3600).default(5),
  recordedAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'not a valid time').optional(),
  clockOffsetSeconds: z.number().min(-10 * 365 * 86400).max(10 * 365 * 86400).default(0),
  battery: z.number().int().min(0).max(100).default(80),
  timeZone: z.string().refine(isZone, 'not a known IANA time zone').default('Asia/Shanghai'),
  firstNumber: z.number().int().min(0).max(9999).default(1),
  omitNumbers: z.array(z.number().int()).default([]),
  gapSeconds: z.number().int().min(0).max(86400).default(20),
  width: z.number().int().min(16).max(3840).refine((n) => n % 2 === 0, 'must be even').default(640),
  height: z.number().int().min(16).max(2160).refine((n) => n % 2 === 0, 'must be even').default(360),
  clipBytes: z.number().int().min(0).max(64 * GiB).optional(),
  storageTotalBytes: z.number().int().min(0).default(32 * GiB),
  concurrency: z.number().int().min(1).max(64).optional(),
});

interface Planned {
  kind: SimulatedKind;
  number: number;
  relPath: string;
  recordedStart: Date;
  deviceStart: Date;
  durationMs: number;
  spec: SampleSpec;
}

const KIND_LAYOUT: Record<SimulatedKind, { dir: string; ext: string }> = {
  video: { dir: 'DCIM', ext: 'MP4' },
  audio: { dir: 'RECORD', ext: 'WAV' },
  photo: { dir: 'PHOTO', ext: 'JPG' },
};

const LOG_FILE = 'SYSTEM/LOG.TXT';

/** Write a simulated recorder tree into `opts.out` and describe it. */
export async function simulateRecorder(opts: SimulateRecorderOptions): Promise<SimulatedRecorder> {
  const { out, media: givenMedia, now, signal, ...rest } = opts;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`);
    throw new UsageError(`invalid recorder simulation: ${problems.join('; ')}`);
  }
  const o = parsed.data;
  const root = resolve(out);
  await mkdir(root, { recursive: true });
  if ((await readdir(root)).length > 0) throw new UsageError(`${root} is not empty; a simulated recorder needs an empty folder`);

  const media = givenMedia ?? new MediaTools();
  const ffmpeg = media.binary('ffmpeg');
  const recordedAt = o.recordedAt ?? new Date((now ?? new Date()).getTime() - 3600_000);
  const plan = planFiles(o, new Date(Math.floor(recordedAt.getTime() / 1000) * 1000));

  try {
    await generateAll(media, root, plan, o.concurrency ?? Math.min(4, availableParallelism()), signal);
    const files: SimulatedFile[] = [];
    for (const p of plan) {
      const path = join(root, ...p.relPath.split('/'));
      const mtime = new Date(p.deviceStart.getTime() + p.durationMs);
      await utimes(path, mtime, mtime);
      files.push({ path, relPath: p.relPath, number: p.number, kind: p.kind, size: (await stat(path)).size, recordedStart: p.recordedStart, deviceStart: p.deviceStart, durationMs: p.durationMs, mtime });
    }
    const logBytes = await writeLog(root, o, files);

    const used = files.reduce((n, f) => n + f.size, logBytes);
    const status: RecorderStatus = recorderStatusSchema.parse({
      format: RECORDER_STATUS_FORMAT,
      serial: o.serial,
      model: o.model,
      officer: o.officer,
      ...(o.officerName !== undefined ? { officerName: o.officerName } : {}),
      unit: o.unit,
      battery: o.battery,
      clockOffsetSeconds: o.clockOffsetSeconds,
      storageTotalBytes: o.storageTotalBytes,
      storageFreeBytes: Math.max(0, o.storageTotalBytes - used),
    });
    // Written last and renamed into place: a watcher that sees RECORDER.JSON sees a
    // complete recorder, as if it had just been docked.
    const statusFile = join(root, RECORDER_STATUS_FILE);
    const tmp = join(root, `.${RECORDER_STATUS_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(status, null, 2) + '\n');
    await rename(tmp, statusFile);

    const first = plan[0]?.number ?? o.firstNumber;
    const last = plan[plan.length - 1]?.number ?? o.firstNumber;
    const missingNumbers = [...new Set(o.omitNumbers)].filter((n) => n > first && n < last).sort((a, b) => a - b);
    return { root, files, missingNumbers, systemFiles: [LOG_FILE], statusFile, status, ffmpeg };
  } catch (e) {
    // The folder was empty when we started, so everything in it is ours to remove.
    for (const name of await readdir(root).catch(() => [] as string[])) await rm(join(root, name), { recursive: true, force: true });
    throw e;
  }
}

/** Every file's number, name and times, in recording order: clips, the audio recording, photos. */
function planFiles(o: z.output<typeof optionsSchema>, start: Date): Planned[] {
  const kinds: SimulatedKind[] = [...Array<SimulatedKind>(o.clips).fill('video'), 'audio', 'photo', 'photo'];
  const omit = new Set(o.omitNumbers);
  const offsetMs = Math.round(o.clockOffsetSeconds * 1000);
  const plan: Planned[] = [];
  let number = o.firstNumber;
  let t = start.getTime();
  kinds.forEach((kind, i) => {
    while (omit.has(number)) number++;
    // Recorders count to 9999 and wrap.
    const shown = number % 10000;
    const recordedStart = new Date(t);
    const deviceStart = new Date(t + offsetMs);
    const local = DateTime.fromJSDate(deviceStart, { zone: o.timeZone });
    const { dir, ext } = KIND_LAYOUT[kind];
    const name = `${o.serial}_${local.toFormat('yyyyMMddHHmmss')}_${String(shown).padStart(4, '0')}.${ext}`;
    const durationMs = kind === 'photo' ? 0 : o.seconds * 1000;
    const spec: SampleSpec =
      kind === 'video'
        ? {
            kind,
            seconds: o.seconds,
            width: o.width,
            height: o.height,
            creationTime: deviceStart,
            variant: i,
            ...(o.clipBytes !== undefined ? { minBytes: o.clipBytes } : {}),
          }
        : kind === 'audio'
          ? { kind, seconds: o.seconds, variant: i }
          : { kind, width: 1280, height: 720, variant: i };
    plan.push({ kind, number: shown, relPath: `${dir}/${local.toFormat('yyyyMMdd')}/${name}`, recordedStart, deviceStart, durationMs, spec });
    t += durationMs + o.gapSeconds * 1000;
    number++;
  });
  return plan;
}

/** Run ffmpeg for every planned file, a few at a time; the first failure stops the rest. */
async function generateAll(media: MediaTools, root: string, plan: Planned[], concurrency: number, signal: AbortSignal | undefined): Promise<void> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < plan.length) {
      const p = plan[next++]!;
      const path = join(root, ...p.relPath.split('/'));
      try {
        await mkdir(dirname(path), { recursive: true });
        // Clips get a generous limit: a padded benchmark clip may be gigabytes.
        await media.generateSample(path, p.spec, { signal: stop.signal, timeoutMs: 600_000 });
      } catch (e) {
        failure ??= e;
        stop.abort(e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
}

/** The recorder's own log (device local time): present on real devices, never evidence. */
async function writeLog(root: string, o: z.output<typeof optionsSchema>, files: SimulatedFile[]): Promise<number> {
  const fmt = (d: Date): string => DateTime.fromJSDate(d, { zone: o.timeZone }).toFormat('yyyy-MM-dd HH:mm:ss');
  const lines: string[] = [];
  const first = files[0];
  if (first) lines.push(`${fmt(first.deviceStart)} POWER ON SN=${o.serial} BAT=${o.battery}%`);
  for (const f of files) {
    const name = f.relPath.slice(f.relPath.lastIndexOf('/') + 1);
    if (f.kind === 'photo') {
      lines.push(`${fmt(f.deviceStart)} SNAPSHOT ${name}`);
    } else {
      lines.push(`${fmt(f.deviceStart)} ${f.kind === 'video' ? 'REC' : 'AUDIO'} START ${name}`, `${fmt(f.mtime)} ${f.kind === 'video' ? 'REC' : 'AUDIO'} STOP ${name}`);
    }
  }
  const last = files[files.length - 1]?.mtime ?? new Date();
  lines.push(`${fmt(last)} USB CONNECT MSDC`);
  const path = join(root, ...LOG_FILE.split('/'));
  await mkdir(dirname(path), { recursive: true });
  const text = lines.join('\r\n') + '\r\n';
  await writeFile(path, text);
  await utimes(path, last, last);
  return Buffer.byteLength(text);
}
