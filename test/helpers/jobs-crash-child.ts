/**
 * A process that starts a job runner on the store named in argv[2] (a StoreSpec as
 * JSON), runs the `test.crash` job it finds there, prints `running <id>` once the
 * handler has started and then hangs, so the parent can SIGKILL it mid-job: a
 * real crash, with the job left running in the store.
 */
import { openRunner, type StoreSpec } from './jobs.js';

const spec = JSON.parse(process.argv[2] ?? '') as StoreSpec;
// Short BullMQ locks, so the job is free soon after this process dies, and a short
// stalled-check interval: the check is rate-limited in Redis by the last worker
// that ran it, so a default 30 s here would delay the successor's check too.
const { runner } = openRunner(spec, { concurrency: 1, lockDurationMs: 1_000, stalledIntervalMs: 200 });
runner.register('test.crash', (_payload, ctx) => {
  process.stdout.write(`running ${ctx.id}\n`);
  return new Promise<void>(() => {
    // Never settles: the parent kills this process while the job runs.
    setInterval(() => undefined, 60_000);
  });
});
await runner.start();
process.stdout.write('started\n');
