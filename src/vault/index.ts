/**
 * The vault: content-addressed object stores (a local filesystem, or S3 and its
 * kin) behind one port, `ObjectStore`. The S3 adapter is loaded only when the
 * configuration names it (`openObjectStore`), so its SDK is not loaded otherwise.
 */
export {
  CONTENT_PREFIX,
  assertSafeKey,
  assertSafePrefix,
  contentKey,
  shaOfContentKey,
  bodyStream,
  isFileSource,
  type ByteRange,
  type FileSource,
  type LocalCopier,
  type SourceStat,
  type PublishOutcome,
  type PutBody,
  type StagedPut,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';
export { FsObjectStore, type FsStoreOptions } from './fs-store.js';
export type { S3RequestRecord, S3StoreOptions } from './s3-store.js';
export { openObjectStore, type VaultOptions } from './open.js';
export { hashStream } from './read-back.js';
export { ensureStationKey, type StationKeyInfo } from './station-key.js';
