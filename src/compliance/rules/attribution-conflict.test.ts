import { describe, expect, it } from 'vitest';
import { conflictFinding, dockConflictFinding } from './attribution-conflict.js';
import { attributeTo, ev, local } from './rule-fixtures.spec.js';

describe('rule attribution-conflict (issue 13)', () => {
  it('raises nothing when the recorder reported no officer, when no one was assigned, or the one assigned', () => {
    expect(conflictFinding(ev('a', { officer: null }), { local, attribute: attributeTo('0418') })).toBeNull();
    expect(conflictFinding(ev('a'), { local, attribute: attributeTo(null) })).toBeNull();
    expect(conflictFinding(ev('a'), { local, attribute: attributeTo('0417') })).toBeNull();
  });

  it('names the assigned officer when the recorder reported another', () => {
    expect(conflictFinding(ev('a'), { local, attribute: attributeTo('0418') })).toEqual({
      rule: 'attribution-conflict',
      key: 'attribution-conflict:a',
      officer: '0418',
      recorderSerial: 'ZFY001',
      evidenceId: 'a',
      assignmentId: 'a-0418',
      unit: 'U1',
      seen: { recorderReports: '0417', assignedTo: '0418', recordedAt: '2026-11-20T08:00:00.000Z', file: 'a.MP4' },
      summary: 'a.MP4: recorder ZFY001 reports officer 0417, but it was assigned to officer 0418 at local(2026-11-20T08:00:00.000Z)',
    });
  });

  it('a dock where the recorder named itself otherwise than its files or USB serial did', () => {
    const who = { officer: '0417', recorderSerial: 'ZFY001', dockId: 'd1', unit: 'U1' };
    const f = dockConflictFinding(
      { id: 'd1', serial: 'ZFY001', docked_at: '2026-11-20T18:00:00.000Z', conflicts: JSON.stringify([{ source: 'usb-serial', value: 'ZFY009' }, { source: 'files', value: 'ZFY002' }]) },
      who,
      local,
    );
    expect(f).toMatchObject({ rule: 'attribution-conflict', key: 'attribution-conflict:dock:d1', dockId: 'd1', seen: { recorderReports: 'ZFY001', conflicts: [{ source: 'usb-serial', value: 'ZFY009' }, { source: 'files', value: 'ZFY002' }] } });
    expect(f.summary).toBe('recorder ZFY001 reported itself as ZFY001 at the dock of local(2026-11-20T18:00:00.000Z), but its usb-serial says ZFY009 and its files says ZFY002');
  });
});
