/**
 * Issue 17: the object store gone mid-ingest. The dock's session pauses with
 * VAULT_UNAVAILABLE (as a full vault pauses with VAULT_FULL) instead of failing every
 * file left and ending `complete`; the dock stays docked and says it is paused; when
 * the store answers again the dock runs a new session and finishes: every file once in
 * the bucket and the catalog, nothing wiped that was not stored.
 *
 * The store is a real S3-protocol server (s3rver) behind a forwarder of the test's that
 * resets every connection while the store is "gone".
 */
import { createHash } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import type { ActivityEvent } from '../../src/core/activity.js';
import { S3ObjectStore } from '../../src/vault/s3-store.js';
import { pausingDock } from '../helpers/dock-pause.js';
import { startS3rver, S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, type S3rver } from '../helpers/s3rver.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A TCP forwarder to `port` that, while `down`, resets every connection (the store is gone). */
async function forwarder(port: number): Promise<{ port: number; setDown(down: boolean): void; close(): Promise<void> }> {
  let down = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const up = connect(port, '127.0.0.1');
    sockets.add(client).add(up);
    client.pipe(up).pipe(client);
    for (const s of [client, up]) {
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
  });
  const local = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  return {
    port: local,
    setDown(d: boolean) {
      down = d;
      if (d) for (const s of sockets) s.resetAndDestroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

let s3: S3rver;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});

describe('the object store gone mid-ingest under the dock manager (issue 17)', () => {
  it('pauses the dock with VAULT_UNAVAILABLE, says so, and resumes when the store is back: each file once, nothing unstored wiped', async () => {
    const dir = await tempDir();
    const bucket = await s3.createBucket('dock-pause');
    const fwd = await forwarder(s3.port);
    const catalog = Catalog.open(join(dir, 'catalog.db'));
    const store = new S3ObjectStore({
      endpoint: `http://127.0.0.1:${fwd.port}`,
      region: 'us-east-1',
      bucket,
      prefix: 'vault/',
      profile: 's3rver',
      accessKeyId: S3RVER_ACCESS_KEY_ID,
      secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
      maxAttempts: 2,
    });
    let d: Awaited<ReturnType<typeof pausingDock>> | null = null;
    try {
      await store.init();
      d = await pausingDock({ catalog, store, dir, serial: 'ZFY009', clipBytes: 300_000 });
      const { manager, activity, events, files, pausedSeen, rows, onCard } = d;
      // The store goes away once the first file is committed.
      activity.subscribe((e) => {
        if (e.type === 'ingested' && events.filter((x) => x.type === 'ingested').length === 1) fwd.setDown(true);
      });
      const ended = d.dock();

      const p = await pausedSeen;
      expect(p.paused).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
      // The live state (GET /docks reads it) says paused, and the dock is not ended.
      expect(activity.docks().map((x) => x.dock.paused?.code)).toEqual(['VAULT_UNAVAILABLE']);
      expect(manager.active()).toHaveLength(1);
      // While paused: what is on the recorder is exactly what is not in the catalog,
      // and nothing is wiped that is not stored.
      const during = rows();
      expect(during.length).toBeGreaterThanOrEqual(1);
      expect(during.length).toBeLessThan(4);
      const left = await onCard();
      expect(left.length).toBeGreaterThan(0);
      for (const f of left) expect(during.find((r) => r.source_path === f && r.wiped_at !== null)).toBeUndefined();
      for (const f of Object.keys(files)) if (!left.includes(f)) expect(during.find((r) => r.source_path === f)?.wiped_at).toBeTruthy();

      fwd.setDown(false);
      const o = await ended;
      expect(o.report).toMatchObject({ status: 'complete', ingested: 4, failed: 0 });
      expect(await onCard()).toEqual([]);
      const after = rows();
      expect(after.map((r) => [r.source_path, r.sha256])).toEqual(Object.entries(files).map(([f, b]) => [f, sha(b)]).sort());
      expect(after.every((r) => r.wiped_at !== null)).toBe(true);
      const ledger = (type: string): number => catalog.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM ledger WHERE type = ?').get(type)!.n;
      expect(ledger('evidence.ingested')).toBe(4);
      expect(ledger('evidence.wiped')).toBe(4);
      // Each object once in the bucket, no temp upload left.
      const keys: string[] = [];
      for await (const obj of store.list('objects/')) keys.push(obj.key);
      expect(keys.sort()).toEqual(Object.values(files).map((b) => sha(b)).sort().map((h) => `objects/sha256/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`));
      // The dock row counts over its sessions, and the pause was lifted on the board.
      expect(catalog.db.prepare<[string], { session_status: string; files_ingested: number }>('SELECT session_status, files_ingested FROM docks WHERE id = ?').get(o.dockId)).toEqual({ session_status: 'complete', files_ingested: 4 });
      const lastDock = events.filter((e): e is Extract<ActivityEvent, { type: 'dock' }> => e.type === 'dock').pop()!;
      expect(lastDock.dock.paused ?? null).toBeNull();
    } finally {
      await d?.manager.stop(0);
      await store.close();
      catalog.close();
      await fwd.close();
    }
  }, 60_000);
});
