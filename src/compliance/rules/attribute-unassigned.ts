import type { Catalog } from '../../catalog/index.js';
import { ledgerOf } from '../../ledger/index.js';
import type { RuleContext, ScanScope } from './context.js';

/**
 * Footage whose recorder reported no officer is attributed to the officer who had
 * the recorder at the recorded time (and that shift's unit where the item has none),
 * so searches by officer find it. Each attribution is ledgered (`evidence.attributed`)
 * in the same transaction. Only items never attributed are touched: an officer the
 * recorder reported is never overwritten (a disagreement is a flag instead). Not a
 * rule (it raises nothing), but every scan runs it first.
 */
export function attributeUnassigned(ctx: Pick<RuleContext, 'db'>, catalog: Catalog, scope?: ScanScope): number {
  const rows = ctx.db
    .prepare<[number, number], { id: string; officer: string; unit: string | null; assignment_id: string; ev_unit: string | null }>(
      `SELECT e.id, a.officer, a.unit, a.id AS assignment_id, e.unit AS ev_unit
         FROM evidence e JOIN assignments a ON a.recorder_serial = e.recorder_serial
          AND a.starts_at <= e.recorded_at AND coalesce(a.ends_at, '9999-12-31T23:59:59.999Z') > e.recorded_at
        WHERE (e.rowid > ? OR a.rowid > ?) AND e.officer IS NULL AND e.status = 'live'`,
    )
    .all(scope?.evidenceAfter ?? 0, scope?.assignmentsAfter ?? 0);
  if (rows.length === 0) return 0;
  const set = ctx.db.prepare('UPDATE evidence SET officer = @officer, unit = coalesce(unit, @unit) WHERE id = @id AND officer IS NULL');
  let n = 0;
  catalog.tx(() => {
    for (const r of rows) {
      if (set.run({ id: r.id, officer: r.officer, unit: r.unit }).changes === 0) continue;
      n++;
      ledgerOf(catalog).append({
        type: 'evidence.attributed',
        actor: 'custody:compliance',
        subject: r.id,
        data: { officer: r.officer, unit: r.ev_unit ?? r.unit, assignmentId: r.assignment_id, source: 'assignment' },
      });
    }
  });
  return n;
}
