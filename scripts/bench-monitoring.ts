/**
 * npx tsx scripts/bench-monitoring.ts — what monitoring costs (issue 20):
 * - a /metrics scrape's station figures (catalog sums, flags, disks) over N live items,
 *   with and without the vault's stored bytes (the one figure that reads every item);
 * - the rolling deep verification's read rate, unbounded and under its bound, on one
 *   large object in an fs vault (the bound must hold: rate ≤ bound).
 * Prints figures and ratios; asserts nothing about time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Catalog } from '../src/catalog/index.js';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/core/index.js';
import { RollingVerifier, stationFigures } from '../src/monitoring/index.js';
import { FsObjectStore } from '../src/vault/index.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 100_000);
const OBJECT_MB = Number(process.env.BENCH_OBJECT_MB ?? 256);
const BOUND_MBPS = Number(process.env.BENCH_BOUND_MBPS ?? 64);

const dir = await mkdtemp(join(tmpdir(), 'custody-bench-monitoring-'));
try {
  const home = join(dir, 'home');
  const config = loadConfig({ home, env: {} });
  const catalog = Catalog.open(join(home, 'catalog.db'));
  const db = catalog.db;
  db.prepare("INSERT INTO recorders (serial, model, first_seen, last_seen) VALUES ('B1', 'M', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')").run();
  const ins = db.prepare(
    `INSERT INTO evidence (id, sha256, size, media_type, recorder_serial, source_path, source_name, source_mtime_ms, recorded_start, recorded_source, ingested_at, session_id)
     VALUES (?, ?, ?, 'video', 'B1', ?, ?, 0, '2026-01-01T00:00:00Z', 'filename', '2026-01-01T00:00:00Z', 's')`,
  );
  db.transaction(() => {
    for (let i = 0; i < ITEMS; i++) ins.run(`e${i}`, randomBytes(32).toString('hex'), 50_000_000 + i, `DCIM/${i}.MP4`, `${i}.MP4`);
  })();

  const measure = async (read: () => Promise<unknown>): Promise<number> => {
    await read();
    const runs = 5;
    const t = performance.now();
    for (let i = 0; i < runs; i++) await read();
    return (performance.now() - t) / runs;
  };
  const full = await measure(stationFigures({ config, catalog, cacheMs: 0, storedEveryMs: 0 }));
  const scrape = await measure(stationFigures({ config, catalog, cacheMs: 0 }));
  console.log(`station figures over ${ITEMS.toLocaleString('en')} live items: ${full.toFixed(1)} ms with the vault's stored bytes (read at most every 10 min), ${scrape.toFixed(2)} ms without (every scrape, at most every 30 s)`);

  // The rolling verification on one large object.
  const store = new FsObjectStore({ root: config.vault.fs.path, fsync: false });
  await store.init();
  db.exec('DELETE FROM evidence');
  const chunk = randomBytes(1 << 20);
  const put = await store.putContent(Readable.from((function* () { for (let i = 0; i < OBJECT_MB; i++) yield chunk; })()));
  ins.run('big', put.sha256, put.size, 'DCIM/BIG.MP4', 'BIG.MP4');
  const pass = async (bound: number): Promise<number> => {
    db.prepare("DELETE FROM meta WHERE key = 'rolling_verify'").run();
    // A period of one second: the schedule never holds it back, only the bound does.
    const v = new RollingVerifier({ catalog, store, log: silentLogger, actor: 'bench', periodDays: 1 / 86_400, maxBytesPerSecond: bound });
    const start = performance.now();
    const st = await v.runPass();
    if (st.failures !== 0) throw new Error('bench object failed verification');
    return (put.size / 2 ** 20) / ((performance.now() - start) / 1000);
  };
  const free = await pass(1e15);
  const bounded = await pass(BOUND_MBPS * 2 ** 20);
  console.log(`rolling verification of a ${OBJECT_MB} MiB object: unbounded ${free.toFixed(0)} MiB/s; bound ${BOUND_MBPS} MiB/s → ${bounded.toFixed(1)} MiB/s (ratio to bound ${(bounded / BOUND_MBPS).toFixed(3)})`);
  catalog.close();
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
