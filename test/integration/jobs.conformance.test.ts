/**
 * One conformance suite for the JobRunner port, run against both adapters: the
 * in-process runner on a real SQLite catalog file, and BullMQ on a real Redis.
 * Redis must be reachable (CUSTODY_TEST_REDIS_URL, default 127.0.0.1:6379): the
 * BullMQ half fails, it does not skip, when it is not.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../../src/catalog/index.js';
import { configSchema } from '../../src/config/schema.js';
import { CustodyError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { BullmqJobRunner } from '../../src/jobs/bullmq-runner.js';
import { DeferredBullmqRunner, JOBS, SqliteJobRunner, createJobRunner, type JobContext, type JobRunner } from '../../src/jobs/index.js';
import {
  EventLog,
  TEST_REDIS_URL,
  deferred,
  openRunner,
  until,
  type OpenedRunner,
  type StoreSpec,
  type TestRunnerOptions,
} from '../helpers/jobs.js';

const CRASH_CHILD = fileURLToPath(new URL('../helpers/jobs-crash-child.ts', import.meta.url));

/** Fast retries, so the suite does not wait out production backoffs. */
const FAST: TestRunnerOptions = { backoffMs: 20 };

interface Store {
  spec: StoreSpec;
  /** A new runner on this store; stopped and released after the test. */
  runner(opts?: TestRunnerOptions): JobRunner;
  teardown(): Promise<void>;
}

interface Adapter {
  kind: 'sqlite' | 'bullmq';
  /** A fresh, empty store for one test. */
  setup(): Promise<Store>;
}

function storeFor(spec: StoreSpec, cleanup: () => Promise<void>): Store {
  const opened: OpenedRunner[] = [];
  return {
    spec,
    runner(opts = {}) {
      const o = openRunner(spec, { ...FAST, ...opts });
      opened.push(o);
      return o.runner;
    },
    async teardown() {
      for (const o of opened) await o.close();
      await cleanup();
    },
  };
}

const sqlite: Adapter = {
  kind: 'sqlite',
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'custody-jobs-'));
    return storeFor({ kind: 'sqlite', file: join(dir, 'catalog.db') }, () => rm(dir, { recursive: true, force: true }));
  },
};

/** Every key under the prefix, found with SCAN (never KEYS on a shared server). */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function connectTestRedis(): Promise<Redis> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
  let lastError: unknown;
  redis.on('error', (e: unknown) => {
    lastError = e;
  });
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new Error(
      `Redis is not reachable at ${TEST_REDIS_URL} (${String(lastError ?? e)}); the BullMQ conformance tests need it: ` +
        'start one with `redis-server --daemonize yes --port 6379 --save "" --appendonly no`',
    );
  }
  return redis;
}

const bullmq: Adapter = {
  kind: 'bullmq',
  async setup() {
    const redis = await connectTestRedis();
    const prefix = `custody-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    return storeFor({ kind: 'bullmq', redisUrl: TEST_REDIS_URL, prefix }, async () => {
      const keys = await keysUnder(redis, prefix);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });
  },
};

/** Let the event loop turn a few times (no timers): enough for a stop() that does not wait to finish. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe.each([sqlite, bullmq])('JobRunner conformance: $kind', (adapter) => {
  let store: Store;

  beforeEach(async () => {
    store = await adapter.setup();
  });

  afterEach(async () => {
    await store.teardown();
  });

  it('runs a job once with its payload, and reports it', async () => {
    const runner = store.runner();
    const log = new EventLog(runner);
    const calls: { payload: unknown; ctx: JobContext }[] = [];
    runner.register('test.echo', async (payload, ctx) => {
      calls.push({ payload, ctx });
    });
    // A listener that throws must not hurt the runner or the other listeners.
    runner.on(() => {
      throw new Error('listener bug');
    });
    await runner.start();

    const payload = { evidenceId: 'ev-1', sizes: [1, 2.5], nested: { ok: true, none: null }, text: 'ünïcode' };
    const id = await runner.enqueue('test.echo', payload);
    const done = await log.completed(id);

    expect(done).toEqual({ type: 'completed', id, name: 'test.echo', attempt: 1 });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.payload).toEqual(payload);
    expect(calls[0]!.ctx).toMatchObject({ id, name: 'test.echo', attempt: 1 });
    expect(calls[0]!.ctx.signal.aborted).toBe(false);
    await until(async () => (await runner.stats()).active === 0, 'the job to leave the active state');
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 0, delayed: 0 });
  });

  it('adds several jobs at once: ids in order, each key kept once (in the batch and against a live job), and each runs once', async () => {
    const runner = store.runner({ concurrency: 1 });
    const log = new EventLog(runner);
    const seen: unknown[] = [];
    runner.register('test.echo', async (payload) => {
      seen.push(payload);
    });
    const live = await runner.enqueue('test.echo', { n: 0 }, { key: 'probe:ev-0' });
    const ids = await runner.enqueueMany([
      { name: 'test.echo', payload: { n: 1 }, opts: { key: 'probe:ev-1' } },
      { name: 'test.echo', payload: { n: 2 }, opts: { key: 'probe:ev-0' } },
      { name: 'test.echo', payload: { n: 3 }, opts: { key: 'probe:ev-1' } },
      { name: 'test.echo', payload: { n: 4 } },
    ]);
    expect(ids).toHaveLength(4);
    expect(ids[1]).toBe(live);
    expect(ids[2]).toBe(ids[0]);
    expect(new Set([live, ids[0], ids[3]]).size).toBe(3);
    expect((await runner.stats()).waiting).toBe(3);
    expect(await runner.enqueueMany([])).toEqual([]);
    await runner.start();
    await Promise.all([live, ids[0]!, ids[3]!].map((id) => log.completed(id)));
    expect(seen).toEqual([{ n: 0 }, { n: 1 }, { n: 4 }]);
    // A job the runner refuses refuses the call.
    await expect(runner.enqueueMany([{ name: 'test.echo', payload: { n: 5 } }, { name: '', payload: {} }])).rejects.toMatchObject({ code: expect.stringMatching(/^JOBS_/) });
    // In-process: one transaction, so none of that call was added.
    if (adapter.kind === 'sqlite') expect(await runner.stats()).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('holds the start of new jobs while held: enqueue goes on, a held job starts once released', async () => {
    const runner = store.runner();
    const log = new EventLog(runner);
    const ran: unknown[] = [];
    runner.register('test.echo', async (payload) => {
      ran.push(payload);
    });
    await runner.hold(true);
    await runner.start();
    const a = await runner.enqueue('test.echo', { n: 1 });
    // Held for well over a poll: nothing starts.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ran).toEqual([]);
    expect((await runner.stats()).waiting).toBe(1);
    await runner.hold(false);
    await log.completed(a);
    expect(ran).toEqual([{ n: 1 }]);
    // Held again while running: a new job waits, released it runs.
    await runner.hold(true);
    const b = await runner.enqueue('test.echo', { n: 2 });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ran).toEqual([{ n: 1 }]);
    await runner.hold(false);
    await log.completed(b);
    expect(ran).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('keeps one live job per key, and frees the key once the job is done', async () => {
    const runner = store.runner({ concurrency: 1 });
    const log = new EventLog(runner);
    const seen: unknown[] = [];
    const gate = deferred();
    const started = deferred();
    runner.register('test.echo', async (payload) => {
      seen.push(payload);
    });
    runner.register('test.block', async () => {
      started.resolve();
      await gate.promise;
    });

    // Waiting: the second enqueue with the key is a no-op returning the first id.
    // Keys with ':' are what callers naturally use (probe:<evidence id>).
    const first = await runner.enqueue('test.echo', { n: 1 }, { key: 'probe:ev-1' });
    const again = await runner.enqueue('test.echo', { n: 2 }, { key: 'probe:ev-1' });
    const other = await runner.enqueue('test.echo', { n: 3 }, { key: 'probe:ev-2' });
    const unkeyed = await runner.enqueue('test.echo', { n: 4 });
    expect(again).toBe(first);
    expect(new Set([first, other, unkeyed]).size).toBe(3);
    expect((await runner.stats()).waiting).toBe(3);

    await runner.start();
    await Promise.all([log.completed(first), log.completed(other), log.completed(unkeyed)]);
    expect(seen).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);

    // Running: still live, so still deduplicated.
    const blocker = await runner.enqueue('test.block', {}, { key: 'seal' });
    await started.promise;
    expect(await runner.enqueue('test.block', {}, { key: 'seal' })).toBe(blocker);
    gate.resolve();
    await log.completed(blocker);

    // Done: the key is free again, and a new job runs. (BullMQ's job id is the key,
    // so the id may repeat; wait for a completion after this point.)
    const mark = log.events.length;
    const later = await runner.enqueue('test.echo', { n: 5 }, { key: 'probe:ev-1' });
    await log.waitFor((e) => log.events.indexOf(e) >= mark && e.type === 'completed' && e.id === later, 'the re-keyed job to complete');
    expect(seen).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    expect(log.events.filter((e) => e.type === 'completed' && e.name === 'test.block')).toHaveLength(1);
  });

  it('retries a failing job with backoff until it succeeds', async () => {
    const runner = store.runner({ maxAttempts: 5 });
    const log = new EventLog(runner);
    const attempts: number[] = [];
    runner.register('test.flaky', async (_payload, ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new CustodyError('MEDIA_TIMEOUT', 'the file is still being written');
      if (ctx.attempt === 2) throw new Error('ffprobe exited with code 1');
    });
    await runner.start();
    const id = await runner.enqueue('test.flaky', { evidenceId: 'ev-9' });
    await log.completed(id);

    expect(attempts).toEqual([1, 2, 3]);
    expect(log.events).toEqual([
      {
        type: 'failed',
        id,
        name: 'test.flaky',
        attempt: 1,
        error: { code: 'MEDIA_TIMEOUT', message: 'the file is still being written' },
        willRetry: true,
      },
      {
        type: 'failed',
        id,
        name: 'test.flaky',
        attempt: 2,
        error: { code: 'JOBS_HANDLER_FAILED', message: 'ffprobe exited with code 1' },
        willRetry: true,
      },
      { type: 'completed', id, name: 'test.flaky', attempt: 3 },
    ]);
    expect((await runner.stats()).failed).toBe(0);
  });

  it('fails a job for good once it is out of attempts', async () => {
    const runner = store.runner({ maxAttempts: 3 });
    const log = new EventLog(runner);
    let calls = 0;
    runner.register('test.broken', async () => {
      calls++;
      throw new Error('still broken');
    });
    await runner.start();
    const id = await runner.enqueue('test.broken', {});
    await log.failedFinally(id);

    expect(calls).toBe(3);
    expect(log.events.map((e) => (e.type === 'failed' ? [e.attempt, e.willRetry] : e.type))).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 1, delayed: 0 });
  });

  it('fails a job at once, without retrying, on a non-retryable CustodyError', async () => {
    const runner = store.runner({ maxAttempts: 5 });
    const log = new EventLog(runner);
    let calls = 0;
    runner.register('test.probe', async () => {
      calls++;
      throw new CustodyError('MEDIA_PROBE_FAILED', 'not a video file');
    });
    await runner.start();
    const id = await runner.enqueue('test.probe', { evidenceId: 'ev-2' });
    const failed = await log.failedFinally(id);

    expect(failed).toEqual({
      type: 'failed',
      id,
      name: 'test.probe',
      attempt: 1,
      error: { code: 'MEDIA_PROBE_FAILED', message: 'not a video file' },
      willRetry: false,
    });
    expect(calls).toBe(1);
    expect(log.events).toHaveLength(1);
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 1, delayed: 0 });
  });

  it('with a job table (issue 13): checks each payload on dequeue, and a bad one fails for good at once with a clear error', async () => {
    const jobs = { 'test.typed': z.object({ evidenceId: z.string().min(1), attempt: z.number().int().default(1) }) };
    const runner = store.runner({ maxAttempts: 5, jobs });
    const log = new EventLog(runner);
    const seen: unknown[] = [];
    runner.register('test.typed', async (payload) => {
      seen.push(payload);
    });
    await runner.start();
    const bad = await runner.enqueue('test.typed', { evidenceId: 42 });
    const failed = await log.failedFinally(bad);
    expect(failed).toMatchObject({ type: 'failed', id: bad, name: 'test.typed', attempt: 1, willRetry: false, error: { code: 'JOBS_PAYLOAD_INVALID' } });
    expect((failed as { error: { message: string } }).error.message).toMatch(/evidenceId: .*expected string/);
    expect(log.events.filter((e) => e.id === bad)).toHaveLength(1);

    const good = await runner.enqueue('test.typed', { evidenceId: 'ev-1' });
    await log.completed(good);
    // The handler got the parsed payload (defaults filled in), and never the bad one.
    expect(seen).toEqual([{ evidenceId: 'ev-1', attempt: 1 }]);
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 1, delayed: 0 });
  });

  it('with a job table (issue 13): refuses a handler for a name not in it, and will not start while a job has no handler', async () => {
    const jobs = { 'test.one': z.object({}), 'test.two': z.object({}) };
    const runner = store.runner({ jobs });
    expect(() => runner.register('test.other', async () => undefined)).toThrow(expect.objectContaining({ code: 'JOBS_UNKNOWN_NAME' }));
    runner.register('test.one', async () => undefined);
    await expect(runner.start()).rejects.toMatchObject({ code: 'JOBS_HANDLER_MISSING', message: expect.stringContaining('"test.two"') });
    const complete = store.runner({ jobs });
    complete.register('test.one', async () => undefined);
    complete.register('test.two', async () => undefined);
    await complete.start();
    const log = new EventLog(complete);
    await log.completed(await complete.enqueue('test.two', {}));
  });

  it('fails a job with no registered handler, with a clear error', async () => {
    const runner = store.runner({ maxAttempts: 5 });
    const log = new EventLog(runner);
    await runner.start();
    const id = await runner.enqueue('test.nobody', { x: 1 });
    const failed = await log.failedFinally(id);

    expect(failed).toMatchObject({ type: 'failed', id, name: 'test.nobody', attempt: 1, willRetry: false });
    expect(failed.type === 'failed' && failed.error.code).toBe('JOBS_UNKNOWN_NAME');
    expect(failed.type === 'failed' && failed.error.message).toContain('"test.nobody"');
    expect(log.events).toHaveLength(1);
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 1, delayed: 0 });
  });

  it('never runs more handlers at once than its concurrency', async () => {
    const runner = store.runner({ concurrency: 2 });
    const log = new EventLog(runner);
    const gates = new Map<number, () => void>();
    let running = 0;
    let most = 0;
    runner.register('test.slow', async (payload) => {
      const n = (payload as { n: number }).n;
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => gates.set(n, resolve));
      running--;
    });
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) ids.push(await runner.enqueue('test.slow', { n }));
    await runner.start();

    for (let left = 6; left > 0; left--) {
      const expected = Math.min(2, left);
      await until(() => running === expected && gates.size === expected, `${expected} handlers to be running`);
      const stats = await runner.stats();
      expect(stats.active).toBe(expected);
      expect(stats.waiting).toBe(left - expected);
      // Release the oldest running handler; the runner may then start one more.
      const [n, release] = [...gates.entries()].sort((a, b) => a[0] - b[0])[0]!;
      gates.delete(n);
      release();
    }
    await Promise.all(ids.map((id) => log.completed(id)));
    expect(most).toBe(2);
  });

  it('stop() takes no new job and waits for running handlers', async () => {
    const runner = store.runner({ concurrency: 1 });
    const log = new EventLog(runner);
    const order: string[] = [];
    const gate = deferred();
    const started = deferred<JobContext>();
    runner.register('test.block', async (_payload, ctx) => {
      started.resolve(ctx);
      await gate.promise;
      order.push('handler finished');
    });
    runner.register('test.next', async () => {
      order.push('next ran');
    });
    await runner.start();
    const first = await runner.enqueue('test.block', {});
    const ctx = await started.promise;
    const next = await runner.enqueue('test.next', { after: first });

    let stopped = false;
    const stopping = runner.stop({ deadlineMs: 30_000 }).then(() => {
      stopped = true;
      order.push('stopped');
    });
    await turns(20);
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;

    expect(order).toEqual(['handler finished', 'stopped']);
    expect(ctx.signal.aborted).toBe(false);
    expect(log.events).toEqual([{ type: 'completed', id: first, name: 'test.block', attempt: 1 }]);
    await expect(runner.enqueue('test.next', {})).rejects.toMatchObject({ code: 'JOBS_RUNNER_STOPPED' });

    // The job that had not started is still waiting, and the next runner runs it.
    const successor = store.runner();
    const log2 = new EventLog(successor);
    expect(await successor.stats()).toEqual({ waiting: 1, active: 0, failed: 0, delayed: 0 });
    successor.register('test.next', async () => {
      order.push('next ran');
    });
    await successor.start();
    await log2.completed(next);
    expect(order).toEqual(['handler finished', 'stopped', 'next ran']);
  });

  it('stop() aborts handlers through their signal after the deadline; the job runs again later', async () => {
    const runner = store.runner({ concurrency: 1 });
    const log = new EventLog(runner);
    const started = deferred<JobContext>();
    runner.register('test.long', (_payload, ctx) => {
      started.resolve(ctx);
      // A well-behaved long job: gives up as soon as its signal aborts.
      return new Promise<void>((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
      });
    });
    await runner.start();
    const id = await runner.enqueue('test.long', { evidenceId: 'ev-3' });
    const ctx = await started.promise;
    await runner.stop({ deadlineMs: 50 });

    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toMatchObject({ code: 'JOBS_STOPPING' });
    // Interrupted is neither completed nor failed.
    expect(log.events).toEqual([]);

    const successor = store.runner();
    const log2 = new EventLog(successor);
    expect(await successor.stats()).toEqual({ waiting: 1, active: 0, failed: 0, delayed: 0 });
    const attempts: number[] = [];
    successor.register('test.long', async (payload, c) => {
      expect(payload).toEqual({ evidenceId: 'ev-3' });
      attempts.push(c.attempt);
    });
    await successor.start();
    await log2.completed(id);
    // The interrupted attempt was not the job's fault and is not counted.
    expect(attempts).toEqual([1]);
  });

  it('stop() returns even when a handler ignores the abort, and the job runs again later', async () => {
    const runner = store.runner({ concurrency: 1, abortGraceMs: 100 });
    const started = deferred();
    const stuck = deferred();
    runner.register('test.stuck', async () => {
      started.resolve();
      await stuck.promise; // ignores its signal
    });
    await runner.start();
    const id = await runner.enqueue('test.stuck', { n: 1 });
    await started.promise;
    await runner.stop({ deadlineMs: 50 });

    const successor = store.runner();
    const log2 = new EventLog(successor);
    expect(await successor.stats()).toEqual({ waiting: 1, active: 0, failed: 0, delayed: 0 });
    successor.register('test.stuck', async () => undefined);
    await successor.start();
    await log2.completed(id);
    stuck.resolve(); // let the abandoned handler end
  });

  it('keeps jobs enqueued before a stop, and a new runner on the same store runs them', async () => {
    const producer = store.runner();
    const now = await producer.enqueue('test.echo', { n: 1 }, { key: 'durable:1' });
    const soon = await producer.enqueue('test.echo', { n: 2 }, { delayMs: 300 });
    expect(await producer.stats()).toEqual({ waiting: 1, active: 0, failed: 0, delayed: 1 });
    await producer.stop();

    const consumer = store.runner();
    const log = new EventLog(consumer);
    const seen: unknown[] = [];
    consumer.register('test.echo', async (payload) => {
      seen.push(payload);
    });
    await consumer.start();
    await Promise.all([log.completed(now), log.completed(soon)]);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('runs a job again when the process running it crashed', async () => {
    const producer = store.runner();
    const id = await producer.enqueue('test.crash', { evidenceId: 'ev-crash' });
    await producer.stop();

    // A real crash: a child process takes the job, says so, and is SIGKILLed mid-job.
    const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD, JSON.stringify(store.spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          out += chunk;
          if (out.includes(`running ${id}\n`)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`crash child exited early (${code}): ${out}`)));
      });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }

    const inspector = store.runner();
    expect((await inspector.stats()).active).toBe(1); // left running by the dead process

    const successor = store.runner({ stalledIntervalMs: 200 });
    const log = new EventLog(successor);
    const seen: unknown[] = [];
    successor.register('test.crash', async (payload) => {
      seen.push(payload);
    });
    await successor.start();
    await log.completed(id);
    expect(seen).toEqual([{ evidenceId: 'ev-crash' }]);
    await until(async () => (await successor.stats()).active === 0, 'no job to be active');
    expect(await successor.stats()).toEqual({ waiting: 0, active: 0, failed: 0, delayed: 0 });
  });

  it('counts jobs by state', async () => {
    const runner = store.runner({ concurrency: 1 });
    const log = new EventLog(runner);
    const gate = deferred();
    const started = deferred();
    runner.register('test.block', async () => {
      started.resolve();
      await gate.promise;
    });
    runner.register('test.reject', async () => {
      throw new CustodyError('MEDIA_PROBE_FAILED', 'not a video');
    });
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 0, delayed: 0 });
    const block = await runner.enqueue('test.block', {});
    const reject = await runner.enqueue('test.reject', {});
    await runner.enqueue('test.block', {}, { delayMs: 60_000 });
    expect(await runner.stats()).toEqual({ waiting: 2, active: 0, failed: 0, delayed: 1 });

    await runner.start();
    await started.promise;
    expect(await runner.stats()).toEqual({ waiting: 1, active: 1, failed: 0, delayed: 1 });

    gate.resolve();
    await log.completed(block);
    await log.failedFinally(reject);
    await until(async () => (await runner.stats()).active === 0, 'no job to be active');
    expect(await runner.stats()).toEqual({ waiting: 0, active: 0, failed: 1, delayed: 1 });
  });

  it('refuses misuse with typed errors', async () => {
    const runner = store.runner();
    runner.register('test.echo', async () => undefined);
    expect(() => runner.register('test.echo', async () => undefined)).toThrow(expect.objectContaining({ code: 'JOBS_DUPLICATE_HANDLER' }));
    expect(() => runner.register('bad name', async () => undefined)).toThrow(expect.objectContaining({ code: 'JOBS_INVALID_NAME' }));
    await expect(runner.enqueue('', {})).rejects.toMatchObject({ code: 'JOBS_INVALID_NAME' });
    await expect(runner.enqueue('test.echo', {}, { key: '' })).rejects.toMatchObject({ code: 'JOBS_INVALID_KEY' });
    await expect(runner.enqueue('test.echo', {}, { delayMs: -1 })).rejects.toMatchObject({ code: 'JOBS_INVALID_DELAY' });
    await runner.start();
    await expect(runner.start()).rejects.toMatchObject({ code: 'JOBS_ALREADY_STARTED' });
    await runner.stop();
    await runner.stop(); // idempotent
    await expect(runner.enqueue('test.echo', {})).rejects.toMatchObject({ code: 'JOBS_RUNNER_STOPPED' });
  });
});

describe('SqliteJobRunner', () => {
  let dir: string;
  let catalog: Catalog;
  const runners: JobRunner[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-jobs-'));
    catalog = Catalog.open(join(dir, 'catalog.db'));
  });

  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop({ deadlineMs: 0 });
    catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  function make(opts: { pollIntervalMs?: number; retainDoneMs?: number; maxAttempts?: number } = {}): SqliteJobRunner {
    const r = new SqliteJobRunner({ catalog, log: silentLogger, backoffMs: 20, ...opts });
    runners.push(r);
    return r;
  }

  function status(id: string): { status: string; attempts: number; last_error: string | null } | undefined {
    return catalog.db
      .prepare<[number], { status: string; attempts: number; last_error: string | null }>('SELECT status, attempts, last_error FROM jobs WHERE id = ?')
      .get(Number(id));
  }

  it('picks up jobs another process adds, through its poll', async () => {
    const runner = make({ pollIntervalMs: 50 });
    const log = new EventLog(runner);
    runner.register('test.echo', async () => undefined);
    await runner.start();
    // Another connection to the same file: no in-process wake-up reaches this runner.
    const other = Catalog.open(join(dir, 'catalog.db'));
    try {
      const producer = new SqliteJobRunner({ catalog: other, log: silentLogger });
      const id = await producer.enqueue('test.echo', { from: 'cli' });
      await log.completed(id);
      await producer.stop();
    } finally {
      other.close();
    }
  });

  it('records outcomes in the row: done, retry with last_error, failed', async () => {
    const runner = make({ maxAttempts: 2 });
    const log = new EventLog(runner);
    runner.register('test.ok', async () => undefined);
    runner.register('test.bad', async () => {
      throw new CustodyError('MEDIA_TIMEOUT', 'busy');
    });
    await runner.start();
    const ok = await runner.enqueue('test.ok', {});
    const bad = await runner.enqueue('test.bad', {});
    await log.completed(ok);
    await log.failedFinally(bad);
    expect(status(ok)).toEqual({ status: 'done', attempts: 1, last_error: null });
    expect(status(bad)).toEqual({ status: 'failed', attempts: 2, last_error: 'MEDIA_TIMEOUT: busy' });
  });

  it('fails at start a job that was running every time the process died', async () => {
    const now = new Date().toISOString();
    const insert = catalog.db.prepare(
      `INSERT INTO jobs (name, payload, status, attempts, run_after, created_at, updated_at) VALUES ('test.echo', '{}', 'running', ?, 0, ?, ?)`,
    );
    const poison = String(insert.run(3, now, now).lastInsertRowid);
    const survivor = String(insert.run(1, now, now).lastInsertRowid);
    const runner = make({ maxAttempts: 3 });
    const log = new EventLog(runner);
    runner.register('test.echo', async () => undefined);
    await runner.start();
    await log.completed(survivor);
    expect(status(poison)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(status(poison)?.last_error).toMatch(/^JOBS_INTERRUPTED: /);
    expect(status(survivor)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('prunes old done rows and keeps recent ones and failed ones', async () => {
    const old = new Date(Date.now() - 10 * 24 * 3600 * 1000).toISOString();
    const recent = new Date().toISOString();
    const insert = catalog.db.prepare(
      `INSERT INTO jobs (name, payload, status, attempts, run_after, created_at, updated_at) VALUES ('test.echo', '{}', ?, 1, 0, ?, ?)`,
    );
    const oldDone = String(insert.run('done', old, old).lastInsertRowid);
    const recentDone = String(insert.run('done', recent, recent).lastInsertRowid);
    const oldFailed = String(insert.run('failed', old, old).lastInsertRowid);
    const runner = make({ retainDoneMs: 7 * 24 * 3600 * 1000 });
    await runner.start();
    expect(status(oldDone)).toBeUndefined();
    expect(status(recentDone)?.status).toBe('done');
    expect(status(oldFailed)?.status).toBe('failed');
  });

  it('leaves no timer or immediate behind once stopped', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
    const runner = make({ pollIntervalMs: 10_000 });
    const log = new EventLog(runner);
    runner.register('test.echo', async () => undefined);
    await runner.start();
    // A delayed job sets the poll timer; an enqueue schedules a wake-up.
    await runner.enqueue('test.echo', {}, { delayMs: 60_000 });
    const id = await runner.enqueue('test.echo', {});
    await log.completed(id);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeGreaterThan(before);
    await runner.stop();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length).toBe(before);
  });
});

describe('BullmqJobRunner', () => {
  it('fails start() with a clear error when Redis cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const runner = new BullmqJobRunner({ redisUrl: 'redis://:secret@127.0.0.1:1', prefix: 'custody-unreachable', log: silentLogger });
    const err: unknown = await runner.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CustodyError);
    expect(err).toMatchObject({ code: 'JOBS_REDIS_UNREACHABLE', retryable: true });
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).not.toContain('secret');
    await runner.stop();
  });

  it('the conformance suite has a Redis to run against', async () => {
    // Fails loudly (it does not skip) when Redis is missing.
    const redis = await connectTestRedis();
    expect(await redis.ping()).toBe('PONG');
    await redis.quit();
  });
});

describe('createJobRunner', () => {
  it('chooses BullMQ when jobs.redisUrl is set and the SQLite runner otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custody-jobs-'));
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    try {
      const local = createJobRunner({ settings: configSchema.parse({}).jobs, catalog, log: silentLogger });
      const remote = createJobRunner({ settings: configSchema.parse({ jobs: { redisUrl: TEST_REDIS_URL } }).jobs, catalog, log: silentLogger });
      expect(local).toBeInstanceOf(SqliteJobRunner);
      // BullMQ's module (bullmq, ioredis) is loaded at the runner's first use.
      expect(remote).toBeInstanceOf(DeferredBullmqRunner);
      expect(remote.kind).toBe('bullmq');
      // Nothing was opened: stopping an unused runner is immediate.
      await Promise.all([local.stop(), remote.stop()]);
    } finally {
      catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("both runners take the station's job table (issue 13): only its names, and no start without a handler for each", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custody-jobs-'));
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    const prefix = `custody-test-${randomBytes(6).toString('hex')}`;
    try {
      for (const config of [configSchema.parse({}), configSchema.parse({ jobs: { redisUrl: TEST_REDIS_URL, prefix } })]) {
        const runner = createJobRunner({ settings: config.jobs, catalog, log: silentLogger });
        expect(Object.keys(JOBS)).toEqual(['evidence.analyse', 'evidence.proxy']);
        expect(() => runner.register('media.probe', async () => undefined)).toThrow(expect.objectContaining({ code: 'JOBS_UNKNOWN_NAME' }));
        await expect(runner.start()).rejects.toMatchObject({ code: 'JOBS_HANDLER_MISSING', message: expect.stringContaining('"evidence.analyse"') });
        await runner.stop();
      }
    } finally {
      catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('the BullMQ runner the station builds runs jobs once used: handlers and listeners given before its module loaded are handed over, one removed before is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custody-jobs-'));
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    const prefix = `custody-test-${randomBytes(6).toString('hex')}`;
    const runner = createJobRunner({ settings: configSchema.parse({ jobs: { redisUrl: TEST_REDIS_URL, prefix } }).jobs, catalog, log: silentLogger });
    try {
      const ran: string[] = [];
      runner.register('evidence.analyse', async (p) => void ran.push((p as { evidenceId: string }).evidenceId));
      expect(() => runner.register('evidence.analyse', async () => undefined)).toThrow(expect.objectContaining({ code: 'JOBS_DUPLICATE_HANDLER' }));
      const events: string[] = [];
      const dropped: string[] = [];
      runner.on((e) => events.push(`${e.type} ${e.name}`));
      runner.on((e) => dropped.push(e.type))();
      const done = new Promise<void>((r) => runner.on((e) => e.type === 'completed' && r()));
      // Registered after the first use (the module is loading or loaded).
      const queued = runner.enqueue('evidence.analyse', { evidenceId: 'e1' });
      runner.register('evidence.proxy', async () => undefined);
      await queued;
      await runner.start();
      await done;
      expect(ran).toEqual(['e1']);
      expect(events).toContain('completed evidence.analyse');
      expect(dropped).toEqual([]);
      expect(await runner.stats()).toMatchObject({ waiting: 0, active: 0, failed: 0 });
    } finally {
      await runner.stop();
      const redis = await connectTestRedis();
      const keys = await keysUnder(redis, prefix);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
