import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { JobThread } from './job-thread.js';

/** A worker that reads one byte from the path it is given, in a blocking call, and answers with it. */
const READER = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', (job) => {
  const fd = fs.openSync(job.path, 'r');
  const buf = Buffer.alloc(1);
  fs.readSync(fd, buf, 0, 1, null);
  fs.closeSync(fd);
  parentPort.postMessage({ id: job.id, result: buf.toString() });
});
`;

describe('JobThread', () => {
  it('answers a job, and close() resolves at once when no thread runs', async () => {
    const dir = await tempDir();
    const file = join(dir, 'byte');
    await (await open(file, 'w')).writeFile('x');
    const thread = new JobThread<{ path: string }, string>(READER, 'custody-test-reader', 'the test reader');
    expect(await thread.run({ path: file })).toBe('x');
    await thread.close();
    await thread.close();
  });

  it('close() fails the waiting job at once, and resolves only once the thread has ended: a read that does not return holds it', async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const thread = new JobThread<{ path: string }, string>(READER, 'custody-test-reader', 'the test reader');
    const job = thread.run({ path: fifo });
    // The writer's open lets the worker's open return; its read then waits for a byte.
    const writer = await open(fifo, 'w');
    await new Promise((r) => setTimeout(r, 100));
    let ended = false;
    const closed = thread.close().then(() => (ended = true));
    await expect(job).rejects.toThrow('the test reader was closed');
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false);
    // The read returns: the thread ends, and close() resolves.
    await writer.writeFile('y');
    await writer.close();
    await closed;
    expect(ended).toBe(true);
  });
});
