import { CustodyError } from '../core/index.js';
import type { LedgerEntry } from '../ledger/index.js';
import { safeName } from './documents.js';

/**
 * The decisions of an archival export (ArchiveService.exportCase) that need no vault,
 * catalog or disk, as small pure functions tested on their own.
 */

/** The folder name of one copy: the case number (made safe), the end of the export id, "copyNofM". */
export function bagNameOf(caseNumber: string, exportId: string, copy: number, copies: number): string {
  return `${safeName(caseNumber, 60)}_${exportId.slice(-12)}_copy${copy}of${copies}`;
}

/**
 * The ledger entries a copy carries: only the custody history of the case and its
 * items — access.* entries (other people's views, refusals, with their addresses) are
 * not the exporter's to copy — and, with a checkpoint, none after it: an entry
 * appended meanwhile (a follow-up job's evidence.analysed, say) could not be proven,
 * and goes into the next export.
 */
export function excerptSeqs(seqs: readonly number[], checkpointSize: number | null): number[] {
  return seqs.filter((s) => checkpointSize === null || s <= checkpointSize);
}

export function excerptEntries(entries: readonly (LedgerEntry | null | undefined)[]): LedgerEntry[] {
  return entries.filter((e): e is LedgerEntry => e !== undefined && e !== null && !e.type.startsWith('access.'));
}

/**
 * Warnings about where a copy lands: on the vault's own disk (it does not protect
 * against losing that disk), or on the same disk as an earlier copy. `devs` maps each
 * disk seen so far to the first copy on it, and is updated.
 */
export function diskWarnings(input: { copy: number; given: string; dev: number; vaultDev: number | null; devs: Map<number, number> }): string[] {
  const { copy, given, dev, vaultDev, devs } = input;
  const warnings: string[] = [];
  if (vaultDev !== null && dev === vaultDev) warnings.push(`copy ${copy} is on the same disk as the vault (${given}): it does not protect against losing that disk`);
  if (devs.has(dev)) warnings.push(`copies ${devs.get(dev)} and ${copy} are on the same disk`);
  else devs.set(dev, copy);
  return warnings;
}

/** " (ENOSPC)" for a system error, else "". */
export function errnoOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? ` (${code})` : '';
}

/**
 * A message fit for the caller: a system error's text ("EACCES: permission denied,
 * open '/var/lib/…'") becomes its code, and absolute paths are left out (issue 14).
 */
export function scrub(message: string): string {
  return message
    .replace(/\b(E[A-Z]{2,}): [^,'\n]*(?:, \w+ '[^']*'(?: -> '[^']*')?)?/g, '$1')
    .replace(/(^|[\s('"=:])\/[^\s'"),;]*/g, '$1…');
}

/**
 * What the caller is told of a copy that failed: a custody error's code and its
 * message without station paths; anything else only as EXPORT_WRITE_FAILED with the
 * system's error code. The system's own message stays in the log.
 */
export function copyErrorOf(e: unknown, copy: number): { code: string; message: string } {
  return e instanceof CustodyError ? { code: e.code, message: scrub(e.message) } : { code: 'EXPORT_WRITE_FAILED', message: `copy ${copy} could not be written${errnoOf(e)}` };
}
