import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, queryPlan, seed, tables } from '../../../test/helpers/migrations.js';
import { m002 } from './002-evidence.js';
import { migrations } from './index.js';

const insert = `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, source_path, source_name, source_mtime_ms,
  recorded_start, recorded_source, ingested_at, session_id) VALUES (@id, @sha, @size, @type, @serial, 'p', 'n', 0, 't', @source, 't', 's')`;
const row = { id: 'e', sha: 'a'.repeat(64), size: 1, type: 'video', serial: 'R1', source: 'mtime' };

describe('migration 002 (evidence)', () => {
  it('is migration 2 in the list', () => {
    expect(m002).toMatchObject({ version: 2, name: 'evidence' });
    expect(migrations[1]).toBe(m002);
  });

  it('adds recorders, evidence and ingest failures, STRICT, beside the ledger of 001', () => {
    const db = catalogAt(1);
    db.prepare("INSERT INTO meta VALUES ('kept', 'yes')").run();
    applyMigration(db, 2);
    expect(tables(db)).toEqual(['evidence', 'ingest_failures', 'ledger', 'ledger_segments', 'meta', 'recorders']);
    for (const t of ['evidence', 'ingest_failures', 'recorders']) expect(isStrict(db, t), t).toBe(true);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'kept'").get()).toEqual({ value: 'yes' });
    expect(indexes(db, 'evidence')).toEqual(['evidence_officer', 'evidence_recorded', 'evidence_sha', 'evidence_source']);
    expect(columns(db, 'evidence').find((c) => c.name === 'status')).toMatchObject({ notnull: 1, dflt_value: "'live'" });
  });

  it('ties evidence to a known recorder and refuses values outside their kinds', () => {
    const db = catalogAt(2);
    expect(() => db.prepare(insert).run({ ...row, serial: 'nope' })).toThrow(/FOREIGN KEY/);
    seed.recorder(db, 'R1');
    expect(() => db.prepare(insert).run({ ...row, size: 'big' })).toThrow(/cannot store TEXT value in INTEGER column/);
    expect(() => db.prepare(insert).run({ ...row, size: -1 })).toThrow(/CHECK/);
    expect(() => db.prepare(insert).run({ ...row, sha: 'abc' })).toThrow(/CHECK/);
    expect(() => db.prepare(insert).run({ ...row, type: 'document' })).toThrow(/CHECK/);
    expect(() => db.prepare(insert).run({ ...row, source: 'guess' })).toThrow(/CHECK/);
    db.prepare(insert).run(row);
    expect(db.prepare("SELECT status, wiped_at FROM evidence WHERE id = 'e'").get()).toEqual({ status: 'live', wiped_at: null });
    expect(() => db.prepare("UPDATE evidence SET status = 'deleted'").run()).toThrow(/CHECK/);
  });

  it('keeps one failure row per recorder file, and finds a recorder file without a scan', () => {
    const db = catalogAt(2);
    const fail = db.prepare("INSERT INTO ingest_failures (recorder_serial, source_path, code, message, first_failed_at, last_failed_at) VALUES ('R1', 'a.mp4', 'X', 'm', 't', 't')");
    fail.run();
    expect(() => fail.run()).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(db.prepare('SELECT attempts FROM ingest_failures').get()).toEqual({ attempts: 1 });
    expect(queryPlan(db, "SELECT id FROM evidence WHERE recorder_serial = 'R1' AND source_path = 'p'")).toMatch(/USING INDEX evidence_source/);
    expect(queryPlan(db, "SELECT id FROM evidence WHERE sha256 = 'x'")).toMatch(/USING INDEX evidence_sha/);
  });
});
