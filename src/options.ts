import type { ComplianceOptions } from './compliance/index.js';
import type { Config } from './config/index.js';
import type { HealthThresholds } from './devices/index.js';
import type { IngestSettings } from './ingest/index.js';
import type { JobRunnerSettings } from './jobs/index.js';
import type { PurgeSettings } from './retention/index.js';

/**
 * The composition root's map from the configuration to each capability's own options
 * (issue 13): no capability below the root takes the whole `Config`. Each function
 * reads only the sections it names; src/station.ts uses them, and tests that build a
 * capability alone may too. Type imports only: loading this module loads nothing.
 */

/** The compliance rules' thresholds and the flags' resolution window (`compliance`, `timezone`). */
export function complianceOptions(config: Pick<Config, 'timezone' | 'compliance'>): ComplianceOptions {
  const c = config.compliance;
  return {
    timezone: config.timezone,
    uploadDeadlineHours: c.uploadDeadlineHours,
    maxGapMinutes: c.maxGapMinutes,
    maxClockDriftSeconds: c.maxClockDriftSeconds,
    repairDeadlineHours: c.repairDeadlineHours,
    maxFileNumberJump: c.maxFileNumberJump,
    resolveWithinHours: c.resolveWithinHours,
  };
}

/** The purge's policy and guards (`retention`, `timezone`); also the retention view's and Object Lock's policy. */
export function purgeSettings(config: Pick<Config, 'timezone' | 'retention'>): PurgeSettings {
  const r = config.retention;
  return {
    timezone: config.timezone,
    months: r.months,
    minDaysAfterIngest: r.minDaysAfterIngest,
    noticeDays: r.noticeDays,
    maxPurgeFraction: r.maxPurgeFraction,
    maxClockJumpDays: r.maxClockJumpDays,
  };
}

/** How a dock session copies (`ingest`, `timezone`). */
export function ingestOptions(config: Pick<Config, 'timezone' | 'ingest'>): { concurrency: number; settings: IngestSettings } {
  const i = config.ingest;
  return {
    concurrency: i.concurrency,
    settings: {
      timezone: config.timezone,
      wipeAfterIngest: i.wipeAfterIngest,
      wipeRereadSource: i.wipeRereadSource,
      settleSeconds: i.settleSeconds,
      readBufferKb: i.readBufferKb,
      // A lone recorder may use every slot; the FIFO semaphore keeps a rack fair.
      perRecorder: i.concurrency,
    },
  };
}

/** Which job runner, and how it runs (`jobs`). */
export function jobRunnerSettings(config: Pick<Config, 'jobs'>): JobRunnerSettings {
  const { redisUrl, prefix, concurrency, maxAttempts } = config.jobs;
  return { redisUrl, prefix, concurrency, maxAttempts };
}

/** The pre-duty check's thresholds (`health`). */
export function healthThresholds(config: Pick<Config, 'health'>): HealthThresholds {
  return config.health;
}
