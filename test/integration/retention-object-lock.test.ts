import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityBus } from '../../src/core/activity.js';
import { silentLogger } from '../../src/core/logger.js';
import { CasesService, ObjectLockSync, objectLockerOf, PurgeService } from '../../src/retention/index.js';
import { S3ObjectStore, type S3StoreOptions } from '../../src/vault/s3-store.js';
import { apiRig, contentKey } from './api-fixtures.js';

/**
 * S3 Object Lock (issue 7), tested at the request level: s3rver ignores Object Lock, so
 * a loopback endpoint records exactly what custody's S3 adapter sends and answers as S3
 * does. Not tried against a real Object Lock bucket (AWS or MinIO) here.
 */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function fakeS3(versions: (key: string) => string = () => ''): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      seen.push({ method: req.method!, path: decodeURIComponent(url.pathname), query: url.searchParams, headers: req.headers, body });
      if (req.method === 'GET' && url.searchParams.has('versions')) {
        const prefix = url.searchParams.get('prefix')!;
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>${prefix}</Prefix><IsTruncated>false</IsTruncated>${versions(prefix)}</ListVersionsResult>`,
        );
        return;
      }
      res.writeHead(req.method === 'DELETE' ? 204 : 200);
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function store(endpoint: string, over: Partial<S3StoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    endpoint,
    region: 'us-east-1',
    bucket: 'b',
    forcePathStyle: true,
    profile: 'aws',
    accessKeyId: 'test',
    secretAccessKey: 'test-secret',
    maxAttempts: 1,
    objectLock: 'governance',
    ...over,
  });
}

const KEY = contentKey('a'.repeat(64));

describe('S3 Object Lock requests (issue 7)', () => {
  it('sets a retain-until date and legal holds with the configured mode', async () => {
    const s3 = await fakeS3();
    const st = store(s3.endpoint, { objectLock: 'compliance' });
    await st.retainUntil(KEY, new Date('2027-02-28T04:00:00.000Z'));
    await st.legalHold(KEY, true);
    await st.legalHold(KEY, false);
    expect(s3.seen.map((r) => [r.method, r.path, [...r.query.keys()]])).toEqual([
      ['PUT', `/b/${KEY}`, ['retention']],
      ['PUT', `/b/${KEY}`, ['legal-hold']],
      ['PUT', `/b/${KEY}`, ['legal-hold']],
    ]);
    expect(s3.seen[0]!.body).toContain('<Mode>COMPLIANCE</Mode>');
    expect(s3.seen[0]!.body).toContain('<RetainUntilDate>2027-02-28T04:00:00');
    expect(s3.seen[1]!.body).toContain('<Status>ON</Status>');
    expect(s3.seen[2]!.body).toContain('<Status>OFF</Status>');
    await st.close();
  });

  it('deletes every version and delete marker of exactly that key', async () => {
    const other = `${KEY}-other`;
    const s3 = await fakeS3(
      () =>
        `<Version><Key>${KEY}</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><Size>3</Size></Version>` +
        `<Version><Key>${KEY}</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><Size>3</Size></Version>` +
        `<Version><Key>${other}</Key><VersionId>x1</VersionId><IsLatest>true</IsLatest><Size>3</Size></Version>` +
        `<DeleteMarker><Key>${KEY}</Key><VersionId>m1</VersionId><IsLatest>false</IsLatest></DeleteMarker>`,
    );
    const st = store(s3.endpoint);
    await st.delete(KEY);
    expect(s3.seen.map((r) => [r.method, r.path, r.query.get('versionId')])).toEqual([
      ['GET', '/b/', null],
      ['DELETE', `/b/${KEY}`, 'v2'],
      ['DELETE', `/b/${KEY}`, 'v1'],
      ['DELETE', `/b/${KEY}`, 'm1'],
    ]);
    expect(s3.seen.some((r) => 'x-amz-bypass-governance-retention' in r.headers)).toBe(false);
    await st.close();
  });

  it('never sends Object Lock to a profile without it, and sends none when it is off', async () => {
    const s3 = await fakeS3();
    expect(() => store(s3.endpoint, { profile: 'swift' })).toThrow(expect.objectContaining({ code: 'VAULT_MISCONFIGURED' }));
    expect(() => store(s3.endpoint, { profile: 's3rver', objectLock: 'compliance' })).toThrow(expect.objectContaining({ code: 'VAULT_MISCONFIGURED' }));
    const off = store(s3.endpoint, { profile: 'swift', objectLock: 'off' });
    expect(objectLockerOf(off)).toBeNull();
    await off.retainUntil(KEY, new Date());
    await off.legalHold(KEY, true);
    await off.delete(KEY);
    // One plain delete: no versions listed, no retention or legal-hold request.
    expect(s3.seen.map((r) => [r.method, r.query.has('versionId') || r.query.has('versions') || r.query.has('retention') || r.query.has('legal-hold')])).toEqual([
      ['DELETE', false],
    ]);
    await off.close();
  });

  it('mirrors retention dates and holds onto objects, and the purge deletes explicit versions', async () => {
    const rig = await apiRig();
    const content = Buffer.from('one clip, two recorders');
    const a = await rig.seed({ bytes: content, serial: 'R1', recordedStart: '2026-08-31T04:00:00.000Z', ingestedAt: '2026-08-31T06:00:00.000Z' });
    const b = await rig.seed({ bytes: content, serial: 'R2', recordedStart: '2026-09-30T04:00:00.000Z', ingestedAt: '2026-09-30T06:00:00.000Z' });
    const s3 = await fakeS3((prefix) => `<Version><Key>${prefix}</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><Size>3</Size></Version>`);
    const st = store(s3.endpoint);
    const sync = new ObjectLockSync({ catalog: rig.catalog, locker: objectLockerOf(st)!, policy: { months: 6, minDaysAfterIngest: 30, timezone: 'Asia/Shanghai' }, log: silentLogger });
    const key = contentKey(a.sha256);

    // As the daemon does: an ingest on the activity bus sets the object's retention, kept
    // to the later of the two items' retention dates (30 Mar 2027).
    const bus = new ActivityBus();
    const follower = sync.follow(bus);
    bus.publish({ type: 'ingested', dockId: 'd1', serial: 'R1', evidenceId: a.id, sha256: a.sha256, size: content.length, path: 'DCIM/A.MP4' });
    await follower.stop();
    expect(s3.seen.map((r) => [r.method, r.path, [...r.query.keys()]])).toEqual([['PUT', `/b/${key}`, ['retention']]]);
    expect(s3.seen.at(-1)!.body).toContain('<RetainUntilDate>2027-03-30T04:00:00');
    bus.publish({ type: 'ingested', dockId: 'd1', serial: 'R2', evidenceId: b.id, sha256: b.sha256, size: content.length, path: 'DCIM/B.MP4' });
    expect(s3.seen).toHaveLength(1); // stopped: no longer listening

    const cases = new CasesService(rig.catalog);
    const c = cases.create({ number: 'C1', name: 'dispute' }, 'user:li');
    cases.link(c.id, [a.id], 'user:li');
    const h = cases.placeHold(c.id, { reason: 'dispute' }, 'user:li');
    await sync.holdsChanged(cases.evidenceOf(c.id));
    expect([s3.seen.at(-1)!.path, s3.seen.at(-1)!.body]).toEqual([`/b/${key}`, expect.stringContaining('<Status>ON</Status>')]);
    // b shares the content: its hold state is the object's too.
    await sync.holdsChanged([b.id]);
    expect(s3.seen.at(-1)!.body).toContain('<Status>ON</Status>');
    cases.requestRelease(h.id, 'closed', 'user:li');
    cases.approveRelease(h.id, 'user:wang');
    await sync.holdsChanged(cases.evidenceOf(c.id));
    expect(s3.seen.at(-1)!.body).toContain('<Status>OFF</Status>');

    // Both expire by the rig's clock + 200 days; the purge of the last one deletes every version.
    rig.clock.advance(200 * 86_400_000);
    s3.seen.length = 0;
    const purge = new PurgeService({
      catalog: rig.catalog,
      store: st,
      settings: { timezone: 'Asia/Shanghai', months: 6, minDaysAfterIngest: 30, noticeDays: 0, maxPurgeFraction: 1, maxClockJumpDays: 3650 },
      log: silentLogger,
      verify: async () => ({ ok: true, problems: [] }),
    });
    expect(await purge.execute({ actor: 'test' })).toMatchObject({ status: 'completed', purged: 2 });
    expect(s3.seen.filter((r) => r.method === 'DELETE').map((r) => [r.path, r.query.get('versionId')])).toEqual([[`/b/${key}`, 'v1']]);
    await st.close();
    await rig.close();
  });
});
