import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { FsObjectStore } from './fs-store.js';
import type { ObjectStore } from './store.js';

/** Build the configured object store. The S3 adapter is loaded only when configured. */
export async function openObjectStore(config: Config, log?: Logger): Promise<ObjectStore> {
  if (config.vault.kind === 's3') {
    const { S3ObjectStore } = await import('./s3-store.js');
    return new S3ObjectStore({ ...config.vault.s3!, readBack: config.vault.readBack, ...(log ? { log } : {}) });
  }
  return new FsObjectStore({ root: config.vault.fs.path, fsync: config.vault.fs.fsync, readBack: config.vault.readBack, ...(log ? { log } : {}) });
}
