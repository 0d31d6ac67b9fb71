import type { Migration } from './types.js';

/** Flags by the evidence they name: for GET /evidence?flag= and the flags on an item. */
export const m008: Migration = {
  version: 8,
  name: 'evidence-flags-index',
  up(db) {
    db.exec('CREATE INDEX flags_evidence ON flags(evidence_id, state, rule) WHERE evidence_id IS NOT NULL');
  },
};
