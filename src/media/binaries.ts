import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { errorMessage } from '../core/index.js';
import { MediaError } from './errors.js';

export type MediaTool = 'ffmpeg' | 'ffprobe';

/** Where a binary came from, in the order they are tried. */
export type BinarySource = 'configured' | 'system' | 'bundled';

export interface ResolvedBinary {
  tool: MediaTool;
  path: string;
  source: BinarySource;
  /** Why this binary should be replaced (an old bundled build), to be logged as a warning. */
  warning?: string;
}

export interface ResolveBinaryOptions {
  /** An explicit path (media.ffmpegPath / media.ffprobePath); a bare name is looked up on PATH. */
  configured?: string | undefined;
  /** Environment whose PATH is searched; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** Skip the bundled installer packages (tests of the "nothing found" path). */
  bundled?: boolean;
  /** Today, for the age of a bundled build (tests). */
  now?: Date;
}

/**
 * A bundled build older than this is named in a warning: the installer packages ship
 * static builds that are not updated (@ffmpeg-installer's ffmpeg is of December 2018),
 * and every recorder file custody probes or thumbnails is read by them.
 */
const STALE_BUILD_DAYS = 730;

const BUNDLED_PACKAGE: Record<MediaTool, string> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};

function executableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    // An empty PATH entry means the working directory; never pick a binary from there.
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, process.platform === 'win32' ? `${name}.exe` : name);
    if (executableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The installer packages throw from their top level when their platform binary is
 * missing, so they are loaded lazily, here, and only after the other sources failed.
 */
function bundledPath(tool: MediaTool): { path?: string; version?: string; problem?: string } {
  try {
    const require = createRequire(import.meta.url);
    const mod = require(BUNDLED_PACKAGE[tool]) as { path?: unknown; version?: unknown };
    if (typeof mod.path !== 'string') return { problem: `${BUNDLED_PACKAGE[tool]} exports no path` };
    if (!executableFile(mod.path)) {
      // npm unpacks @ffprobe-installer's binary as rwxr--r--: only the owner of
      // node_modules may run it, which bites a daemon running as its own user.
      return { problem: `bundled ${tool} at ${mod.path} is not executable by this user (chmod a+x it or set media.${tool}Path)` };
    }
    return { path: mod.path, ...(typeof mod.version === 'string' ? { version: mod.version } : {}) };
  } catch (e) {
    return { problem: `${BUNDLED_PACKAGE[tool]}: ${errorMessage(e)}` };
  }
}

/** A warning when a bundled build (version "20181210-g0e8eb07980": its build date first) is old. */
function staleBuildWarning(tool: MediaTool, version: string | undefined, now: Date): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/u.exec(version ?? '');
  if (!m) return undefined;
  const built = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (now.getTime() - built <= STALE_BUILD_DAYS * 86_400_000) return undefined;
  return (
    `the bundled ${tool} (${BUNDLED_PACKAGE[tool]}) is a static build of ${m[1]}-${m[2]}-${m[3]}, without the fixes FFmpeg has made since ` +
    `to reading damaged or hostile files; install a current ${tool} on PATH (e.g. apt install ffmpeg) or set media.${tool}Path`
  );
}

/**
 * Find one binary: the configured path, else the system's on PATH, else the bundled
 * static build. A configured path that does not work is an error, not a reason to
 * fall back silently to another build.
 */
export function resolveBinary(tool: MediaTool, opts: ResolveBinaryOptions = {}): ResolvedBinary {
  const env = opts.env ?? process.env;
  const configKey = `media.${tool}Path`;
  if (opts.configured !== undefined) {
    const c = opts.configured;
    const found = c.includes('/') || c.includes('\\') ? (executableFile(resolve(c)) ? resolve(c) : undefined) : onPath(c, env);
    if (found === undefined) {
      throw new MediaError('MEDIA_BINARY_NOT_FOUND', `${configKey} is "${c}", which is not an executable file`, {
        details: { tool, configured: c },
      });
    }
    return { tool, path: found, source: 'configured' };
  }
  const system = onPath(tool, env);
  if (system !== undefined) return { tool, path: system, source: 'system' };
  if (opts.bundled !== false) {
    const b = bundledPath(tool);
    if (b.path !== undefined) {
      const warning = staleBuildWarning(tool, b.version, opts.now ?? new Date());
      return { tool, path: b.path, source: 'bundled', ...(warning ? { warning } : {}) };
    }
    throw new MediaError('MEDIA_BINARY_NOT_FOUND', `no ${tool}: not on PATH, and ${b.problem ?? 'no bundled build'}`, {
      details: { tool },
    });
  }
  throw new MediaError('MEDIA_BINARY_NOT_FOUND', `no ${tool} on PATH and ${configKey} is not set`, { details: { tool } });
}
