import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import type { FollowUps } from './follow-ups.js';
import { IngestService } from './service.js';
import type { IngestSettings } from './session.js';

/**
 * The ingest service as the configuration describes it, with media follow-ups queued
 * after each session. One place, so the CLI and the daemon ingest alike.
 */
export function ingestServiceFromConfig(
  config: Config,
  deps: { catalog: Catalog; store: ObjectStore; log: Logger; followUps: FollowUps },
  overrides: Partial<IngestSettings> = {},
): IngestService {
  return new IngestService({
    catalog: deps.catalog,
    store: deps.store,
    log: deps.log,
    concurrency: config.ingest.concurrency,
    settings: {
      timezone: config.timezone,
      wipeAfterIngest: config.ingest.wipeAfterIngest,
      wipeRereadSource: config.ingest.wipeRereadSource,
      settleSeconds: config.ingest.settleSeconds,
      readBufferKb: config.ingest.readBufferKb,
      // A lone recorder may use every slot; the FIFO semaphore keeps a rack fair.
      perRecorder: config.ingest.concurrency,
      ...overrides,
    },
    probe: deps.followUps.headerProbe,
    afterSession: (r) => deps.followUps.enqueueFor(r.items.map((i) => i.evidenceId)),
  });
}
