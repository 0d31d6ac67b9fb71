import type { Catalog } from '../catalog/index.js';
import type { ActivityBus } from '../core/index.js';
import { AssignmentsService } from './assignments.js';
import { FlagsService } from './flags.js';
import { ComplianceRules, type ComplianceSettings } from './rules/index.js';

export interface Compliance {
  assignments: AssignmentsService;
  flags: FlagsService;
  rules: ComplianceRules;
}

/** The compliance services' own options: the rules' thresholds and how long a flag may stay open. */
export interface ComplianceOptions extends ComplianceSettings {
  /** A flag not resolved within this many hours is escalated. */
  resolveWithinHours: number;
}

/** The compliance services on one catalog, with the given thresholds (the station maps the configuration to them). */
export function createCompliance(deps: { catalog: Catalog; settings: ComplianceOptions; actor: string; activity?: ActivityBus | undefined }): Compliance {
  const { resolveWithinHours, ...settings } = deps.settings;
  const assignments = new AssignmentsService({ catalog: deps.catalog, timezone: settings.timezone });
  const flags = new FlagsService({ catalog: deps.catalog, resolveWithinHours });
  const rules = new ComplianceRules({ catalog: deps.catalog, assignments, flags, actor: deps.actor, activity: deps.activity, settings });
  return { assignments, flags, rules };
}
