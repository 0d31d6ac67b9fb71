import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { MediaError } from './errors.js';

export type MediaTool = 'ffmpeg' | 'ffprobe';

/** Where a binary came from, in the order they are tried. */
export type BinarySource = 'configured' | 'system' | 'bundled';

export interface ResolvedBinary {
  tool: MediaTool;
  path: string;
  source: BinarySource;
}

export interface ResolveBinaryOptions {
  /** An explicit path (media.ffmpegPath / media.ffprobePath); a bare name is looked up on PATH. */
  configured?: string | undefined;
  /** Environment whose PATH is searched; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** Skip the bundled installer packages (tests of the "nothing found" path). */
  bundled?: boolean;
}

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
function bundledPath(tool: MediaTool): { path?: string; problem?: string } {
  try {
    const require = createRequire(import.meta.url);
    const mod = require(BUNDLED_PACKAGE[tool]) as { path?: unknown };
    if (typeof mod.path !== 'string') return { problem: `${BUNDLED_PACKAGE[tool]} exports no path` };
    if (!executableFile(mod.path)) {
      // npm unpacks @ffprobe-installer's binary as rwxr--r--: only the owner of
      // node_modules may run it, which bites a daemon running as its own user.
      return { problem: `bundled ${tool} at ${mod.path} is not executable by this user (chmod a+x it or set media.${tool}Path)` };
    }
    return { path: mod.path };
  } catch (e) {
    return { problem: `${BUNDLED_PACKAGE[tool]}: ${errorMessage(e)}` };
  }
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
    if (b.path !== undefined) return { tool, path: b.path, source: 'bundled' };
    throw new MediaError('MEDIA_BINARY_NOT_FOUND', `no ${tool}: not on PATH, and ${b.problem ?? 'no bundled build'}`, {
      details: { tool },
    });
  }
  throw new MediaError('MEDIA_BINARY_NOT_FOUND', `no ${tool} on PATH and ${configKey} is not set`, { details: { tool } });
}
