import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EvidenceQueries, type EvidenceFilter } from '../../src/api/queries/evidence.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Every search the API can make reads an index range in sort order (no full scan, no
 * sort step), so a page costs about `limit` rows at any depth: the property
 * `npm run bench:api` measures on 1,000,000 items (issue 5).
 */
describe('evidence search query plans', () => {
  it('uses a search index, without a temporary sort, for every combination of filters, scope and cursor', async () => {
    const dir = await tempDir();
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    const q = new EvidenceQueries(catalog.db);
    const plans: string[] = [];
    const db = catalog.db;
    // Capture the SQL each search prepares, and explain it.
    const prepare = db.prepare.bind(db);
    (db as { prepare: typeof db.prepare }).prepare = ((sql: string) => {
      if (/FROM evidence INDEXED BY/.test(sql)) plans.push(sql);
      return prepare(sql);
    }) as typeof db.prepare;

    const combos: { scope: string | null; f: EvidenceFilter }[] = [];
    for (const time of ['recorded', 'ingested'] as const) {
      for (const scope of [null, 'U1']) {
        for (const f of [
          {},
          { officer: '0417' },
          { device: 'ZFY001' },
          { unit: 'U1' },
          { type: 'video' as const },
          { officer: '0417', unit: 'U1', device: 'ZFY001', type: 'audio' as const },
          { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
          { officer: '0417', from: '2026-01-01T00:00:00.000Z' },
        ]) {
          combos.push({ scope, f: { time, ...f } });
        }
      }
    }
    for (const c of combos) {
      q.search(c.scope, c.f, null, 51);
      q.search(c.scope, c.f, { t: '2026-01-15T00:00:00.000Z', id: '01a21d91-0000-7000-8000-000000000000' }, 51);
    }
    expect(plans.length).toBeGreaterThan(30);
    for (const sql of plans) {
      const named = [...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!);
      const params = Object.fromEntries(named.map((n) => [n, n === 'limit' ? 51 : 'x']));
      const plan = (prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join(' / ');
      expect(plan, sql).toMatch(/^SEARCH evidence USING INDEX evidence_|^SCAN evidence USING INDEX evidence_/);
      expect(plan, sql).not.toMatch(/TEMP B-TREE/);
      // A cursor or a time bound narrows the index range, not just a filter on it.
      if (/@ct|@from|@to/.test(sql)) expect(plan, sql).toMatch(/(recorded_at|ingested_at)[<>]/);
    }
    catalog.close();
  });
});
