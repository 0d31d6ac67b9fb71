import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { uniqueBucketName } from './s3rver.js';

/**
 * OpenStack Swift's S3 API (s3api + tempauth) on loopback, started and stopped by
 * scripts/test-s3-swift.sh. No vitest import here: the vault benchmark uses it too.
 */

const SCRIPT = fileURLToPath(new URL('../../scripts/test-s3-swift.sh', import.meta.url));
const run = promisify(execFile);

export interface SwiftS3 {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Create a bucket with a fresh name (one per test) and return its name. */
  createBucket(label?: string): Promise<string>;
  /** PUT bytes straight to a bucket key, past the adapter (to plant damage or a crashed writer's temp). */
  rawPut(bucket: string, fullKey: string, data: Buffer): Promise<void>;
  /**
   * A plain SDK client for this Swift (path style, WHEN_REQUIRED checksums, no custody
   * middleware), for tests that show what Swift does with requests the adapter never sends.
   */
  readonly client: S3Client;
  /** Stop the servers this helper started and remove their folder (nothing when Swift was started outside). */
  stop(): Promise<void>;
}

/**
 * Whether Swift's Debian packages are installed: `{ ok: true }`, or `{ ok: false, reason }`
 * naming what is missing and how to install it. Synchronous so that a test file can decide
 * at registration time whether to run its Swift target.
 */
export function swiftAvailability(): { ok: true } | { ok: false; reason: string } {
  if (process.env.SWIFT_S3_ENDPOINT) return { ok: true };
  const r = spawnSync('bash', [SCRIPT, 'check'], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  return { ok: false, reason: (r.stderr || r.error?.message || `exit ${r.status}`).trim().replace(/^test-s3-swift: /, '') };
}

function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * A Swift to test against. With SWIFT_S3_ENDPOINT set (and SWIFT_S3_ACCESS_KEY_ID,
 * SWIFT_S3_SECRET_ACCESS_KEY, optionally SWIFT_S3_REGION) that already running one is
 * used and left running; otherwise the script starts one in a temp folder on free ports
 * (5–10 s), and stop() stops exactly those processes. The script is told this process's
 * pid, so a runner killed before stop() does not leave the servers behind.
 */
export async function startSwift(): Promise<SwiftS3> {
  let env: Record<string, string>;
  let dir: string | undefined;
  if (process.env.SWIFT_S3_ENDPOINT) {
    env = {
      SWIFT_S3_ENDPOINT: process.env.SWIFT_S3_ENDPOINT,
      SWIFT_S3_REGION: process.env.SWIFT_S3_REGION ?? 'us-east-1',
      SWIFT_S3_ACCESS_KEY_ID: process.env.SWIFT_S3_ACCESS_KEY_ID ?? 'test:tester',
      SWIFT_S3_SECRET_ACCESS_KEY: process.env.SWIFT_S3_SECRET_ACCESS_KEY ?? 'testing',
    };
  } else {
    const { stdout } = await run('bash', [SCRIPT, 'start'], {
      env: { ...process.env, SWIFT_OWNER_PID: String(process.pid) },
      timeout: 180_000,
    }).catch((e: unknown) => {
      const err = e as Error & { stderr?: string };
      throw new Error(`could not start Swift with ${SCRIPT}: ${err.stderr?.trim() || err.message}`, { cause: e });
    });
    env = parseEnv(stdout);
    dir = env.SWIFT_DIR;
    if (!env.SWIFT_S3_ENDPOINT || !dir) throw new Error(`${SCRIPT} start printed no endpoint: ${stdout}`);
  }
  const endpoint = env.SWIFT_S3_ENDPOINT!;
  const region = env.SWIFT_S3_REGION!;
  const accessKeyId = env.SWIFT_S3_ACCESS_KEY_ID!;
  const secretAccessKey = env.SWIFT_S3_SECRET_ACCESS_KEY!;
  // As the adapter does (docs/object-stores.md): the SDK's Node 20 notice is not news here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // The test's own client, for set-up the adapter never does (buckets) and for damage
  // done behind its back. Plain bodies: Swift rejects aws-chunked uploads.
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    client,
    async createBucket(label?: string): Promise<string> {
      const name = uniqueBucketName(label);
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async rawPut(bucket: string, fullKey: string, data: Buffer): Promise<void> {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: fullKey, Body: data, ContentLength: data.length }));
    },
    async stop(): Promise<void> {
      client.destroy();
      if (dir !== undefined) await run('bash', [SCRIPT, 'stop', dir], { timeout: 60_000 });
    },
  };
}
