import type { Catalog, EvidenceRepo } from '../catalog/index.js';
import { ledgerOf } from '../ledger/index.js';

/** What the catalog keeps of a recorder, and what its `recorder.registered` entry says. */
export interface RecorderRecord {
  serial: string;
  model: string | null;
  officer: string | null;
  unit: string | null;
}

/**
 * The one place a recorder is registered: insert or refresh its row and, the first
 * time it is seen, write `recorder.registered` (data: serial, model, officer, unit;
 * subject: the serial). Call inside the caller's `catalog.tx`, so the row and its
 * entry commit together with what the caller records (a dock, an item). Used by the
 * dock manager (a dock) and the ingest session (the first item of a recorder not
 * docked through the daemon). Returns true when the recorder was new.
 */
export function registerRecorder(catalog: Catalog, repo: EvidenceRepo, identity: RecorderRecord, actor: string, at: string): boolean {
  const recorder = { serial: identity.serial, model: identity.model, officer: identity.officer, unit: identity.unit };
  if (!repo.upsertRecorder(recorder, at)) return false;
  ledgerOf(catalog).append({ type: 'recorder.registered', actor, subject: recorder.serial, data: recorder });
  return true;
}
