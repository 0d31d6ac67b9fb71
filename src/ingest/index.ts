export { IngestService, type IngestServiceDeps } from './service.js';
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
export { createIngestService, type IngestServiceOptions } from './compose.js';
