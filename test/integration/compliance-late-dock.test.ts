import { describe, expect, it } from 'vitest';
import { EvidenceQueries } from '../../src/api/queries/evidence.js';
import { tempDir } from '../helpers/tmp.js';
import { complianceRig, type ComplianceRig } from './compliance-fixtures.js';

/** A clip of a given session (the fixture's clips are all of session "s"). */
function clipIn(rig: ComplianceRig, session: string, seed: Parameters<ComplianceRig['clip']>[0]): string {
  const id = rig.clip(seed);
  rig.catalog.db.prepare('UPDATE evidence SET session_id = ? WHERE id = ?').run(session, id);
  return id;
}

const t = (day: number, hour: number) => new Date(Date.UTC(2026, 11, day, hour)).toISOString();

/** How many late-upload flags name each item. */
function lateFlagsPerItem(rig: ComplianceRig): Map<string, number> {
  const rows = rig.catalog.db
    .prepare<[], { evidence_id: string; n: number }>(
      "SELECT fe.evidence_id, count(*) AS n FROM flag_evidence fe JOIN flags f ON f.id = fe.flag_id WHERE f.rule = 'late-upload' GROUP BY fe.evidence_id",
    )
    .all();
  return new Map(rows.map((r) => [r.evidence_id, r.n]));
}

describe('one late dock, one late-upload flag (issue 13)', () => {
  it('raises one flag per recorder and session that names and lists every late file, and nothing twice', async () => {
    const rig = complianceRig(await tempDir());
    // Five clips recorded on 1 December, docked on the 4th: one late dock.
    const late = [0, 1, 2, 3, 4].map((i) =>
      clipIn(rig, 'dock-1', { serial: 'R1', name: `R1_2026120108${i}000_000${i + 1}.MP4`, start: t(1, i), end: t(1, i + 1), ingestedAt: t(4, 2) }),
    );
    // In the same dock, a clip recorded yesterday evening: on time, not named.
    const onTime = clipIn(rig, 'dock-1', { serial: 'R1', name: 'R1_20261203200000_0006.MP4', start: t(3, 12), end: t(3, 13), ingestedAt: t(4, 2) });
    // Another recorder docked late at the same time: its own flag.
    const other = clipIn(rig, 'dock-2', { serial: 'R2', name: 'R2_20261201080000_0001.MP4', start: t(1, 0), end: t(1, 1), ingestedAt: t(4, 2) });

    const { raised } = rig.c.rules.scan();
    const flags = raised.filter((f) => f.rule === 'late-upload');
    expect(flags.map((f) => [f.recorderSerial, f.seen.fileCount])).toEqual([
      ['R1', 5],
      ['R2', 1],
    ]);
    const r1 = flags[0]!;
    expect(r1.evidenceId).toBe(late[0]);
    expect((r1.seen.files as Array<{ id: string }>).map((f) => f.id)).toEqual(late);
    expect(r1.seen).toMatchObject({ session: 'dock-1', deadlineHours: 24, delayHours: 73 });
    expect(r1.summary).toMatch(/^5 files from R1 were handed in late in one dock, up to 73 h after recording ended/);
    // The ledger holds the flag with its files.
    const entry = rig.catalog.db.prepare<[string], { data: string }>("SELECT data FROM ledger WHERE type = 'flag.raised' AND subject = ?").get(r1.id)!;
    expect((JSON.parse(entry.data) as { seen: { files: Array<{ id: string }> } }).seen.files.map((f) => f.id)).toEqual(late);

    // The search by flag and the flags of an item find every file the flag names.
    const q = new EvidenceQueries(rig.catalog.db);
    const found = q.search(null, { flag: 'late-upload', time: 'ingested' }, null, 100).map((e) => e.id);
    expect(found.sort()).toEqual([...late, other].sort());
    expect(q.flags(late[3]!).map((f) => f.id)).toEqual([r1.id]);
    expect(q.flags(onTime)).toEqual([]);

    // Scanning again, incrementally or in full, raises nothing.
    expect(rig.c.rules.scan().raised).toEqual([]);
    expect(rig.c.rules.scan({ full: true }).raised).toEqual([]);
    expect(rig.c.rules.checkSession('dock-1')).toEqual([]);
    rig.catalog.close();
  });

  it('a session that holds two officers\' shifts gives each officer a flag; a scan during a session leaves no file unflagged or flagged twice', async () => {
    const rig = complianceRig(await tempDir());
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'R1', start: '2026-12-01 08:00', end: '2026-12-01 12:00' }, 'x');
    rig.c.assignments.add({ officer: '0418', name: 'Wang Fang', unit: 'U1', recorder: 'R1', start: '2026-12-01 13:00', end: '2026-12-01 17:00' }, 'x');
    // 09:00 and 14:00 local on 1 December.
    const morning = clipIn(rig, 'dock-1', { serial: 'R1', name: 'R1_20261201090000_0001.MP4', start: t(1, 1), end: t(1, 2), ingestedAt: t(4, 0) });
    const afternoon = clipIn(rig, 'dock-1', { serial: 'R1', name: 'R1_20261201140000_0002.MP4', start: t(1, 6), end: t(1, 7), ingestedAt: t(4, 0) });
    const first = rig.c.rules.checkSession('dock-1');
    expect(first.map((f) => [f.rule, f.officer, f.evidenceId])).toEqual([
      ['late-upload', '0417', morning],
      ['late-upload', '0418', afternoon],
    ]);

    // More of the same session arrives after a scan already ran: its own flag, only for what is new.
    const more = clipIn(rig, 'dock-1', { serial: 'R1', name: 'R1_20261201150000_0003.MP4', start: t(1, 7), end: t(1, 8), ingestedAt: t(4, 1) });
    const second = rig.c.rules.scan().raised.filter((f) => f.rule === 'late-upload');
    expect(second.map((f) => [f.officer, f.seen.fileCount, f.evidenceId])).toEqual([['0418', 1, more]]);
    expect([...lateFlagsPerItem(rig).entries()].sort()).toEqual([
      [afternoon, 1],
      [more, 1],
      [morning, 1],
    ].sort());
    rig.catalog.close();
  });

  it('lists at most 200 files by name but names them all', async () => {
    const rig = complianceRig(await tempDir());
    const ids: string[] = [];
    for (let i = 0; i < 205; i++) {
      ids.push(clipIn(rig, 'big', { serial: 'R1', name: `R1_20261201080000_${String(i + 1).padStart(4, '0')}.JPG`, start: t(1, 0), end: t(1, 0), ingestedAt: t(4, 0), type: 'photo' }));
    }
    const [flag, ...rest] = rig.c.rules.checkSession('big');
    expect(rest).toEqual([]);
    expect(flag!.seen.fileCount).toBe(205);
    expect(flag!.seen.files).toHaveLength(200);
    expect(lateFlagsPerItem(rig).size).toBe(205);
    rig.catalog.close();
  });
});

describe('file-number jumps and new prefixes are numbering resets, not gaps (issue 13)', () => {
  const at = (m: number) => new Date(Date.parse('2026-12-04T00:00:00.000Z') + m * 60_000).toISOString();

  it('a counter that starts again at 0001 is one reset, not 9,997 missing files', async () => {
    const rig = complianceRig(await tempDir());
    for (const [i, n] of ['0001', '0002', '0003', '0001', '0002', '0004'].entries()) {
      rig.clip({ serial: 'R1', name: `R1_20261204080000_${n}.MP4`, start: at(i * 10), end: at(i * 10 + 5), ingestedAt: at(100) });
    }
    const flags = rig.c.rules.sequenceGaps();
    expect(flags.map((f) => f.seen.kind)).toEqual(['numbering-reset', 'gap']);
    expect(flags[0]!.seen).toMatchObject({ reason: 'jump', from: '0003', to: '0001', maxJump: 1000 });
    expect(flags[0]!.seen).not.toHaveProperty('missingCount');
    expect(flags[0]!.summary).toMatch(/file numbers went from 0003 to 0001 .*a numbering reset, not counted as missing files/);
    expect(flags[1]!.seen).toMatchObject({ missing: ['0003'], missingCount: 1 });
    expect(rig.c.rules.sequenceGaps()).toEqual([]);
    rig.catalog.close();
  });

  it('a forward jump beyond compliance.maxFileNumberJump is a reset; within it, a gap that lists the numbers', async () => {
    const jumpy = complianceRig(await tempDir());
    for (const [i, n] of ['0010', '5000'].entries()) jumpy.clip({ serial: 'R1', name: `R1_${n}.MP4`, start: at(i), end: at(i), ingestedAt: at(100) });
    expect(jumpy.c.rules.sequenceGaps().map((f) => [f.seen.kind, f.seen.reason])).toEqual([['numbering-reset', 'jump']]);
    jumpy.catalog.close();

    const wide = complianceRig(await tempDir(), { maxFileNumberJump: 5000 });
    for (const [i, n] of ['0010', '5000'].entries()) wide.clip({ serial: 'R1', name: `R1_${n}.MP4`, start: at(i), end: at(i), ingestedAt: at(100) });
    const [gap] = wide.c.rules.sequenceGaps();
    expect(gap!.seen).toMatchObject({ kind: 'gap', missingCount: 4989 });
    expect(gap!.seen.missing).toHaveLength(200);
    wide.catalog.close();
  });

  it('a new file-name prefix of the same recorder is a reset, whatever the numbers', async () => {
    const rig = complianceRig(await tempDir());
    rig.clip({ serial: 'R1', name: 'ZFY001_20261204080000_0003.MP4', start: at(0), end: at(5), ingestedAt: at(100) });
    rig.clip({ serial: 'R1', name: 'DSJ_20261204081000_0007.MP4', start: at(10), end: at(15), ingestedAt: at(100) });
    rig.clip({ serial: 'R1', name: 'DSJ_20261204082000_0008.MP4', start: at(20), end: at(25), ingestedAt: at(100) });
    const flags = rig.c.rules.sequenceGaps();
    expect(flags).toHaveLength(1);
    expect(flags[0]!.seen).toMatchObject({ kind: 'numbering-reset', reason: 'prefix', after: 'ZFY001_20261204080000_0003.MP4', before: 'DSJ_20261204081000_0007.MP4' });
    rig.catalog.close();
  });
});
