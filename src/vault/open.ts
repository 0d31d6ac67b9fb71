import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { FsObjectStore } from './fs-store.js';
import type { ObjectStore } from './store.js';

/** The vault's own options: the `vault` section of the configuration. */
export type VaultOptions = Config['vault'];

/** Build the configured object store. The S3 adapter is loaded only when configured. */
export async function openObjectStore(vault: VaultOptions, log?: Logger): Promise<ObjectStore> {
  if (vault.kind === 's3') {
    const { S3ObjectStore } = await import('./s3-store.js');
    return new S3ObjectStore({ ...vault.s3!, readBack: vault.readBack, ...(log ? { log } : {}) });
  }
  return new FsObjectStore({ root: vault.fs.path, fsync: vault.fs.fsync, directWrites: vault.fs.directWrites, readBack: vault.readBack, ...(log ? { log } : {}) });
}
