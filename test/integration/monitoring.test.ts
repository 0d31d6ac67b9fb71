import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { liveSnapshots, nextSnapshotDue, SnapshotScheduler } from '../../src/backup/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { RollingVerifier, readRollingVerifyState, stationFigures } from '../../src/monitoring/index.js';
import { contentKey } from '../../src/vault/index.js';
import { waitFor } from '../helpers/cli.js';
import { apiRig, type ApiRig } from './api-fixtures.js';

// Issue 20: monitoring — the alert rules name only metrics custody exports, and the
// rolling deep verification re-hashes every object at a bounded pace, resumes after a
// stop, and ledgers what it finds.

const rigs: ApiRig[] = [];
async function rig(): Promise<ApiRig> {
  const r = await apiRig();
  rigs.push(r);
  return r;
}
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; summary_zh: string; description: string };
}

/** PromQL words that are not metric names: operators, modifiers, functions. */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'on', 'ignoring', 'by', 'without', 'group_left', 'group_right', 'bool', 'offset', 'rate', 'increase', 'time', 'sum', 'max', 'min', 'absent']);
/** Prometheus's own series, not custody's. */
const PROMETHEUS_SERIES = new Set(['up']);

/** The metric names an expression reads: identifiers outside label matchers, quoted strings and ranges. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const names = bare.match(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n)))];
}

async function loadRules(): Promise<Rule[]> {
  const doc = parse(await readFile(new URL('../../config/alerts.yml', import.meta.url), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  expect(Array.isArray(doc.groups)).toBe(true);
  return doc.groups.flatMap((g) => {
    expect(typeof g.name).toBe('string');
    expect(Array.isArray(g.rules)).toBe(true);
    return g.rules;
  });
}

describe('config/alerts.yml (issue 20)', () => {
  it('parses as Prometheus rule groups, one rule per thing issue 20 names, each with a severity and a Chinese summary', async () => {
    const rules = await loadRules();
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const wanted of ['CustodyIngestStalled', 'CustodyDockFailed', 'CustodyFlagsEscalated', 'CustodyVerificationFailed', 'CustodyHomeDiskNearlyFull', 'CustodyVaultNearlyFull', 'CustodyPurgeRefused', 'CustodySnapshotMissed']) {
      expect(names).toContain(wanted);
    }
    for (const r of rules) {
      expect(Object.keys(r).sort(), r.alert).toEqual(['alert', 'annotations', 'expr', 'labels', ...(r.for !== undefined ? ['for'] : [])].sort());
      expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(typeof r.expr).toBe('string');
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smhd]$/);
      expect(['info', 'warning', 'critical']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.summary_zh, r.alert).toMatch(/[\u4e00-\u9fff]/);
      // Brackets and parentheses balance (promtool is not here to say so).
      for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) {
        expect(r.expr.split(open).length, `${r.alert}: ${open}${close}`).toBe(r.expr.split(close).length);
      }
    }
  });

  it('names only metrics that /metrics exports', async () => {
    const r = await rig();
    await r.seed();
    const text = (await r.call(null, { url: '/metrics' })).body;
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const named = (await loadRules()).flatMap((rule) => metricNames(rule.expr).map((name) => ({ rule: rule.alert, name })));
    expect(named.length).toBeGreaterThan(10);
    for (const { rule, name } of named) {
      if (PROMETHEUS_SERIES.has(name)) continue;
      expect(exported.has(name), `${rule} names ${name}, which /metrics does not export`).toBe(true);
    }
  });

  it("exports the station's figures from the catalog and the disks", async () => {
    const r = await rig();
    const a = await r.seed({ bytes: 1000 });
    await r.seed({ bytes: Buffer.from(a.content) }); // the same bytes: one object, counted for each item
    await r.seed({ bytes: 500 });
    r.catalog.db
      .prepare("INSERT INTO purge_runs (id, started_at, finished_at, status, dry_run, forced, actor, refusal_code, refusal) VALUES ('p1', ?, ?, 'refused', 0, 0, 'test', 'PURGE_CLOCK_JUMP', 'the clock jumped')")
      .run('2026-11-27T03:30:00.000Z', '2026-11-27T03:30:01.000Z');
    const text = (await r.call(null, { url: '/metrics' })).body;
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('custody_vault_stored_bytes')).toBe(2500);
    expect(value('custody_home_filesystem_size_bytes')).toBeGreaterThan(0);
    expect(value('custody_vault_capacity_bytes')).toBeGreaterThan(0);
    expect(value('custody_vault_free_bytes')).toBeGreaterThan(0);
    expect(value('custody_purge_last_run_refused')).toBe(1);
    expect(value('custody_purge_last_run_timestamp_seconds')).toBe(Date.parse('2026-11-27T03:30:01.000Z') / 1000);
    expect(value('custody_ingest_last_timestamp_seconds')).toBe(r.clock.t / 1000);
    expect(value('custody_catalog_snapshot_last_timestamp_seconds')).toBe(0);
    expect(text).toMatch(/^custody_flags_unresolved\{state="escalated"\} 0$/m);
    expect(text).toMatch(/^custody_dock_sessions_finished_total\{status="failed"\} 0$/m);
    expect(value('custody_verify_rolling_progress_ratio')).toBe(0);
  });
});

/**
 * Whether a rule's expression holds at `nowSeconds` for a station whose only series is
 * `metric` = `value`: the rule's own text with time() and the metric put in, so a changed
 * rule is what is tested (only for rules that are arithmetic on one gauge).
 */
function holds(expr: string, metric: string, value: number, nowSeconds: number): boolean {
  const arithmetic = expr.replaceAll('time()', String(nowSeconds)).replaceAll(metric, String(value));
  expect(arithmetic, expr).toMatch(/^[\d\s.()*+\-<>]+$/);
  return Boolean(new Function(`return (${arithmetic});`)());
}

describe('the first catalog snapshot of a new station', () => {
  // A fresh install raised CustodySnapshotMissed 30 minutes after it started: the metric
  // is 0 until the first snapshot, which the daemon took only a day after custody init.
  it('is taken as the daemon starts, so CustodySnapshotMissed does not hold past the start', async () => {
    const r = await rig();
    const rule = (await loadRules()).find((x) => x.alert === 'CustodySnapshotMissed')!;
    const metric = 'custody_catalog_snapshot_last_timestamp_seconds';
    const figures = stationFigures({ config: loadConfig({ home: r.home, env: {} }), catalog: r.catalog, cacheMs: 0 });
    const now = (): number => r.clock.t / 1000;

    // Before the daemon's first start: no snapshot, exported as 0, which the rule reads as overdue.
    expect((await figures()).lastSnapshotAt).toBeNull();
    expect(holds(rule.expr, metric, 0, now())).toBe(true);

    // The daemon's scheduler, as the station builds it (backup.intervalHours 24): its start takes one.
    const scheduler = new SnapshotScheduler({ catalog: r.catalog, store: r.store, home: r.home, actor: 'custody:daemon', log: silentLogger, intervalHours: 24, keepDaily: 7, keepWeekly: 4, timezone: 'Asia/Shanghai' });
    scheduler.start();
    const first = await waitFor('the first snapshot', async () => liveSnapshots(r.catalog)[0], 30_000, 20);
    await scheduler.stop();
    expect(first).toMatchObject({ reason: 'schedule', takenAt: r.clock.now().toISOString() });
    expect(await r.store.stat(first.key)).toMatchObject({ size: first.size });

    // /metrics now says when, and the rule holds only once a day and two hours have passed.
    const text = (await r.call(null, { url: '/metrics' })).body;
    const value = Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value).toBe(Date.parse(first.takenAt) / 1000);
    expect(holds(rule.expr, metric, value, now())).toBe(false);
    expect(holds(rule.expr, metric, value, now() + 25 * 3600)).toBe(false);
    expect(holds(rule.expr, metric, value, now() + 27 * 3600)).toBe(true);

    // A later start takes none until the interval has passed since this one.
    expect(nextSnapshotDue(first, 24, r.clock.now()).toISOString()).toBe(new Date(r.clock.t + 24 * 3_600_000).toISOString());
    expect(nextSnapshotDue(null, 24, r.clock.now()).toISOString()).toBe(r.clock.now().toISOString());
  });
});

describe('rolling deep verification (issue 20)', () => {
  /** A verifier whose sleeps move the rig's clock instead of waiting; it records every sleep. */
  function verifier(r: ApiRig, opts: { periodDays: number; maxBytesPerSecond: number; abortAfterSleeps?: { n: number; ac: AbortController } }) {
    const sleeps: number[] = [];
    const reads: string[] = [];
    const store = Object.create(r.store) as typeof r.store;
    store.get = async (key, range) => {
      reads.push(key);
      return r.store.get(key, range);
    };
    const v = new RollingVerifier({
      catalog: r.catalog,
      store,
      log: silentLogger,
      actor: 'custody:daemon',
      periodDays: opts.periodDays,
      maxBytesPerSecond: opts.maxBytesPerSecond,
      saveEvery: { objects: 1, ms: 0 },
      sleep: async (ms) => {
        sleeps.push(ms);
        r.clock.advance(ms);
        if (opts.abortAfterSleeps && sleeps.length >= opts.abortAfterSleeps.n) opts.abortAfterSleeps.ac.abort();
      },
    });
    return { v, sleeps, reads };
  }

  it('re-hashes every object over the period, resumes after a stop, and ledgers each damaged or missing object', async () => {
    const r = await rig();
    const items = [];
    for (let i = 0; i < 6; i++) items.push(await r.seed({ bytes: 1000 + i }));
    const vaultPath = join(r.home, 'vault');
    // One object altered in place, one gone.
    const altered = items[2]!;
    const gone = items[4]!;
    await writeFile(join(vaultPath, contentKey(altered.sha256)), Buffer.alloc(altered.content.length, 7));
    await rm(join(vaultPath, contentKey(gone.sha256)));
    const before = r.ledgerTypes().length;
    const startedAt = r.clock.t;

    // First run: stopped after its third scheduled wait (the daemon stopping).
    const ac = new AbortController();
    const first = verifier(r, { periodDays: 1, maxBytesPerSecond: 1e12, abortAfterSleeps: { n: 3, ac } });
    const cut = await first.v.runPass(ac.signal);
    expect(cut.objectsDone).toBeGreaterThan(0);
    expect(cut.objectsDone).toBeLessThan(6);
    const saved = readRollingVerifyState(r.catalog)!;
    expect(saved.objectsDone).toBe(cut.objectsDone);
    expect(saved.cursor).toBe(cut.cursor);

    // A new verifier (a restarted daemon) goes on from the saved place.
    const second = verifier(r, { periodDays: 1, maxBytesPerSecond: 1e12 });
    const done = await second.v.runPass();
    expect(done.cursor).toBe('done');
    expect(done.objectsDone).toBe(6);
    expect(done.failures).toBe(2);
    expect(done.passStartedAt).toBe(saved.passStartedAt);
    // Each object read once across the two runs (the missing one cannot be read at all).
    const reads = [...first.reads, ...second.reads];
    expect(new Set(reads).size).toBe(reads.length);
    expect(reads.length).toBe(5);

    // Spread over the period: the last object was due after 5/6 of it, and nothing later than the period.
    const elapsed = r.clock.t - startedAt;
    const total = items.reduce((n, i) => n + i.content.length, 0);
    const lastSize = [...items].sort((x, y) => (x.sha256 < y.sha256 ? -1 : 1)).at(-1)!.content.length;
    expect(elapsed).toBeGreaterThanOrEqual(Math.floor(((total - lastSize) / total) * 86_400_000) - 1);
    expect(elapsed).toBeLessThanOrEqual(86_400_000);

    const entries = [...r.catalog.ledger.entries()].slice(before);
    const failed = entries.filter((e) => e.type === 'vault.object-failed').map((e) => e.data as { sha256: string; code: string });
    expect(failed.sort((x, y) => x.code.localeCompare(y.code))).toEqual([
      expect.objectContaining({ sha256: altered.sha256, code: 'OBJECT_HASH_MISMATCH' }),
      expect.objectContaining({ sha256: gone.sha256, code: 'OBJECT_MISSING' }),
    ]);
    const pass = entries.filter((e) => e.type === 'vault.rolling-verified');
    expect(pass).toHaveLength(1);
    expect(pass[0]!.data).toMatchObject({ objects: 6, bytes: total, failures: 2 });

    // Progress and failures are metrics.
    const text = (await r.call(null, { url: '/metrics' })).body;
    expect(text).toMatch(/^custody_verify_rolling_progress_ratio 1$/m);
    expect(text).toMatch(/^custody_verify_rolling_last_pass_failures 2$/m);
    expect(text).toMatch(new RegExp(`^custody_verify_rolling_bytes_verified ${total}$`, 'm'));
  });

  it('re-hashes the catalog snapshots still kept, not those deleted', async () => {
    const r = await rig();
    await r.seed({ bytes: 1000 });
    const snapshot = async (bytes: Buffer) => {
      const put = await r.store.putContent(Readable.from([bytes]));
      r.catalog.tx(() =>
        r.catalog.ledger.append({
          type: 'catalog.snapshot-taken',
          actor: 'test',
          subject: null,
          data: { key: contentKey(put.sha256), sha256: put.sha256, size: put.size, ledgerSize: 1, schemaVersion: 1, reason: 'manual' },
        }),
      );
      return put;
    };
    const kept = await snapshot(Buffer.alloc(3000, 1));
    const deleted = await snapshot(Buffer.alloc(2000, 2));
    r.catalog.tx(() =>
      r.catalog.ledger.append({
        type: 'catalog.snapshot-deleted',
        actor: 'test',
        subject: null,
        data: { key: contentKey(deleted.sha256), sha256: deleted.sha256, ledgerSize: 1, takenAt: new Date(r.clock.t).toISOString(), rule: 'keep 7 daily, 4 weekly' },
      }),
    );
    const { v, reads } = verifier(r, { periodDays: 1, maxBytesPerSecond: 1e12 });
    const done = await v.runPass();
    expect(done).toMatchObject({ objectsDone: 2, bytesDone: 4000, failures: 0 });
    expect(reads).toContain(contentKey(kept.sha256));
    expect(reads).not.toContain(contentKey(deleted.sha256));
  });

  it('counts footage ingested during a pass, so the pass still ends within its period', async () => {
    const r = await rig();
    for (let i = 0; i < 10; i++) await r.seed({ bytes: 1000 });
    const startedAt = r.clock.t;
    let sleeps = 0;
    const v = new RollingVerifier({
      catalog: r.catalog,
      store: r.store,
      log: silentLogger,
      actor: 'custody:daemon',
      periodDays: 10,
      maxBytesPerSecond: 1e12,
      sleep: async (ms) => {
        r.clock.advance(ms);
        // A day's docks arrive while the pass runs: as much again as the vault held.
        if (++sleeps === 1) for (let i = 0; i < 10; i++) await r.seed({ bytes: 1000 });
      },
    });
    const done = await v.runPass();
    expect(done.failures).toBe(0);
    // Counted again after a day: the pace doubled, so the first ten took about 5 days, not 9.
    expect(done.bytesTotal).toBe(20_000);
    expect(done.bytesDone).toBeGreaterThanOrEqual(10_000);
    const elapsedDays = (r.clock.t - startedAt) / 86_400_000;
    expect(elapsedDays).toBeLessThan(((done.bytesDone - 1000) / 1000) * 0.5 + 1);
    expect(elapsedDays).toBeLessThanOrEqual(10);
  });

  it('tries an object the store cannot read again before ledgering it: an outage is not damage', async () => {
    const r = await rig();
    const a = await r.seed({ bytes: 1000 });
    const b = await r.seed({ bytes: 1000 });
    const failing = new Map([[contentKey(a.sha256), 2], [contentKey(b.sha256), Infinity]]);
    const store = Object.create(r.store) as typeof r.store;
    store.get = async (key, range) => {
      const left = failing.get(key) ?? 0;
      if (left > 0) {
        failing.set(key, left - 1);
        throw new Error('connect ECONNREFUSED');
      }
      return r.store.get(key, range);
    };
    const waits: number[] = [];
    const v = new RollingVerifier({
      catalog: r.catalog,
      store,
      log: silentLogger,
      actor: 'custody:daemon',
      periodDays: 1,
      maxBytesPerSecond: 1e12,
      retryDelaysMs: [60_000, 300_000, 900_000],
      sleep: async (ms) => {
        waits.push(ms);
        r.clock.advance(ms);
      },
    });
    const before = r.ledgerTypes().length;
    const done = await v.runPass();
    // a: read on its third try, no failure; b: never readable, ledgered after three retries.
    expect(done.failures).toBe(1);
    const failed = [...r.catalog.ledger.entries()].slice(before).filter((e) => e.type === 'vault.object-failed');
    expect(failed.map((e) => e.data)).toEqual([expect.objectContaining({ sha256: b.sha256, code: 'OBJECT_UNREADABLE' })]);
    expect(waits.filter((w) => [60_000, 300_000, 900_000].includes(w)).length).toBe(5);
  });

  it('never reads faster than its bound, even when the period asks for more', async () => {
    const r = await rig();
    for (let i = 0; i < 4; i++) await r.seed({ bytes: 1000 });
    const startedAt = r.clock.t;
    // 4000 bytes over 1 day would be 0.05 B/s; the bound says 0.01 B/s.
    const { v } = verifier(r, { periodDays: 1, maxBytesPerSecond: 0.01 });
    const done = await v.runPass();
    expect(done.failures).toBe(0);
    // At 0.01 B/s the first three objects alone take 300,000 s of schedule.
    expect(r.clock.t - startedAt).toBeGreaterThanOrEqual(300_000_000);
  });
});
