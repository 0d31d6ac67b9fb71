import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { catalogAt } from '../../../test/helpers/migrations.js';
import { migrate, schemaVersion } from '../db.js';
import { migrations } from './index.js';

describe('migration 006 (cases)', () => {
  function catalogAtVersion5(): Database.Database {
    const db = catalogAt(5);
    db.prepare("INSERT INTO recorders (serial, first_seen, last_seen) VALUES ('R1', 't', 't')").run();
    db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, unit, source_path, source_name, source_mtime_ms,
      recorded_start, recorded_source, ingested_at, session_id) VALUES ('e1', ?, 1, 'video', 'R1', 'U1', 'a', 'a', 0, 't', 'filename', 't', 's')`).run('a'.repeat(64));
    return db;
  }

  it('applies on a version-5 catalog with evidence, which starts neither announced nor purged', () => {
    const db = catalogAtVersion5();
    migrate(db, migrations, 6);
    expect(schemaVersion(db)).toBe(6);
    expect(migrations[5]).toMatchObject({ version: 6, name: 'cases' });
    expect(db.prepare('SELECT status, purge_announced_at, purge_due_at, purged_at, purge_run_id FROM evidence').get()).toEqual({
      status: 'live',
      purge_announced_at: null,
      purge_due_at: null,
      purged_at: null,
      purge_run_id: null,
    });
    db.close();
  });

  it('checks cases, links, holds and purge runs', () => {
    const db = catalogAtVersion5();
    migrate(db, migrations, 6);
    const kase = db.prepare("INSERT INTO cases (id, number, name, unit, created_at, created_by) VALUES (?, ?, 'N', 'U1', 't', 'u1')");
    kase.run('c1', '2026-001');
    expect(() => kase.run('c2', '2026-001')).toThrow(/UNIQUE/);
    expect(() => kase.run('c3', '')).toThrow(/CHECK/);

    const link = db.prepare("INSERT INTO case_evidence (case_id, evidence_id, linked_at, linked_by) VALUES (?, ?, 't', 'u1')");
    link.run('c1', 'e1');
    expect(() => link.run('c1', 'e1')).toThrow(/UNIQUE|PRIMARY/);
    expect(() => link.run('c1', 'nope')).toThrow(/FOREIGN KEY/);
    expect(() => link.run('nope', 'e1')).toThrow(/FOREIGN KEY/);

    const hold = db.prepare("INSERT INTO holds (id, case_id, reason, reason_text, placed_at, placed_by) VALUES (?, 'c1', ?, ?, 't', 'u1')");
    hold.run('h1', 'dispute', null);
    expect(() => hold.run('h2', 'whim', null)).toThrow(/CHECK/);
    expect(() => hold.run('h3', 'other', null)).toThrow(/CHECK/);
    hold.run('h4', 'other', 'press interest');
    // A release is asked first, then approved by someone else.
    expect(() => db.prepare("UPDATE holds SET released_at = 't', released_by = 'u2' WHERE id = 'h1'").run()).toThrow(/CHECK/);
    db.prepare("UPDATE holds SET release_requested_at = 't', release_requested_by = 'u2', release_reason = 'closed' WHERE id = 'h1'").run();
    expect(() => db.prepare("UPDATE holds SET released_at = 't', released_by = 'u2' WHERE id = 'h1'").run()).toThrow(/CHECK/);
    db.prepare("UPDATE holds SET released_at = 't', released_by = 'u3' WHERE id = 'h1'").run();

    const run = db.prepare("INSERT INTO purge_runs (id, started_at, status, dry_run, forced, actor, refusal_code) VALUES (?, 't', ?, 0, 0, 'cli', ?)");
    run.run('p1', 'running', null);
    expect(() => run.run('p2', 'refused', null)).toThrow(/CHECK/);
    expect(() => run.run('p3', 'done', null)).toThrow(/CHECK/);
    db.prepare("INSERT INTO purge_run_items (run_id, evidence_id, outcome, at) VALUES ('p1', 'e1', 'announced', 't')").run();
    expect(() => db.prepare("INSERT INTO purge_run_items (run_id, evidence_id, outcome, at) VALUES ('p1', 'nope', 'purged', 't')").run()).toThrow(
      /FOREIGN KEY/,
    );
    db.close();
  });
});
