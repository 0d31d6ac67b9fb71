import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, schemaVersion } from '../db.js';
import { m011 } from './011-usb-devices.js';
import { migrations } from './index.js';

describe('migration 011 (real recorders, issue 16)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is migration 11 in the list', () => {
    expect(m011).toMatchObject({ version: 11, name: 'usb-devices' });
    expect(migrations[10]).toBe(m011);
  });

  it('keeps docks of before with nothing invented, takes the three verdicts, and records USB devices once per id and serial', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custody-mig11-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'catalog.db'));
    db.pragma('foreign_keys = ON');
    migrate(db, migrations.filter((m) => m.version < 11));
    expect(schemaVersion(db)).toBe(10);
    db.prepare("INSERT INTO docks (id, location, docked_at, verdict) VALUES ('d1', '/media/a', 't0', 'not-ready')").run();
    db.transaction(() => {
      m011.up(db);
      db.pragma('user_version = 11');
    }).immediate();
    expect(db.prepare("SELECT verdict, health_state, clock_drift_method, identity_conflicts, clock_sync_error FROM docks WHERE id = 'd1'").get()).toEqual({
      verdict: 'not-ready',
      health_state: null,
      clock_drift_method: null,
      identity_conflicts: null,
      clock_sync_error: null,
    });
    db.prepare("INSERT INTO docks (id, location, docked_at, verdict, health_state, clock_drift_method, identity_conflicts) VALUES ('d2', '/media/b', 't1', 'ready', 'unchecked', 'newest-file-estimate', '[]')").run();
    expect(() => db.prepare("UPDATE docks SET health_state = 'maybe' WHERE id = 'd2'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE docks SET clock_drift_method = 'guess' WHERE id = 'd2'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE docks SET identity_conflicts = 'not json' WHERE id = 'd2'").run()).toThrow(/CHECK/);
    const add = db.prepare("INSERT INTO usb_devices (vendor_id, product_id, serial, first_seen, last_seen) VALUES (?, ?, ?, 't', 't')");
    add.run(0xabcd, 1, '');
    add.run(0xabcd, 1, 'S1');
    expect(() => add.run(0xabcd, 1, '')).toThrow(/UNIQUE|PRIMARY/);
    expect(() => add.run(70000, 1, 'x')).toThrow(/CHECK/);
    db.close();
  });
});
