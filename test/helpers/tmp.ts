import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temp folder for this test, removed after it. */
export async function tempDir(prefix = 'custody-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
