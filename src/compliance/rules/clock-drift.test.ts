import { describe, expect, it } from 'vitest';
import { clockNotSetFinding, driftFinding } from './clock-drift.js';
import { SETTINGS, local } from './rule-fixtures.spec.js';

const dock = { id: 'd1', serial: 'ZFY001', docked_at: '2026-11-20T18:00:00.000Z', undocked_at: null, drift: -95_400, officer: '0417', unit: null };
const ctx = { settings: SETTINGS, local };

describe('rule clock-drift (issue 13)', () => {
  it('names the dock, its drift and the clips it ingested; the assigned officer first', () => {
    const f = driftFinding(dock, [{ id: 'e1', source_name: 'a.MP4' }], { officer: '0418', unit: 'U2' }, ctx);
    expect(f).toEqual({
      rule: 'clock-drift',
      key: 'clock-drift:d1',
      officer: '0418',
      recorderSerial: 'ZFY001',
      dockId: 'd1',
      unit: 'U2',
      seen: { driftMs: -95_400, toleranceSeconds: 60, dockedAt: dock.docked_at, clips: [{ id: 'e1', file: 'a.MP4' }], clipCount: 1 },
      summary: "recorder ZFY001's clock was -95 s off at the dock of local(2026-11-20T18:00:00.000Z) (tolerance 60 s); 1 clip(s) affected",
    });
  });

  it('falls back to the recorder\'s officer, and signs a clock ahead with +', () => {
    const f = driftFinding({ ...dock, drift: 120_000, unit: 'U1' }, [], null, ctx);
    expect(f).toMatchObject({ officer: '0417', unit: 'U1', seen: { clipCount: 0 } });
    expect(f.summary).toContain('+120 s off');
  });

  it('a clock that could not be set after a complete session', () => {
    const who = { officer: '0417', recorderSerial: 'ZFY001', dockId: 'd1', unit: 'U1' };
    expect(clockNotSetFinding({ id: 'd1', serial: 'ZFY001', docked_at: dock.docked_at, sync_error: 'GAT_NAK: refused', drift: 5000 }, who, local)).toEqual({
      rule: 'clock-drift',
      key: 'clock-drift:not-set:d1',
      ...who,
      seen: { dockedAt: dock.docked_at, driftMs: 5000, error: 'GAT_NAK: refused' },
      summary: "recorder ZFY001's clock could not be set after the dock of local(2026-11-20T18:00:00.000Z): GAT_NAK: refused",
    });
  });
});
