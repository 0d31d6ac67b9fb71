/**
 * Watching a station (docs/operations.md): the rolling deep verification of the vault,
 * the station's figures that /metrics exports for config/alerts.yml, and the checks of
 * `custody doctor`.
 */
export {
  ROLLING_PHASES,
  ROLLING_VERIFY_META_KEY,
  RollingVerifier,
  readRollingVerifyState,
  type RollingFailure,
  type RollingPhase,
  type RollingVerifierDeps,
  type RollingVerifySettings,
  type RollingVerifyState,
} from './rolling-verify.js';
export { diskSpace, stationFigures, type DiskSpace, type StationFigures } from './figures.js';
export { clockSync, runCommand, runDoctor, type CheckStatus, type CommandRunner, type DoctorCheck, type DoctorDeps } from './doctor.js';
