import { describe, expect, it } from 'vitest';
import { applyMigration, catalogAt, columns, seed } from '../../../test/helpers/migrations.js';
import { m021 } from './021-evidence-playback-input.js';
import { migrations } from './index.js';

const H264 = JSON.stringify({
  ok: true,
  kind: 'video',
  container: 'mp4',
  durationMs: 61000,
  streams: [{ type: 'video', codec: 'h264', width: 1920, height: 1080 }, { type: 'audio', codec: 'aac' }],
  creationTime: '2026-03-01T10:00:00Z',
});
/** What the plan reads of H264: the same for every item recorded alike, whatever its length and time. */
const H264_INPUT = JSON.stringify({ ok: true, kind: 'video', container: 'mp4', streams: JSON.parse(H264).streams });

describe('migration 021 (what of a probe record decides playback, kept beside it)', () => {
  it('is migration 21 in the list', () => {
    expect(m021).toMatchObject({ version: 21, name: 'evidence-playback-input' });
    expect(migrations[20]).toBe(m021);
  });

  it('fills it for the items of before, and keeps it in step with media_json on insert and update', () => {
    const db = catalogAt(20);
    seed.recorder(db, 'R1');
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5']) seed.evidence(db, id, 'R1');
    const setMedia = db.prepare('UPDATE evidence SET media_json = ? WHERE id = ?');
    setMedia.run(H264, 'e1');
    setMedia.run('not json {', 'e2');
    setMedia.run('null', 'e3');
    setMedia.run(JSON.stringify({ ok: false, error: 'unreadable' }), 'e4');
    const input = (id: string): unknown => db.prepare('SELECT playback_input FROM evidence WHERE id = ?').pluck().get(id);
    applyMigration(db, 21);
    expect(columns(db, 'evidence').at(-1)).toMatchObject({ name: 'playback_input', type: 'TEXT', notnull: 0 });
    expect(input('e1')).toBe(H264_INPUT);
    // Not a JSON object: the record itself, read as before.
    expect(input('e2')).toBe('not json {');
    expect(input('e3')).toBe('null');
    expect(JSON.parse(input('e4') as string)).toEqual({ ok: false, kind: null, container: null, streams: null });
    expect(input('e5')).toBeNull();

    // The analysis sets a record later, or sets another.
    setMedia.run(H264.replace('61000', '5000'), 'e5');
    expect(input('e5')).toBe(H264_INPUT);
    setMedia.run(H264.replace('h264', 'hevc'), 'e1');
    expect(input('e1')).toBe(H264_INPUT.replace('h264', 'hevc'));
    setMedia.run(null, 'e1');
    expect(input('e1')).toBeNull();

    // An item inserted with its record (a rebuild, a restore) gets it at once.
    seed.evidence(db, 'e6', 'R1');
    db.prepare("DELETE FROM evidence WHERE id = 'e6'").run();
    const row = db.prepare("SELECT * FROM evidence WHERE id = 'e5'").get() as Record<string, unknown>;
    const cols = Object.keys(row).filter((c) => c !== 'recorded_at' && c !== 'playback_input');
    db.prepare(`INSERT INTO evidence (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run({ ...row, id: 'e6', sha256: 'f'.repeat(64), source_path: 'DCIM/e6.MP4' });
    expect(input('e6')).toBe(H264_INPUT);
  });
});
