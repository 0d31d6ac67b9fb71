import { rfc3339 } from '../core/index.js';
import type { SessionReport } from '../ingest/index.js';
import type { RecorderHealth, RecorderIdentity } from './driver.js';
import type { Fault, PriorReading } from './drivers.js';
import type { HealthThresholds } from './health-check.js';
import type { RecorderProfile } from './profiles.js';

/**
 * The decisions of one dock (DockManager.run: check → record → ingest → clock sync →
 * record the outcome) that need no catalog, driver or clock, as small pure functions
 * tested on their own.
 */

/** The thresholds of the check: the model profile may say whether an unchecked recorder counts as not ready. */
export function thresholdsFor(profile: Pick<RecorderProfile, 'unknownIsNotReady'>, base: HealthThresholds): HealthThresholds {
  return profile.unknownIsNotReady === undefined ? base : { ...base, unknownIsNotReady: profile.unknownIsNotReady };
}

/**
 * How the drift was found: as the driver says; a driver that does not say read it
 * from the recorder (the simulated recorder: from its status file). null without a drift.
 */
export function driftMethodOf(
  health: Pick<RecorderHealth, 'clockDriftMs' | 'clockDriftMethod'> | null,
  profile: { status: { source: string } },
): NonNullable<RecorderHealth['clockDriftMethod']> | null {
  if (health?.clockDriftMs == null) return null;
  return health.clockDriftMethod ?? (profile.status.source === 'status-file' ? 'status-file' : 'device-clock');
}

/**
 * Why no session runs for this dock, or null when one runs. Footage is collected
 * whatever the verdict: only an unidentified recorder (identity is never invented), a
 * recorder gone during its check, or a stopping custody skip the session.
 */
export function sessionSkipReason(input: { identified: boolean; identifyError: string | null; gone: boolean; accepting: boolean; notMounted?: string | null }): string | null {
  if (!input.identified) return `unidentified: ${input.identifyError ?? 'unknown'}`;
  if (input.notMounted) return input.notMounted;
  if (input.gone) return 'removed during the health check';
  if (!input.accepting) return 'custody is stopping';
  return null;
}

/**
 * Whether to set the recorder's clock after its session: only when syncing is on, the
 * driver can, the recorder is still docked, custody is not stopping, and the session
 * is complete with nothing failed — the measured drift corrects the recorded times of
 * files still on the recorder, so the clock stays as it was until every file is in.
 * 'incomplete': a session ran but files are still to be ingested with the drift.
 */
export function clockSyncDecision(input: {
  report: Pick<SessionReport, 'status' | 'failed'> | null;
  syncClock: boolean;
  driverCanSync: boolean;
  gone: boolean;
  accepting: boolean;
}): 'sync' | 'incomplete' | 'no' {
  const { report } = input;
  if (!report || !input.syncClock || !input.driverCanSync || input.gone || !input.accepting) return 'no';
  return report.status === 'complete' && report.failed === 0 ? 'sync' : 'incomplete';
}

/** A fault as the dock record keeps it: "CODE: message". */
export function faultText(f: Fault | null | undefined): string | null {
  return f ? `${f.code}: ${f.message}` : null;
}

/**
 * What a reading taken over USB before the mount (UsbPreDock) gives a dock whose
 * storage was never mounted (a `usb` candidate): identity and health as read, each
 * failure as "CODE: message". Nothing else can be read: nothing is mounted.
 */
export function readingBeforeMount(r: PriorReading): { identity: RecorderIdentity | null; identifyError: string | null; health: RecorderHealth | null; healthError: string | null } {
  return { identity: r.identity, identifyError: faultText(r.identifyError), health: r.health, healthError: faultText(r.healthError) };
}

/**
 * Why the storage of a GA/T 947.4 USB recorder was not mounted: not switched, or
 * switched with no mount in time (the dock's STORAGE_NOT_MOUNTED reason and why no
 * session ran).
 */
export function notMountedReason(r: PriorReading, mountWaitSeconds: number): string {
  if (!r.msdc) return `not switched to mass storage (${faultText(r.msdcError) ?? 'SetMSDC was not sent'}): nothing could be ingested`;
  return `switched to mass storage, but no storage of it was mounted under a watched root within ${mountWaitSeconds} s (are the udev rules installed?): nothing could be ingested`;
}

/**
 * The reading before the mount as `device.docked` keeps it: where and when it was
 * taken, the clock set (or why not) and the switch to mass storage (or why not), so
 * the ledger shows the order health → clock → SetMSDC → mount.
 */
export function beforeMountRecord(r: PriorReading): Record<string, unknown> {
  return {
    port: r.port ?? null,
    readAt: r.readAt ? rfc3339(r.readAt) : null,
    clockSetTo: r.clockSetTo ? rfc3339(r.clockSetTo) : null,
    clockError: r.clockError ?? null,
    switchedToMassStorage: r.msdc ?? false,
    switchedAt: r.msdcAt ? rfc3339(r.msdcAt) : null,
    msdcError: r.msdcError ?? null,
  };
}
