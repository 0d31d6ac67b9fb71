import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, indexes, isStrict, queryPlan, seed } from '../../../test/helpers/migrations.js';
import { m014 } from './014-evidence-proxies.js';
import { migrations } from './index.js';

const SRC = 'a'.repeat(64);
const PROXY = 'b'.repeat(64);
const insert = `INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, created_at, updated_at)
  VALUES (@id, @src, @kind, @status, 'hevc video', @proxy, @size, @container, 't', 't')`;

describe('migration 014 (browser-playable proxies, issue 15)', () => {
  it('is migration 14 in the list', () => {
    expect(m014).toMatchObject({ version: 14, name: 'evidence-proxies' });
    expect(migrations[13]).toBe(m014);
  });

  it('adds a STRICT table of proxies, one per item, and keeps the evidence of before as it was', () => {
    const db = catalogAt(13);
    seed.recorder(db, 'R1');
    seed.evidence(db, 'e1', 'R1');
    const before = db.prepare('SELECT * FROM evidence').all();
    applyMigration(db, 14);
    expect(db.prepare('SELECT * FROM evidence').all()).toEqual(before);
    expect(isStrict(db, 'evidence_proxies')).toBe(true);
    expect(columns(db, 'evidence_proxies').map((c) => c.name)).toEqual([
      'evidence_id', 'source_sha256', 'kind', 'status', 'reason', 'proxy_sha256', 'size', 'container', 'video_codec', 'audio_codec',
      'width', 'height', 'duration_ms', 'attempts', 'error', 'created_at', 'updated_at',
    ]);
    expect(db.prepare('SELECT count(*) AS n FROM evidence_proxies').get()).toEqual({ n: 0 });
    expect(indexes(db, 'evidence_proxies')).toEqual(['evidence_proxies_status']);
    expect(queryPlan(db, "SELECT evidence_id FROM evidence_proxies WHERE status = 'ready'")).toMatch(/evidence_proxies_status/);
  });

  it('takes a pending row, then a ready one with its object; refuses rows that contradict themselves', () => {
    const db = catalogAt(14);
    seed.recorder(db, 'R1');
    seed.evidence(db, 'e1', 'R1');
    seed.evidence(db, 'e2', 'R1');
    const add = db.prepare(insert);
    const row = { id: 'e1', src: SRC, kind: 'video', status: 'pending', proxy: null, size: null, container: null };
    add.run(row);
    expect(() => add.run(row)).toThrow(/UNIQUE|PRIMARY KEY/);
    db.prepare("UPDATE evidence_proxies SET status = 'ready', proxy_sha256 = ?, size = 10, container = 'mp4', width = 1280, height = 720 WHERE evidence_id = 'e1'").run(PROXY);
    // A ready row without its object, or a failed one that names one: refused.
    expect(() => db.prepare("UPDATE evidence_proxies SET proxy_sha256 = NULL WHERE evidence_id = 'e1'").run()).toThrow(/CHECK/);
    expect(() => add.run({ ...row, id: 'e2', status: 'failed', proxy: PROXY, size: 1, container: 'mp4' })).toThrow(/CHECK/);
    expect(() => add.run({ ...row, id: 'e2', status: 'done' })).toThrow(/CHECK/);
    expect(() => add.run({ ...row, id: 'e2', kind: 'text' })).toThrow(/CHECK/);
    expect(() => add.run({ ...row, id: 'e2', src: 'short' })).toThrow(/CHECK/);
    expect(() => add.run({ ...row, id: 'nope' })).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("UPDATE evidence_proxies SET error = 'not json' WHERE evidence_id = 'e1'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE evidence_proxies SET container = 'avi' WHERE evidence_id = 'e1'").run()).toThrow(/CHECK/);
    expect(db.prepare('SELECT status, proxy_sha256, width, height FROM evidence_proxies').all()).toEqual([{ status: 'ready', proxy_sha256: PROXY, width: 1280, height: 720 }]);
  });
});
