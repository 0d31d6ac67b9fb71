import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog, EvidenceRepo } from '../catalog/index.js';
import '../ledger/index.js';
import { registerRecorder } from './recorders.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function catalog(): Catalog {
  const dir = mkdtempSync(join(tmpdir(), 'custody-recorders-'));
  dirs.push(dir);
  return Catalog.open(join(dir, 'catalog.db'), { clock: { now: () => new Date('2026-11-27T06:00:00.000Z') } });
}

describe('registerRecorder: one place for the recorder row and recorder.registered (issue 13)', () => {
  it('registers a new recorder once, with its entry, and refreshes it afterwards without another entry', () => {
    const c = catalog();
    const repo = new EvidenceRepo(c.db);
    const first = c.tx(() => registerRecorder(c, repo, { serial: 'SN1', model: 'DSJ-T1', officer: '0417', unit: 'U1' }, 'custody:daemon', '2026-11-27T06:00:00.000Z'));
    const again = c.tx(() => registerRecorder(c, repo, { serial: 'SN1', model: null, officer: '0418', unit: null }, 'ingest', '2026-11-27T07:00:00.000Z'));
    expect([first, again]).toEqual([true, false]);
    expect(c.ledger.head()?.seq).toBe(1);
    expect(c.ledger.get(1)).toMatchObject({
      type: 'recorder.registered',
      actor: 'custody:daemon',
      subject: 'SN1',
      data: { serial: 'SN1', model: 'DSJ-T1', officer: '0417', unit: 'U1' },
    });
    // The refresh keeps what it does not know and takes what it does.
    expect(c.db.prepare('SELECT model, officer, unit, first_seen, last_seen FROM recorders WHERE serial = ?').get('SN1')).toEqual({
      model: 'DSJ-T1',
      officer: '0418',
      unit: 'U1',
      first_seen: '2026-11-27T06:00:00.000Z',
      last_seen: '2026-11-27T07:00:00.000Z',
    });
    c.close();
  });

  it('writes nothing when the transaction rolls back: the row and its entry go together', () => {
    const c = catalog();
    const repo = new EvidenceRepo(c.db);
    expect(() =>
      c.tx(() => {
        registerRecorder(c, repo, { serial: 'SN2', model: null, officer: null, unit: null }, 'ingest', '2026-11-27T06:00:00.000Z');
        throw new Error('the caller failed');
      }),
    ).toThrow('the caller failed');
    expect(c.db.prepare('SELECT count(*) AS n FROM recorders').get()).toEqual({ n: 0 });
    expect(c.ledger.head()).toBeNull();
    c.close();
  });
});
