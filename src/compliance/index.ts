export {
  AssignmentsService,
  RosterError,
  ROSTER_COLUMNS,
  type Assignment,
  type AssignmentFilter,
  type NewAssignment,
  type Officer,
} from './assignments.js';
export { FlagsService, FlagResolveError, FLAG_RULES, FLAG_STATES, type Approver, type Finding, type Flag, type FlagFilter, type FlagRule, type FlagState } from './flags.js';
export { ComplianceRules, fileNumber, type ComplianceSettings } from './rules/index.js';
export { ComplianceScanner } from './scanner.js';
export { parseLocalTime, startOfLocalDay, localText, plusHours } from './time.js';
export { createCompliance, type Compliance, type ComplianceOptions } from './compliance.js';
export { complianceReport, delayBucketsHours, type ComplianceFigures, type ComplianceReport, type DeviceHealth, type TimelinessDay } from './report.js';
export { parseCsv } from './csv.js';
