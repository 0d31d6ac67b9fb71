import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('./s3rver-launcher.mjs', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

/** s3rver's one built-in key pair. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface S3rver {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** Where s3rver keeps its buckets (one folder per bucket). */
  readonly directory: string;
  /** Create a bucket with a fresh name (one per test) and return its name. */
  createBucket(label?: string): Promise<string>;
  /** Stop the server and remove its folder. */
  stop(): Promise<void>;
}

/** A bucket name unique to this run: lowercase, 3..63 characters. */
export function uniqueBucketName(label = 't'): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 't';
  return `${clean}-${randomBytes(6).toString('hex')}`;
}

/**
 * Start s3rver as a child process on an OS-chosen loopback port, in a fresh temp
 * folder, and resolve once it listens (the launcher prints its port when ready).
 *
 * A child process rather than in-process: s3rver needs `--openssl-legacy-provider`
 * for its DES continuation tokens, which cannot be switched on inside a running
 * Node process.
 */
export async function startS3rver(): Promise<S3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'custody-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', LAUNCHER, directory], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (e) {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    directory,
    async createBucket(label?: string): Promise<string> {
      const name = uniqueBucketName(label);
      // s3rver accepts unsigned requests, so the bucket is made with a plain PUT
      // rather than through the adapter under test (which never creates buckets).
      const res = await fetch(`${endpoint}/${name}`, { method: 'PUT' });
      if (!res.ok) throw new Error(`s3rver would not create bucket ${name}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer().catch(() => undefined);
      return name;
    },
    async stop(): Promise<void> {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`s3rver did not start within ${READY_TIMEOUT_MS} ms: ${err}`)), READY_TIMEOUT_MS);
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === 'number') finish(null, port);
      else finish(new Error(`s3rver launcher printed no port: ${line}`));
    };
    const onErr = (chunk: Buffer): void => {
      err += chunk.toString('utf8');
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      finish(new Error(`s3rver exited before it was ready (code ${code}, signal ${signal}): ${err}`));
    };
    function finish(e: Error | null, port?: number): void {
      clearTimeout(timer);
      child.stdout!.off('data', onOut);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve(port!);
    }
    child.stdout!.on('data', onOut);
    // stderr keeps being drained so a chatty server never blocks on a full pipe.
    child.stderr!.on('data', onErr);
    child.once('exit', onExit);
    child.once('error', (e) => finish(e));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Closing stdin asks the launcher to shut down; SIGKILL if it does not within 5 s.
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
