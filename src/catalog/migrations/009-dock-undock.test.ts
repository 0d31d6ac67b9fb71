import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt } from '../../../test/helpers/migrations.js';
import { m009 } from './009-dock-undock.js';
import { migrations } from './index.js';

describe('migration 009 (how a dock ended, issue 21)', () => {
  it('is migration 9 in the list', () => {
    expect(m009).toMatchObject({ version: 9, name: 'dock-undock' });
    expect(migrations[8]).toBe(m009);
  });

  it('keeps the docks of before, with no reason and not pulled, and refuses a pulled value other than 0 or 1', () => {
    const db = catalogAt(8);
    db.prepare("INSERT INTO docks (id, location, docked_at, undocked_at, session_status) VALUES ('d1', '/media/a', 't0', 't1', 'complete')").run();
    db.prepare("INSERT INTO docks (id, location, docked_at) VALUES ('d2', '/media/b', 't2')").run();
    applyMigration(db, 9);
    expect(db.prepare('SELECT id, undocked_at, undock_reason, pulled FROM docks ORDER BY id').all()).toEqual([
      { id: 'd1', undocked_at: 't1', undock_reason: null, pulled: 0 },
      { id: 'd2', undocked_at: null, undock_reason: null, pulled: 0 },
    ]);
    db.prepare("UPDATE docks SET undocked_at = 't3', undock_reason = 'unmounted', pulled = 1 WHERE id = 'd2'").run();
    expect(db.prepare("SELECT undock_reason, pulled FROM docks WHERE id = 'd2'").get()).toEqual({ undock_reason: 'unmounted', pulled: 1 });
    expect(() => db.prepare("UPDATE docks SET pulled = 2 WHERE id = 'd1'").run()).toThrow(/CHECK/);
    // The open-dock index is there for the start-up sweep of docks a stopped process left open.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'docks_open'").get()).toEqual({ name: 'docks_open' });
    db.close();
  });
});
