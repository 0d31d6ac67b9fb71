import type { Migration } from './types.js';

/** The part of a probe record the playback plan reads, from the record in `m` (SQL). */
const planInput = (m: string): string => `CASE
    WHEN ${m} IS NULL THEN NULL
    WHEN NOT json_valid(${m}) THEN ${m}
    WHEN json_type(${m}) <> 'object' THEN ${m}
    ELSE json_object('ok', ${m} -> '$.ok', 'kind', ${m} -> '$.kind', 'container', ${m} -> '$.container', 'streams', ${m} -> '$.streams')
  END`;

/**
 * What of an item's probe record decides how it plays in a browser, kept beside it.
 * - `evidence.playback_input`: of `media_json`, what playbackPlan (src/media/playback.ts)
 *   reads — ok, kind, container and the streams — as a JSON object; the record itself
 *   when it is not a JSON object (parsed as before, e.g. as "could not be probed");
 *   null while the item is not analysed. Items recorded alike have the same, so the
 *   evidence search decides the plan once per kind of recording instead of parsing
 *   every item's record on every search (docs/benchmarks.md, bench:api).
 * - Triggers keep it in step with `media_json` on every insert and update, whichever
 *   process writes (the analysis, a rebuild, a restore), so no writer has to know.
 * Existing items get theirs here.
 */
export const m021: Migration = {
  version: 21,
  name: 'evidence-playback-input',
  up(db) {
    db.exec(`
      ALTER TABLE evidence ADD COLUMN playback_input TEXT;
      UPDATE evidence SET playback_input = ${planInput('media_json')} WHERE media_json IS NOT NULL;
      CREATE TRIGGER evidence_playback_input_insert AFTER INSERT ON evidence WHEN NEW.media_json IS NOT NULL BEGIN
        UPDATE evidence SET playback_input = ${planInput('NEW.media_json')} WHERE rowid = NEW.rowid;
      END;
      CREATE TRIGGER evidence_playback_input_update AFTER UPDATE OF media_json ON evidence BEGIN
        UPDATE evidence SET playback_input = ${planInput('NEW.media_json')} WHERE rowid = NEW.rowid;
      END;
    `);
  },
};
