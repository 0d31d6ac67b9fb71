import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/index.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { silentLogger } from '../../core/index.js';
import { EvidenceQueries, type EvidenceSummary } from './evidence.js';
import { SearchPool } from './search-pool.js';

/**
 * The search answer's items are built as JSON by SQLite (searchJson). They must be
 * what the items mapped in JavaScript were: the same fields in the same order, of the
 * same JSON types, and the same playback. `mapped` below is the mapping the search
 * used before, kept here as the reference.
 */

const MEDIA = {
  h264: JSON.stringify({ ok: true, kind: 'video', container: 'mp4', durationMs: 1000, streams: [{ type: 'video', codec: 'h264' }, { type: 'audio', codec: 'aac' }] }),
  hevc: JSON.stringify({ ok: true, kind: 'video', container: 'mp4', durationMs: 1000, streams: [{ type: 'video', codec: 'hevc' }] }),
  jpeg: JSON.stringify({ ok: true, kind: 'photo', container: 'jpeg', durationMs: 0, streams: [{ type: 'video', codec: 'mjpeg' }] }),
  failed: JSON.stringify({ ok: false, error: 'unreadable' }),
};

interface Item {
  id: string;
  type?: 'video' | 'audio' | 'photo';
  officer?: string | null;
  unit?: string | null;
  serial?: string;
  start?: string;
  end?: string | null;
  startCorrected?: string | null;
  endCorrected?: string | null;
  duration?: number | null;
  size?: number;
  status?: 'live' | 'purged';
  thumbnail?: boolean;
  media?: string | null;
  proxy?: 'pending' | 'ready' | 'failed';
}

/** Odd but storable text: quotes, backslashes, control characters, CJK, an emoji, bidi marks. */
const ODD = 'a"b\\c\n\t\u0001\u001f 第三科 🚓 \u202e/ <script>';

const ITEMS: Item[] = [
  { id: '00000000-0000-7000-8000-000000000001' },
  { id: '00000000-0000-7000-8000-000000000002', status: 'purged' },
  { id: '00000000-0000-7000-8000-000000000003', media: MEDIA.h264, thumbnail: true },
  { id: '00000000-0000-7000-8000-000000000004', media: MEDIA.h264, status: 'purged' },
  { id: '00000000-0000-7000-8000-000000000005', media: MEDIA.hevc, proxy: 'ready' },
  { id: '00000000-0000-7000-8000-000000000006', media: MEDIA.hevc, proxy: 'failed' },
  { id: '00000000-0000-7000-8000-000000000007', media: MEDIA.hevc, proxy: 'pending' },
  { id: '00000000-0000-7000-8000-000000000008', media: MEDIA.hevc },
  { id: '00000000-0000-7000-8000-000000000009', media: MEDIA.hevc, proxy: 'ready', status: 'purged' },
  { id: '00000000-0000-7000-8000-00000000000a', media: MEDIA.failed, proxy: 'failed' },
  { id: '00000000-0000-7000-8000-00000000000b', media: 'not json {', proxy: 'ready' },
  { id: '00000000-0000-7000-8000-00000000000c', media: 'null' },
  { id: '00000000-0000-7000-8000-00000000000d', media: '[1, 2]' },
  { id: '00000000-0000-7000-8000-00000000000e', type: 'photo', media: MEDIA.jpeg, duration: null, end: null, thumbnail: true },
  { id: '00000000-0000-7000-8000-00000000000f', type: 'audio', officer: null, unit: null, duration: null },
  { id: '00000000-0000-7000-8000-000000000010', officer: ODD, unit: ODD, serial: ODD },
  { id: '00000000-0000-7000-8000-000000000011', startCorrected: '2026-03-01T09:59:00.000Z', endCorrected: '2026-03-01T10:29:00.000Z' },
  { id: '00000000-0000-7000-8000-000000000012', startCorrected: '2026-03-01T09:58:00.000Z', end: null, endCorrected: null },
  { id: '00000000-0000-7000-8000-000000000013', size: Number.MAX_SAFE_INTEGER, duration: 0 },
  // The same kind of recording as item 3 (another length and time): the plan decided once serves both, each with its own URL.
  { id: '00000000-0000-7000-8000-000000000014', media: MEDIA.h264.replace('"durationMs":1000', '"durationMs":61000,"creationTime":"2026-03-01T10:00:00Z"') },
  // The same probe record on an item of another type.
  { id: '00000000-0000-7000-8000-000000000015', type: 'audio', media: MEDIA.hevc },
];

function seed(catalog: Catalog): void {
  const db = catalog.db;
  const recorder = db.prepare('INSERT OR IGNORE INTO recorders (serial, model, officer, unit, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)');
  const insert = db.prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name,
    source_mtime_ms, recorded_start, recorded_end, recorded_source, clock_drift_ms, recorded_start_corrected, recorded_end_corrected,
    ingested_at, session_id, duration_ms, status, media_json, thumbnail_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const proxy = db.prepare(`INSERT INTO evidence_proxies (evidence_id, source_sha256, kind, status, reason, proxy_sha256, size, container, attempts, created_at, updated_at)
    VALUES (@id, @sha, 'video', @status, 'hevc video', @proxySha, @size, @container, 0, '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z')`);
  db.transaction(() => {
    ITEMS.forEach((it, i) => {
      const serial = it.serial ?? 'ZFY0001';
      recorder.run(serial, 'DSJ-T1', '0417', 'U1', '2026-01-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z');
      const sha = i.toString(16).padStart(64, '0');
      // Distinct times, newest last, and two items in the same millisecond (ties break on id).
      const start = it.start ?? `2026-03-01T${String(10 + Math.min(i, 12)).padStart(2, '0')}:00:00.000Z`;
      insert.run(
        it.id,
        sha,
        it.size ?? 1000 + i,
        it.type ?? 'video',
        serial,
        it.officer === undefined ? '0417' : it.officer,
        it.unit === undefined ? 'U1' : it.unit,
        `DCIM/${i}.MP4`,
        `${i}.MP4`,
        Date.parse(start),
        start,
        it.end === undefined ? new Date(Date.parse(start) + 60_000).toISOString() : it.end,
        'metadata',
        it.startCorrected ? 60_000 : null,
        it.startCorrected ?? null,
        it.endCorrected ?? null,
        `2026-03-02T00:00:${String(i).padStart(2, '0')}.000Z`,
        'session',
        it.duration === undefined ? 60_000 : it.duration,
        it.status ?? 'live',
        it.media ?? null,
        it.thumbnail ? 'f'.repeat(64) : null,
      );
      if (it.proxy) {
        const ready = it.proxy === 'ready';
        proxy.run({ id: it.id, sha, status: it.proxy, proxySha: ready ? 'e'.repeat(64) : null, size: ready ? 100 : null, container: ready ? 'mp4' : null });
      }
    });
  })();
}

/** The search's items as they were mapped in JavaScript before SQLite built them. */
function mapped(catalog: Catalog, q: EvidenceQueries, where: string, time: 'recorded' | 'ingested'): EvidenceSummary[] {
  const col = time === 'recorded' ? 'recorded_at' : 'ingested_at';
  const rows = catalog.db
    .prepare(
      `SELECT id, sha256, size, media_type, officer, recorder_serial, unit, recorded_at, recorded_end, recorded_end_corrected,
        ingested_at, duration_ms, status, thumbnail_sha256 IS NOT NULL AS has_thumbnail, media_json
        FROM evidence WHERE ${where} ORDER BY ${col} DESC, id DESC`,
    )
    .all() as {
    id: string;
    sha256: string;
    size: number;
    media_type: 'video' | 'audio' | 'photo';
    officer: string | null;
    recorder_serial: string;
    unit: string | null;
    recorded_at: string;
    recorded_end: string | null;
    recorded_end_corrected: string | null;
    ingested_at: string;
    duration_ms: number | null;
    status: 'live' | 'purged';
    has_thumbnail: number;
    media_json: string | null;
  }[];
  const parse = (json: string | null): Record<string, unknown> | null => {
    if (json === null) return null;
    try {
      return JSON.parse(json) as Record<string, unknown>;
    } catch {
      return { ok: false };
    }
  };
  return rows.map((r) => ({
    id: r.id,
    sha256: r.sha256,
    size: r.size,
    type: r.media_type,
    officer: r.officer,
    device: r.recorder_serial,
    unit: r.unit,
    recordedAt: r.recorded_at,
    recordedEnd: r.recorded_end_corrected ?? r.recorded_end,
    ingestedAt: r.ingested_at,
    durationMs: r.duration_ms,
    status: r.status,
    thumbnail: r.has_thumbnail === 1,
    playback: q.playback({ id: r.id, mediaType: r.media_type, media: parse(r.media_json), status: r.status }),
  }));
}

describe('evidence search built as JSON by the catalog', () => {
  it('gives each item exactly as the JavaScript mapping did: fields, order, JSON types and playback', async () => {
    const dir = await tempDir();
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    seed(catalog);
    const q = new EvidenceQueries(catalog.db);
    for (const time of ['recorded', 'ingested'] as const) {
      const json = q.searchJson(null, { time }, null, 100);
      const expected = mapped(catalog, q, '1 = 1', time);
      expect(json).toHaveLength(ITEMS.length);
      expect(json.map((j) => JSON.parse(j) as unknown)).toStrictEqual(expected);
      // Same key order (the schema's), and the same text as JSON.stringify gives.
      for (const [i, j] of json.entries()) {
        expect(Object.keys(JSON.parse(j) as object)).toEqual(Object.keys(expected[i]!));
        expect(j).toBe(JSON.stringify(expected[i]));
      }
      // search() is the same page, parsed.
      expect(q.search(null, { time }, null, 100)).toStrictEqual(expected);
    }
    // Every playback the rules give appears above, so the comparison covered them.
    const plays = new Set(q.search(null, { time: 'recorded' }, null, 100).map((s) => `${s.playback.kind}/${s.playback.status}`));
    expect([...plays].sort()).toEqual(['original/none', 'original/ready', 'proxy/failed', 'proxy/none', 'proxy/pending', 'proxy/ready']);
    catalog.close();
  });

  it('keeps the scope, the filters and the cursor: pages follow one another without gap or overlap', async () => {
    const dir = await tempDir();
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    seed(catalog);
    const q = new EvidenceQueries(catalog.db);
    const all = mapped(catalog, q, "unit = 'U1'", 'recorded');
    const seen: EvidenceSummary[] = [];
    let after: { t: string; id: string } | null = null;
    for (;;) {
      const page = q.searchJson('U1', { time: 'recorded' }, after, 4).map((j) => JSON.parse(j) as EvidenceSummary);
      seen.push(...page);
      if (page.length < 4) break;
      after = EvidenceQueries.position(page[page.length - 1]!, 'recorded');
    }
    expect(seen).toStrictEqual(all);
    // Another unit's scope finds none of them; an officer filter keeps only its items.
    expect(q.searchJson('U2', { time: 'recorded' }, null, 100)).toEqual([]);
    expect(q.searchJson(null, { time: 'recorded', officer: ODD }, null, 100).map((j) => (JSON.parse(j) as EvidenceSummary).officer)).toEqual([ODD]);
    catalog.close();
  });
});

describe('evidence search in the search thread', () => {
  it('gives the same pages as the calling thread, sees what was committed just before, and survives a bad search', async () => {
    const dir = await tempDir();
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    seed(catalog);
    const q = new EvidenceQueries(catalog.db);
    const pool = new SearchPool(catalog.db, q, silentLogger);
    try {
      for (const [scope, filter] of [
        [null, { time: 'recorded' }],
        [null, { time: 'ingested', type: 'video' }],
        ['U1', { time: 'recorded', officer: ODD }],
        [null, { time: 'recorded', from: '2026-03-01T12:00:00.000Z', to: '2026-03-01T20:00:00.000Z' }],
      ] as const) {
        expect(await pool.search(scope, filter, null, 100)).toEqual(q.searchJson(scope, filter, null, 100));
      }
      // Searches at once, each answered with its own page.
      const pages = await Promise.all([1, 2, 3, 4, 5].map((n) => pool.search(null, { time: 'recorded' }, null, n)));
      expect(pages.map((p) => p.length)).toEqual([1, 2, 3, 4, 5]);
      // A row committed on the API's own connection is found by the next search.
      catalog.db
        .prepare(`INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, officer, unit, source_path, source_name, source_mtime_ms,
          recorded_start, recorded_source, ingested_at, session_id) VALUES ('00000000-0000-7000-8000-0000000000ff', ?, 1, 'photo', 'ZFY0001', 'NEW', 'U1',
          'a.jpg', 'a.jpg', 0, '2026-03-05T00:00:00.000Z', 'mtime', '2026-03-05T00:00:00.000Z', 's')`)
        .run('d'.repeat(64));
      expect((await pool.search(null, { time: 'recorded', officer: 'NEW' }, null, 10)).map((j) => (JSON.parse(j) as EvidenceSummary).id)).toEqual([
        '00000000-0000-7000-8000-0000000000ff',
      ]);
      // A search the catalog refuses is an error for that search only; the next one is answered.
      await expect(pool.search(null, { time: 'recorded' }, null, Number.NaN)).rejects.toThrow();
      expect(await pool.search(null, { time: 'recorded' }, null, 2)).toEqual(q.searchJson(null, { time: 'recorded' }, null, 2));
    } finally {
      await pool.close();
      catalog.close();
    }
  });

  it('searches an in-memory catalog in the calling thread, and a closed pool too', async () => {
    const catalog = Catalog.open(':memory:');
    seed(catalog);
    const q = new EvidenceQueries(catalog.db);
    const pool = new SearchPool(catalog.db, q, silentLogger);
    expect(await pool.search(null, { time: 'recorded' }, null, 3)).toEqual(q.searchJson(null, { time: 'recorded' }, null, 3));
    await pool.close();
    expect(await pool.search(null, { time: 'recorded' }, null, 3)).toHaveLength(3);
    catalog.close();
  });
});
