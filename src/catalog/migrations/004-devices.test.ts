import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, seed } from '../../../test/helpers/migrations.js';
import { m004 } from './004-devices.js';
import { migrations } from './index.js';

describe('migration 004 (devices)', () => {
  it('is migration 4 in the list', () => {
    expect(m004).toMatchObject({ version: 4, name: 'devices' });
    expect(migrations[3]).toBe(m004);
  });

  it('gives every existing recorder a status, in service, and keeps its evidence', () => {
    const db = catalogAt(3);
    seed.recorder(db, 'OLD');
    seed.evidence(db, 'e1', 'OLD');
    applyMigration(db, 4);
    expect(db.prepare("SELECT status, status_changed_at, status_note FROM recorders WHERE serial = 'OLD'").get()).toEqual({
      status: 'in-service',
      status_changed_at: null,
      status_note: null,
    });
    expect(db.prepare('SELECT count(*) AS n FROM evidence').get()).toEqual({ n: 1 });
    expect(() => db.prepare("UPDATE recorders SET status = 'lost'").run()).toThrow(/CHECK/);
    db.prepare("UPDATE recorders SET status = 'reported-damaged'").run();
  });

  it('adds the dock history, STRICT, tied to known recorders, with a verdict that is ready or not', () => {
    const db = catalogAt(4);
    expect(isStrict(db, 'docks')).toBe(true);
    expect(indexes(db, 'docks')).toEqual(['docks_recorder']);
    expect(columns(db, 'docks').find((c) => c.name === 'reasons')).toMatchObject({ notnull: 1, dflt_value: "'[]'" });
    seed.recorder(db, 'OLD');
    db.prepare("INSERT INTO docks (id, recorder_serial, location, docked_at, verdict) VALUES ('d1', 'OLD', '/media/x', 't', 'ready')").run();
    // A dock whose recorder could not be identified has no serial.
    db.prepare("INSERT INTO docks (id, location, docked_at) VALUES ('d0', '/media/y', 't')").run();
    expect(() => db.prepare("INSERT INTO docks (id, recorder_serial, location, docked_at) VALUES ('d2', 'NOPE', '/m', 't')").run()).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("INSERT INTO docks (id, location, docked_at, verdict) VALUES ('d3', '/m', 't', 'maybe')").run()).toThrow(/CHECK/);
    expect(db.prepare("SELECT files_ingested, files_failed, bytes_ingested, reasons FROM docks WHERE id = 'd1'").get()).toEqual({
      files_ingested: 0,
      files_failed: 0,
      bytes_ingested: 0,
      reasons: '[]',
    });
  });
});
