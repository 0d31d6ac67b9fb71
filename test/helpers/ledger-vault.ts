import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { onTestFinished } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { FsObjectStore } from '../../src/vault/index.js';
import type { LedgerEntry } from '../../src/ledger/index.js';

/** A catalog and fs vault in a fresh temp folder, removed when the test finishes. */
export interface TestVault {
  dir: string;
  home: string;
  catalogFile: string;
  catalog: Catalog;
  store: FsObjectStore;
  /** Close and open the catalog again (e.g. after deleting its file). */
  reopen(): Catalog;
}

/** A clock that moves on 1 ms per reading, so entry times are distinct and repeatable. */
export function steppingClock(start = '2026-11-27T06:00:00.000Z'): { now(): Date } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t++) };
}

export async function testVault(prefix = 'custody-ledger-'): Promise<TestVault> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const home = join(dir, 'home');
  const catalogFile = join(home, 'catalog.db');
  const clock = steppingClock();
  const store = new FsObjectStore({ root: join(home, 'vault'), fsync: false });
  await store.init();
  const v: TestVault = {
    dir,
    home,
    catalogFile,
    catalog: Catalog.open(catalogFile, { clock }),
    store,
    reopen() {
      v.catalog.close();
      v.catalog = Catalog.open(catalogFile, { clock });
      return v.catalog;
    },
  };
  onTestFinished(async () => {
    v.catalog.close();
    await rm(dir, { recursive: true, force: true });
  });
  return v;
}

/** Append n plain entries in one transaction. */
export function appendEntries(catalog: Catalog, n: number, type = 'evidence.wiped'): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  catalog.tx(() => {
    for (let i = 0; i < n; i++) out.push(catalog.ledger.append({ type, actor: 'test', subject: `s-${i}`, data: { i, note: '执法记录仪' } }));
  });
  return out;
}

/** Put content in the vault and append its evidence.ingested entry (what ingest would do). */
export async function ingest(
  v: { catalog: Catalog; store: FsObjectStore },
  content: string | Buffer,
  subject = 'ev-1',
): Promise<{ entry: LedgerEntry; sha256: string; size: number; key: string }> {
  const put = await v.store.putContent(Readable.from([Buffer.from(content)]));
  const entry = v.catalog.ledger.append({ type: 'evidence.ingested', actor: 'test', subject, data: { sha256: put.sha256, size: put.size } });
  return { entry, sha256: put.sha256, size: put.size, key: put.key };
}

/** Drop the append-only triggers, as an attacker holding the database file could. */
export function dropLedgerTriggers(catalog: Catalog): void {
  catalog.db.exec('DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;');
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, dest), lines };
}

/** A writable that collects everything written to it. */
export function collect(highWaterMark?: number): { out: Writable; text(): string } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    ...(highWaterMark !== undefined ? { highWaterMark } : {}),
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      // Drain on a later turn, so a writer that ignores backpressure would pile up.
      setImmediate(cb);
    },
  });
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}
