import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt } from '../../../test/helpers/migrations.js';
import { m007 } from './007-compliance.js';
import { migrations } from './index.js';

describe('migration 007 (compliance)', () => {
  /** A catalog at the version before 7, with a user, a recorder and an evidence item; then 007. */
  function catalogAt7(): Database.Database {
    const db = catalogAt(6);
    db.prepare("INSERT INTO recorders (serial, first_seen, last_seen) VALUES ('R1', 't', 't')").run();
    db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, unit, source_path, source_name, source_mtime_ms,
      recorded_start, recorded_source, ingested_at, session_id) VALUES ('e1', ?, 1, 'video', 'R1', 'U1', 'a', 'a', 0, 't', 'filename', 't', 's')`).run('a'.repeat(64));
    const user = db.prepare("INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by) VALUES (?, 'N', ?, NULL, ?, 't', 't', 'test')");
    user.run('u-officer', 'operator', 'c'.repeat(64));
    user.run('u-leader', 'supervisor', 'd'.repeat(64));
    applyMigration(db, 7);
    return db;
  }

  it('is migration 7 once it is in the list', () => {
    expect(m007).toMatchObject({ version: 7, name: 'compliance' });
    if (migrations.length >= 7) expect(migrations[6]).toBe(m007);
  });

  it('checks officers and assignments', () => {
    const db = catalogAt7();
    db.prepare("INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES ('0417', 'Li Wei', 'U1', 'u-officer', 't', 't')").run();
    expect(() => db.prepare("INSERT INTO officers (number, name, created_at, updated_at) VALUES ('', 'x', 't', 't')").run()).toThrow(/CHECK/);
    const a = db.prepare(
      "INSERT INTO assignments (id, officer, recorder_serial, unit, starts_at, ends_at, source, created_at, created_by) VALUES (?, ?, 'NEVER-DOCKED', 'U1', ?, ?, 'manual', 't', 'test')",
    );
    // A recorder that was never docked may be assigned (the serial is no foreign key).
    a.run('a1', '0417', '2026-11-20T00:00:00.000Z', '2026-11-20T08:00:00.000Z');
    a.run('a2', '0417', '2026-11-21T00:00:00.000Z', null);
    expect(() => a.run('a3', 'nobody', '2026-11-20T00:00:00.000Z', null)).toThrow(/FOREIGN KEY/);
    expect(() => a.run('a4', '0417', '2026-11-20T08:00:00.000Z', '2026-11-20T08:00:00.000Z')).toThrow(/CHECK/);
    db.close();
  });

  it('raises each flag once and resolves it only with a reason and an approver who is not its subject', () => {
    const db = catalogAt7();
    db.prepare("INSERT INTO officers (number, name, unit, user_id, created_at, updated_at) VALUES ('0417', 'Li Wei', 'U1', 'u-officer', 't', 't')").run();
    const flag = db.prepare(
      "INSERT INTO flags (id, rule, dedupe_key, officer, recorder_serial, evidence_id, unit, seen, summary, raised_at, due_by) VALUES (?, ?, ?, '0417', 'R1', 'e1', 'U1', ?, 's', 't', 't')",
    );
    flag.run('f1', 'late-upload', 'late-upload:e1', '{"delayHours":30}');
    expect(() => flag.run('f2', 'late-upload', 'late-upload:e1', '{}')).toThrow(/UNIQUE/);
    expect(() => flag.run('f3', 'speeding', 'x', '{}')).toThrow(/CHECK/);
    expect(() => flag.run('f4', 'late-upload', 'y', 'not json')).toThrow(/CHECK/);

    expect(() => db.prepare("UPDATE flags SET state = 'resolved', resolved_at = 't' WHERE id = 'f1'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE flags SET state = 'escalated' WHERE id = 'f1'").run()).toThrow(/CHECK/);
    expect(() =>
      db.prepare("UPDATE flags SET state = 'resolved', resolved_at = 't', resolved_by = 'x', approved_by = 'u-leader', resolution = '  ' WHERE id = 'f1'").run(),
    ).toThrow(/CHECK/);
    expect(() =>
      db.prepare("UPDATE flags SET state = 'resolved', resolved_at = 't', resolved_by = 'x', approved_by = 'u-officer', resolution = 'why' WHERE id = 'f1'").run(),
    ).toThrow(/approved by the officer it is about/);
    db.prepare("UPDATE flags SET state = 'resolved', resolved_at = 't', resolved_by = 'x', approved_by = 'u-leader', resolution = 'why' WHERE id = 'f1'").run();
    expect(db.prepare("SELECT state FROM flags WHERE id = 'f1'").get()).toEqual({ state: 'resolved' });
    db.close();
  });
});
