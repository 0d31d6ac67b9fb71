/**
 * Archival export (issue 8): BagIt copies of a protected case and their offline
 * verification. docs/archive.md describes the layout and the checks.
 */
export { decodeTagFile, validateBag, type BagProblem, type BagReport, type ValidateBagOptions } from './bagit.js';
export { verifyExport, type ExcerptReport, type ExportProblem, type ExportReport, type VerifyExportOptions } from './verify.js';
export { EXPORT_FORMAT, PROOFS_FORMAT, TAG, type ExportItem, type ExportManifest, type ExportProofs } from './layout.js';
export { ArchiveService, ExportError, findXorriso, scrub, type ArchiveServiceOptions, type CopyProgress, type CopyResult, type ExportAccess, type ExportRequest, type ExportResult } from './export.js';
export { CaseSource, type CaseRecord } from './case-source.js';
export { authorizeExport, ExportRefusedError, type ExportRefusal } from './authorize.js';
export { resolveDestinations, DestinationForbiddenError } from './destinations.js';
export { ExportJobs, ExportJobError, type ExportJob, type ExportJobResult, type ExportJobState, type ExportJobsOptions, type StartExport } from './jobs.js';
export { ExportRecords, ExportRecordError, tagManifestDigest, type ExportCopyRecord, type ExportRecord, type ExportVerificationRecord } from './records.js';
