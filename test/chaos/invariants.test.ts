/**
 * Issue 17: the fault campaign's invariants checker passes a sound station and names
 * each kind of damage it is there to catch (so a campaign that passes means something).
 * Needs only the built CLI and a folder recorder.
 */
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeTree } from '../helpers/ingest-fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { checkInvariants, type Card } from './invariants.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function station(): Promise<{ home: string; card: Card }> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  expect((await runCli(['init', '--home', home])).code).toBe(0);
  const card: Card = { serial: 'CHK1', dir: join(dir, 'card'), files: new Map() };
  const files = await writeTree(card.dir, { 'DCIM/100MEDIA/CHK1_0001.MP4': 300_000, 'DCIM/100MEDIA/CHK1_0002.MP4': 200_000, 'DCIM/100MEDIA/CHK1_0003.MP4': 100_000 });
  for (const [p, b] of Object.entries(files)) card.files.set(p, sha(b));
  return { home, card };
}

async function ingest(home: string, card: Card, wipe: boolean): Promise<void> {
  const r = await runCli(['ingest', card.dir, '--home', home, '--serial', card.serial, '--no-follow-up', '--json', ...(wipe ? ['--wipe'] : [])]);
  expect(r.code).toBe(0);
}

describe('the campaign invariants checker (issue 17)', () => {
  it('passes a sound station, with and without its wipes', async () => {
    const { home, card } = await station();
    expect(await checkInvariants(home, [card], { final: false, wipe: true })).toMatchObject({ evidence: 0, onRecorders: 3 });
    await ingest(home, card, true);
    expect(await checkInvariants(home, [card], { final: true, wipe: true })).toEqual({ evidence: 3, wiped: 3, onRecorders: 0, openIntents: 0, resumed: 0 });
  });

  it('names a file that left the recorder with nothing committed, and work not finished', async () => {
    const { home, card } = await station();
    await unlink(join(card.dir, 'DCIM', '100MEDIA', 'CHK1_0002.MP4'));
    await expect(checkInvariants(home, [card], { final: false, wipe: true })).rejects.toThrow(/CHK1_0002.MP4 left the recorder with no evidence committed/);
    await expect(checkInvariants(home, [card], { final: true, wipe: true })).rejects.toThrow(/CHK1_0001.MP4 is still on the recorder after the run that should finish the work/);
  });

  it('names a partial object, a wipe with no entry, and a catalog that disagrees with the ledger', async () => {
    const { home, card } = await station();
    await ingest(home, card, false);
    await checkInvariants(home, [card], { final: true, wipe: false });
    // A temp copy published under a content name it does not hash to.
    const fake = 'ab'.repeat(32);
    await mkdir(join(home, 'vault', 'objects', 'sha256', 'ab', 'ab'), { recursive: true });
    await writeFile(join(home, 'vault', 'objects', 'sha256', 'ab', 'ab', fake), 'half a clip');
    await expect(checkInvariants(home, [card], { final: false, wipe: false })).rejects.toThrow(new RegExp(`object ${fake} holds bytes hashing to`));
    await rm(join(home, 'vault', 'objects', 'sha256', 'ab', 'ab', fake));

    // A file deleted from the recorder as if wiped, but only the catalog says so.
    const db = new Database(join(home, 'catalog.db'));
    db.prepare("UPDATE evidence SET wiped_at = '2026-12-02T00:00:00Z' WHERE source_path = 'DCIM/100MEDIA/CHK1_0003.MP4'").run();
    db.close();
    await unlink(join(card.dir, 'DCIM', '100MEDIA', 'CHK1_0003.MP4'));
    await expect(checkInvariants(home, [card], { final: false, wipe: false })).rejects.toThrow(
      /catalog wiped_at 2026-12-02T00:00:00Z but 0 evidence.wiped entries[\s\S]*CHK1_0003.MP4 left the recorder with no wipe entry or intent/,
    );

    // A catalog row edited behind the ledger's back.
    const db2 = new Database(join(home, 'catalog.db'));
    db2.prepare("UPDATE evidence SET size = 1 WHERE source_path = 'DCIM/100MEDIA/CHK1_0001.MP4'").run();
    db2.close();
    await expect(checkInvariants(home, [card], { final: false, wipe: false })).rejects.toThrow(/and its ledger entry disagree on sha256\/size/);
  });
});
