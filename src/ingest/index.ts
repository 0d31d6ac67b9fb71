export { IngestService, STRAGGLER_MS, type IngestServiceDeps } from './service.js';
export {
  IngestSession,
  type SessionReport,
  type SessionProgress,
  type IngestedItem,
  type FileError,
  type HeaderProbe,
  type IngestSettings,
} from './session.js';
export { mediaTypeOf, type MediaType } from './media-types.js';
export { registerRecorder, type RecorderRecord } from './recorders.js';
export { recordedTime, timestampFromName, type RecordedTime } from './recorded-time.js';
export { createFollowUps, analyseHandler, ANALYSE_JOB, type FollowUps, type FollowUpsOptions } from './follow-ups.js';
export { PROXY_JOB, ProxyRepo, proxyHandler, type ProxyRecord, type ProxyStatus } from './proxy.js';
/** Whether a browser plays an item as recorded (the API's playback field); the decision the proxy follow-up acts on. */
export { playbackPlan, type PlaybackPlan, type ProxyKind } from '../media/index.js';
export { createIngestService, type IngestServiceOptions } from './compose.js';
export type { HoldLimits } from './follow-up-hold.js';
