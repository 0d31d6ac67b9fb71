import { spawn } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { MediaError, type MediaErrorCode } from './errors.js';

export interface RunOptions {
  /** Kill the child (SIGKILL) after this long. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Kill the child when stdout grows past this: output is buffered, so it is bounded. */
  maxStdoutBytes: number;
  /** The code for a non-zero exit, e.g. MEDIA_PROBE_FAILED. */
  failCode: MediaErrorCode;
  /** Short description for messages, e.g. `probe /media/a.mp4`. */
  what: string;
  /**
   * Run the child at least at this niceness (0–19): background work (proxies) then
   * takes only the CPU that dock sessions and the API leave over. Unchanged when omitted.
   */
  niceness?: number;
}

export interface RunResult {
  stdout: Buffer;
  /** The last few KiB of stderr, for messages. */
  stderr: string;
}

const STDERR_TAIL_BYTES = 4096;

/** The last meaningful stderr line: ffmpeg puts the reason there. */
export function lastLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/**
 * Run ffmpeg/ffprobe once. Every path out of here settles exactly once, clears its
 * timer and its abort listener, and leaves no child behind: on timeout, abort or
 * runaway output the child is SIGKILLed (ffmpeg forks nothing, so killing it is enough).
 */
export function runTool(bin: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  if (opts.signal?.aborted) {
    return Promise.reject(new MediaError('MEDIA_ABORTED', `${opts.what}: aborted`, { cause: opts.signal.reason }));
  }
  return new Promise<RunResult>((resolvePromise, rejectPromise) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    if (opts.niceness !== undefined && child.pid !== undefined) {
      try {
        // Never raise the priority of a station that already runs niced.
        setPriority(child.pid, Math.max(getPriority(child.pid), opts.niceness));
      } catch (e) {
        // The child exited already (ESRCH), or the system refuses: it runs at normal priority.
        void e;
      }
    }
    const chunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = '';
    let failure: MediaError | undefined;
    let settled = false;

    const kill = (why: MediaError): void => {
      failure ??= why;
      child.stdout.destroy();
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      kill(new MediaError('MEDIA_TIMEOUT', `${opts.what}: no result within ${opts.timeoutMs} ms`, { details: { timeoutMs: opts.timeoutMs } }));
    }, opts.timeoutMs);
    const onAbort = (): void => {
      kill(new MediaError('MEDIA_ABORTED', `${opts.what}: aborted`, { cause: opts.signal?.reason }));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (err: MediaError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) rejectPromise(err);
      else resolvePromise({ stdout: Buffer.concat(chunks, stdoutBytes), stderr: stderrTail });
    };

    child.stdout.on('data', (c: Buffer) => {
      stdoutBytes += c.length;
      if (stdoutBytes > opts.maxStdoutBytes) {
        kill(new MediaError(opts.failCode, `${opts.what}: output larger than ${opts.maxStdoutBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderrTail = (stderrTail + s).slice(-STDERR_TAIL_BYTES);
    });
    // Stream errors after a kill (EPIPE, ECONNRESET) carry no news; the exit decides.
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);

    child.on('error', (e) => {
      // spawn failed (binary vanished, EACCES) or kill failed: nothing ran to completion.
      failure ??= new MediaError('MEDIA_BINARY_NOT_FOUND', `${opts.what}: cannot run ${bin}: ${e.message}`, { cause: e });
      finish(failure);
    });
    child.on('close', (code, signal) => {
      if (failure) return finish(failure);
      if (code === 0) return finish(undefined);
      const reason = lastLine(stderrTail) || (signal ? `killed by ${signal}` : `exit code ${String(code)}`);
      finish(new MediaError(opts.failCode, `${opts.what}: ${reason}`, { details: { exitCode: code, signal, stderr: stderrTail } }));
    });
  });
}
