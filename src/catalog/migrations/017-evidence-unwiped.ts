import type { Migration } from './types.js';

/**
 * A recorder's items not yet wiped from it: what each dock session asks for its open
 * wipe intents (src/ingest/wipe-intents.ts). Wiping is the normal end of an item's life
 * on the recorder, so the index holds few rows where the station wipes, and the session
 * no longer walks every item the recorder ever handed in.
 */
export const m017: Migration = {
  version: 17,
  name: 'evidence-unwiped',
  up(db) {
    db.exec('CREATE INDEX evidence_unwiped ON evidence(recorder_serial) WHERE wiped_at IS NULL');
  },
};
