import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns } from '../../../test/helpers/migrations.js';
import { m015 } from './015-dock-reason-details.js';
import { migrations } from './index.js';

describe('migration 015 (the pre-duty reasons as codes and figures, issue 15)', () => {
  it('is migration 15 in the list', () => {
    expect(m015).toMatchObject({ version: 15, name: 'dock-reason-details' });
    expect(migrations[14]).toBe(m015);
  });

  it('keeps the docks of before as they were, with no details invented', () => {
    const db = catalogAt(14);
    db.prepare(`INSERT INTO docks (id, location, docked_at, verdict, reasons) VALUES ('d1', '/media/a', 't0', 'not-ready', '["battery 12 % is below 30 %"]')`).run();
    const before = db.prepare('SELECT * FROM docks').all();
    applyMigration(db, 15);
    expect(db.prepare('SELECT * FROM docks').all()).toEqual((before as Array<Record<string, unknown>>).map((r) => ({ ...r, reason_details: null })));
    expect(columns(db, 'docks').at(-1)).toEqual({ name: 'reason_details', type: 'TEXT', notnull: 0, dflt_value: null });
  });

  it('takes a JSON array of reasons and refuses anything else', () => {
    const db = catalogAt(15);
    const add = db.prepare("INSERT INTO docks (id, location, docked_at, reasons, reason_details) VALUES (?, '/media/a', 't0', '[]', ?)");
    const details = JSON.stringify([{ code: 'BATTERY_LOW', message: 'battery 12 % is below 30 %', params: { batteryPercent: 12, minBatteryPercent: 30 } }]);
    add.run('d1', details);
    add.run('d2', '[]');
    add.run('d3', null);
    expect(() => add.run('d4', 'not json')).toThrow(/CHECK/);
    expect(() => add.run('d5', '{"code":"BATTERY_LOW"}')).toThrow(/CHECK/);
    expect(() => add.run('d6', '"BATTERY_LOW"')).toThrow(/CHECK/);
    expect(db.prepare('SELECT id, reason_details FROM docks ORDER BY id').all()).toEqual([
      { id: 'd1', reason_details: details },
      { id: 'd2', reason_details: '[]' },
      { id: 'd3', reason_details: null },
    ]);
  });
});
