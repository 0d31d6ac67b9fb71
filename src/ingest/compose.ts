import type { Catalog } from '../catalog/index.js';
import type { Logger } from '../core/index.js';
import type { ObjectStore } from '../vault/index.js';
import { FollowUpHold, type HoldLimits } from './follow-up-hold.js';
import type { FollowUps } from './follow-ups.js';
import { IngestService } from './service.js';
import type { IngestSettings } from './session.js';

export interface IngestServiceOptions {
  catalog: Catalog;
  store: ObjectStore;
  log: Logger;
  followUps: FollowUps;
  /** Files copied at once across all recorders. */
  concurrency: number;
  settings: IngestSettings;
  /** How long follow-ups wait for busy docks at most, and then run (default: 10 min, then 1 min). */
  followUpHold?: HoldLimits;
}

/**
 * The ingest service with media follow-ups queued after each session: the header
 * probe on the critical path, the rest as jobs, which wait while any recorder is being
 * copied (for ten minutes at most, then run for one: FollowUpHold). One place, so the CLI and the daemon
 * ingest alike (the station maps the configuration to these options).
 */
export function createIngestService(opts: IngestServiceOptions): IngestService {
  const { followUps } = opts;
  const hold = new FollowUpHold((on) => followUps.runner.hold(on), opts.log.child({ module: 'follow-ups' }), opts.followUpHold);
  return new IngestService({
    catalog: opts.catalog,
    store: opts.store,
    log: opts.log,
    concurrency: opts.concurrency,
    settings: opts.settings,
    probe: followUps.headerProbe,
    afterSession: (r) => followUps.enqueueFor(r.items.map((i) => i.evidenceId)),
    // Follow-ups (probes, thumbnails, proxies) yield to the docks: none starts while a
    // recorder is being copied, those running finish (issue 18: at most 10 % off the
    // rate of eight recorders ingesting); docks busy all day still leave them a minute
    // in eleven.
    onBusy: (busy) => hold.busy(busy),
  });
}
