import type { Command } from 'commander';
import { UsageError } from '../../core/index.js';
import { simulateRecorder, type SimulatedRecorder } from '../../devices/index.js';
import { cliStation, globals, output } from '../context.js';
import { COMMANDS, registerCommand } from './index.js';

interface RecorderFlags {
  out: string;
  serial?: string;
  officer?: string;
  officerName?: string;
  unit?: string;
  model?: string;
  clips?: string;
  seconds?: string;
  recordedAt?: string;
  clockOffset?: string;
  battery?: string;
  firstNumber?: string;
  clipBytes?: string;
  timezone?: string;
}

function integer(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function seconds(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number of seconds, got "${raw}"`);
  return n;
}

/** An ISO 8601 time with an explicit zone, so "when" never depends on this machine's TZ. */
function instant(flag: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const d = new Date(raw);
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(raw.trim()) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${flag} must be an ISO 8601 time with a zone, e.g. 2026-11-20T08:30:00+08:00; got "${raw}"`);
  }
  return d;
}

function human(r: SimulatedRecorder): string {
  const count = (k: string): number => r.files.filter((f) => f.kind === k).length;
  const bytes = r.files.reduce((n, f) => n + f.size, 0);
  const offset = r.status.clockOffsetSeconds;
  return [
    `simulated recorder ${r.status.serial} (${r.status.model}, officer ${r.status.officer}, unit ${r.status.unit}) at ${r.root}`,
    `  ${count('video')} video, ${count('audio')} audio, ${count('photo')} photo files: ${bytes} bytes`,
    `  clock ${offset >= 0 ? '+' : ''}${offset} s, battery ${r.status.battery} %, ffmpeg ${r.ffmpeg.path} (${r.ffmpeg.source})`,
    ...r.files.map((f) => `  ${f.relPath}`),
  ].join('\n');
}

export async function simulateRecorderCommand(flags: RecorderFlags, cmd: Command): Promise<void> {
  const g = globals(cmd);
  // Only the media tools are taken from the station: no catalog or vault is opened.
  const station = cliStation(g);
  const { config, log } = station;
  const result = await simulateRecorder({
    out: flags.out,
    serial: flags.serial,
    officer: flags.officer,
    officerName: flags.officerName,
    unit: flags.unit,
    model: flags.model,
    clips: integer('--clips', flags.clips),
    seconds: integer('--seconds', flags.seconds),
    recordedAt: instant('--recorded-at', flags.recordedAt),
    clockOffsetSeconds: seconds('--clock-offset', flags.clockOffset),
    battery: integer('--battery', flags.battery),
    firstNumber: integer('--first-number', flags.firstNumber),
    clipBytes: integer('--clip-bytes', flags.clipBytes),
    timeZone: flags.timezone ?? config.timezone,
    media: await station.media(),
  });
  log.info({ serial: result.status.serial, root: result.root, files: result.files.length }, 'simulated recorder written');
  output(g, result, human(result));
}

/** `custody simulate` alone on a program, as the table registers it (for tests that build a small program). */
export function registerSimulate(program: Command): void {
  registerCommand(program, COMMANDS.find((c) => c.name === 'simulate')!);
}
