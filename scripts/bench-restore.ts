/**
 * How long `custody restore` takes for a station of N items (issue 20; default 100,000),
 * from an fs vault: a station is built (N `evidence.ingested` entries with their rows and
 * objects, a user, a case; sealed in segments of 1,000), then restored three ways:
 *
 *   - from a snapshot taken after the last item (the daemon's daily snapshot, nothing to replay);
 *   - from a snapshot taken halfway (a day's work to replay: here N/2 items);
 *   - with no snapshot at all (every entry replayed from the first);
 *
 * and, as the baseline in the same run, `custody ledger rebuild`'s own path
 * (rebuildLedger: check and insert the segments, evidence rows only) on the same vault.
 * Each restore includes its verification (every object's size checked). Prints a table
 * and one JSON line; asserts nothing.
 *
 *   npx tsx scripts/bench-restore.ts [--items 100000] [--keep]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CatalogReplayer, restoreStation, takeSnapshot } from '../src/backup/index.js';
import { Catalog } from '../src/catalog/index.js';
import { silentLogger } from '../src/core/logger.js';
import { LedgerSealer, ledgerOf, rebuildLedger } from '../src/ledger/index.js';
import { ensureStationKey, FsObjectStore, type PutResult } from '../src/vault/index.js';
import { measure, type Measured } from './bench-lib.js';

const { values } = parseArgs({ options: { items: { type: 'string', default: '100000' }, keep: { type: 'boolean', default: false } } });
const N = Number(values.items);
const BATCH = 1000;

async function buildStation(dir: string, vaultDir: string): Promise<{ home: string; store: FsObjectStore; half: string; full: string }> {
  const home = join(dir, 'station');
  const store = new FsObjectStore({ root: vaultDir, fsync: false });
  await store.init();
  const catalog = Catalog.open(join(home, 'catalog.db'));
  const key = await ensureStationKey(home);
  const ledger = ledgerOf(catalog);
  ledger.append({ type: 'station.initialized', actor: 'bench', data: { vault: { kind: 'fs', location: vaultDir }, stationKey: { alg: 'ed25519', publicKey: key.publicKey, fingerprint: key.fingerprint } } });
  ledger.append({ type: 'user.created', actor: 'bench', subject: 'u-admin', data: { name: 'admin', role: 'admin', unit: null, tokenExpiresAt: null } });
  catalog.db.prepare("INSERT INTO users (id, name, role, unit, token_hash, token_issued_at, created_at, created_by) VALUES ('u-admin', 'admin', 'admin', NULL, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'bench')").run('0'.repeat(64));
  // Rows made exactly as a replay makes them: the point is the restore's time, not ingest's.
  const replay = new CatalogReplayer(catalog.db);
  const sealer = new LedgerSealer({ catalog, store, log: silentLogger, segmentEntries: 1000, sealIntervalSeconds: 0 });
  let half = '';
  const t0 = Date.parse('2026-06-01T00:00:00.000Z');
  for (let i = 0; i < N; i += BATCH) {
    const puts: PutResult[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) puts.push(await store.putContent(Readable.from([Buffer.from(`bench clip ${j} `.padEnd(256, '.'))])));
    catalog.tx(() => {
      puts.forEach((put, k) => {
        const j = i + k;
        const at = new Date(t0 + j * 1000).toISOString();
        const e = ledger.append({
          type: 'evidence.ingested',
          actor: 'custody:daemon',
          subject: `ev-${String(j).padStart(7, '0')}`,
          data: {
            sha256: put.sha256, size: put.size, mediaType: 'video', recorder: { serial: `BWC-${j % 200}`, model: 'DSJ-T9' }, officer: String(100000 + (j % 500)), unit: `U${j % 8}`,
            sourcePath: `DCIM/100/${j}.MP4`, sourceName: `${j}.MP4`, sourceMtime: at, recordedStart: at, recordedEnd: null, recordedSource: 'filename', clockDriftMs: null,
            recordedStartCorrected: null, recordedEndCorrected: null, ingestedAt: at, sessionId: `s-${Math.floor(j / 50)}`,
          },
        });
        replay.apply(e);
      });
    });
    if (i + BATCH >= N / 2 && half === '') {
      await sealer.seal();
      half = (await takeSnapshot({ catalog, store, workDir: home, actor: 'bench', reason: 'schedule' })).key;
    }
  }
  await sealer.seal({ partial: true });
  const full = (await takeSnapshot({ catalog, store, workDir: home, actor: 'bench', reason: 'schedule' })).key;
  await sealer.seal({ partial: true });
  catalog.close();
  return { home, store, half, full };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'custody-bench-restore-'));
  const vault = join(dir, 'vault');
  console.error(`building a station of ${N} items in ${dir} …`);
  const built = await measure(() => buildStation(dir, vault));
  const rows: Array<{ case: string; m: Measured; replayed: number; ok: boolean }> = [];

  // Baseline: the ledger rebuild's own path on the same vault.
  {
    const c = Catalog.open(join(dir, 'rebuild', 'catalog.db'));
    const r = await measure(() => rebuildLedger({ catalog: c, store: built.value.store }));
    c.close();
    rows.push({ case: 'baseline: ledger rebuild (segments + evidence rows)', m: r.m, replayed: r.value.entries, ok: r.value.ok });
  }
  // Each restore works on its own copy of the vault (a restore seals its own entries into it).
  const cases: Array<[string, (store: FsObjectStore) => Promise<void>]> = [
    ['restore: snapshot after the last item', async () => undefined],
    ['restore: snapshot halfway (N/2 to replay)', async (s) => void (await s.delete(built.value.full))],
    ['restore: no snapshot (all replayed)', async (s) => {
      await s.delete(built.value.full);
      await s.delete(built.value.half);
    }],
  ];
  for (const [name, prepare] of cases) {
    const copy = join(dir, `vault-${rows.length}`);
    await import('node:child_process').then((cp) => cp.execFileSync('cp', ['-a', vault, copy]));
    const store = new FsObjectStore({ root: copy, fsync: true });
    await prepare(store);
    const r = await measure(() =>
      restoreStation({ store, home: join(dir, `restored-${rows.length}`), origin: '', segmentEntries: 1000, actor: 'bench', log: silentLogger }),
    );
    rows.push({ case: name, m: r.m, replayed: r.value.replayed, ok: r.value.ok });
  }

  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench:restore — ${N} items, fs vault, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${load}; station built in ${built.m.wallS.toFixed(1)} s`);
  const base = rows[0]!.m.wallS;
  console.log('case'.padEnd(52) + 'wall s'.padStart(8) + 'cpu s'.padStart(8) + 'rss MiB'.padStart(9) + 'replayed'.padStart(10) + '  ×baseline  ok');
  for (const r of rows) {
    console.log(r.case.padEnd(52) + r.m.wallS.toFixed(1).padStart(8) + r.m.cpuS.toFixed(1).padStart(8) + (r.m.maxRssMiB ?? 0).toFixed(0).padStart(9) + String(r.replayed).padStart(10) + `  ${(r.m.wallS / base).toFixed(2).padStart(9)}  ${r.ok}`);
  }
  console.log(JSON.stringify({ bench: 'restore', items: N, load, rows: rows.map((r) => ({ case: r.case, wallS: r.m.wallS, cpuS: r.m.cpuS, maxRssMiB: r.m.maxRssMiB, replayed: r.replayed, ok: r.ok })) }));
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}

await main();
