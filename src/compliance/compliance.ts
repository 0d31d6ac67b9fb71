import type { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import type { ActivityBus } from '../core/index.js';
import { AssignmentsService } from './assignments.js';
import { FlagsService } from './flags.js';
import { ComplianceRules } from './rules/index.js';

export interface Compliance {
  assignments: AssignmentsService;
  flags: FlagsService;
  rules: ComplianceRules;
}

/** The compliance services on one catalog, with the configured thresholds. */
export function createCompliance(deps: { catalog: Catalog; config: Pick<Config, 'timezone' | 'compliance'>; actor: string; activity?: ActivityBus | undefined }): Compliance {
  const c = deps.config.compliance;
  const assignments = new AssignmentsService({ catalog: deps.catalog, timezone: deps.config.timezone });
  const flags = new FlagsService({ catalog: deps.catalog, resolveWithinHours: c.resolveWithinHours });
  const rules = new ComplianceRules({
    catalog: deps.catalog,
    assignments,
    flags,
    actor: deps.actor,
    activity: deps.activity,
    settings: {
      timezone: deps.config.timezone,
      uploadDeadlineHours: c.uploadDeadlineHours,
      maxGapMinutes: c.maxGapMinutes,
      maxClockDriftSeconds: c.maxClockDriftSeconds,
      repairDeadlineHours: c.repairDeadlineHours,
      maxFileNumberJump: c.maxFileNumberJump,
    },
  });
  return { assignments, flags, rules };
}
