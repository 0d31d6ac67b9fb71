export {
  simulateRecorder,
  type SimulateRecorderOptions,
  type SimulatedRecorder,
  type SimulatedFile,
  type SimulatedKind,
} from './simulate.js';
export {
  RECORDER_STATUS_FILE,
  RECORDER_STATUS_FORMAT,
  recorderStatusSchema,
  parseRecorderStatus,
  type RecorderStatus,
} from './status-file.js';
export type { RecorderDriver, RecorderIdentity, RecorderHealth, RecorderFile } from './driver.js';
export { FolderDriver, type FolderDriverOptions } from './folder-driver.js';
