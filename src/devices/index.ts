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
export type { RecorderDriver, RecorderIdentity, RecorderHealth, RecorderFile, IdentityConflict, ClockEstimate } from './driver.js';
export { FolderDriver, type FolderDriverOptions } from './folder-driver.js';
export { sourceError } from './source-error.js';
export { loadProfiles, parseProfiles, ProfileSet, BUNDLED_PROFILES_FILE, GAT947_DRIVER, usbKey, type RecorderProfile, type IdentitySource } from './profiles.js';
export { parseMountInfo, readMountInfo, mountAt, mountsBelow, isMountPoint, type MountEntry } from './mountinfo.js';
export { usbDeviceForBlock, type UsbDeviceInfo } from './sysfs.js';
export {
  assessHealth,
  HEALTH_REASON_CODES,
  isHealthReasonCode,
  type HealthThresholds,
  type HealthAssessment,
  type HealthReason,
  type HealthReasonCode,
  type HealthReasonParams,
  type RecordedReason,
  type Verdict,
} from './health-check.js';
export { DriverRegistry, folderDriverFor, gat947DriverFor, type DriverContext, type DriverFactory, type Gat947Environment } from './drivers.js';
export { Gat947Driver, Gat947Error, isGat947Error, gat947ParamsSchema, type Gat947ErrorCode, type Gat947Params } from './gat947/index.js';
export { DeviceDetection, type DetectionOptions, type DockCandidate, type UndockReason } from './detection.js';
export { DockManager, type DockManagerDeps, type DockOutcome } from './dock-manager.js';
export { DeviceRepo, RECORDER_STATUS_NEXT, RECORDER_STATUSES, dockFromRow, type DockRecord, type DockRow, type DeviceRecord, type RecorderServiceStatus } from './device-repo.js';
export { DeviceRegistry, isRecorderStatus, type DeviceSummary, type DeviceDetail } from './registry.js';
export { udevRules, UDEV_DEFAULTS, type UdevOptions } from './udev.js';
export { UsbPreDock, type PreDockReading, type UsbPreDockDeps } from './usb-predock.js';
export { UsbSeenRepo, usbStrings, usbAttachHandler, worthRecording, type SeenUsbDevice } from './usb-seen.js';
export { learnModel, profileFromRequest, type LearnRequest } from './learn.js';
export { HEALTH_STATES, HEALTH_STATE_ZH, type HealthState } from './health-check.js';
export { findUsbDevice, type UsbBackend, type UsbBackendDevice, type UsbDeviceRef } from './usb-adapter.js';
