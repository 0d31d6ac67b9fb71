/**
 * The hash-chained ledger (docs/ledger.md): appends in the catalog's database,
 * sealed segments in the vault, the rebuild of a lost catalog's ledger from them,
 * the export of a range, and the station's integrity check (`verifyVault`: the
 * chain, the segments, and the objects the ledger names).
 *
 * Loading the ledger attaches each catalog's ledger as `catalog.ledger`.
 */
export {
  GENESIS_PREV,
  Ledger,
  ledgerOf,
  canonicalJson,
  canonicalLine,
  entryHash,
  type LedgerEntry,
  type NewLedgerEntry,
  type RawLedgerRow,
  type UnhashedEntry,
} from './ledger.js';
// The entry types' schemas load at the first append (ledger.ts), not with the ledger.
export type { LedgerEntryType } from './entry-types.js';
export {
  ChainCursor,
  LedgerSealer,
  SEGMENT_PREFIX,
  entryFromRaw,
  parseEntryLine,
  parseSegmentKey,
  rawCanonicalLine,
  segmentKey,
  type LedgerSealerOptions,
  type SealedSegment,
} from './segments.js';
export { EvidenceRebuilder, rebuildLedger, scanSegments, type RebuildOptions, type RebuildResult, type ScanVisitor } from './rebuild.js';
export { CatalogRowWindow, recordSegment, sealedThrough } from './segments.js';
export { exportLedger, type ExportOptions as LedgerExportOptions, type ExportResult as LedgerExportResult } from './export.js';
export { findUnclaimed, kindOfBytes, unclaimedOrNull, type UnclaimedKind, type UnclaimedObject, type UnclaimedReport } from './unclaimed.js';
export { verifyVault, type VerifyOptions, type VerifyPhase, type VerifyProblem, type VerifyProgress, type VerifyResult } from './verify.js';
