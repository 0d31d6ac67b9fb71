import { describe, expect, it } from 'vitest';
import { ComplianceScanner, RosterError, type Flag } from '../../src/compliance/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { tempDir } from '../helpers/tmp.js';
import { complianceRig } from './compliance-fixtures.js';

const H = 3_600_000;

// Issue 6: compliance flags for late and missing uploads, recording gaps, clock drift
// and overdue repairs; times in Asia/Shanghai (UTC+8, no DST).
describe('assignments and the duty roster (issue 6)', () => {
  it('adds, ends and lists assignments in local time; refuses overlaps; ledgers each change', async () => {
    const rig = complianceRig(await tempDir());
    const a = rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: '执法一科', recorder: 'ZFY001', start: '2026-11-20 08:00' }, 'cli:test');
    expect(a.created).toBe(true);
    expect(a.assignment).toMatchObject({ officer: '0417', officerName: 'Li Wei', unit: '执法一科', startsAt: '2026-11-20T00:00:00.000Z', endsAt: null });
    expect(() => rig.c.assignments.add({ officer: '0418', name: 'Wang', recorder: 'ZFY001', start: '2026-11-20 12:00' }, 'cli:test')).toThrow(/already assigned to officer 0417/);
    expect(() => rig.c.assignments.add({ officer: '0999', recorder: 'ZFY002', start: '2026-11-20 12:00' }, 'cli:test')).toThrow(/not registered/);
    const ended = rig.c.assignments.end(a.assignment.id, 'cli:test', '2026-11-20T18:00:00+08:00');
    expect(ended.endsAt).toBe('2026-11-20T10:00:00.000Z');
    expect(() => rig.c.assignments.end(a.assignment.id, 'cli:test')).toThrow(/already ended/);
    // Same shift again: nothing new.
    expect(rig.c.assignments.add({ officer: '0417', recorder: 'ZFY001', start: '2026-11-20 08:00', end: '2026-11-20 18:00' }, 'cli:test').created).toBe(false);
    expect(rig.c.assignments.list({ unit: '执法一科' })).toHaveLength(1);
    expect(rig.c.assignments.coveringAt('ZFY001', '2026-11-20T09:59:59.999Z')?.officer).toBe('0417');
    expect(rig.c.assignments.coveringAt('ZFY001', '2026-11-20T10:00:00.000Z')).toBeNull();
    expect(rig.ledgerTypes()).toEqual(['officer.registered', 'assignment.created', 'assignment.ended']);
    rig.catalog.close();
  });

  it('imports a roster with a BOM and quoted fields, and again without creating anything twice', async () => {
    const rig = complianceRig(await tempDir());
    const csv =
      '\uFEFFofficer,name,unit,recorder,start,end\r\n' +
      '0417,"Li, Wei",执法一科,ZFY001,2026-11-30 22:00,2026-12-01 06:00\r\n' +
      '\r\n' +
      '0418,Wang Fang,执法二科,ZFY002,2026-11-30T08:00:00+08:00,2026-11-30T18:00:00+08:00\r\n';
    expect(rig.c.assignments.importCsv(csv, 'cli:test')).toMatchObject({ created: 2, unchanged: 0 });
    expect(rig.c.assignments.officer('0417')?.name).toBe('Li, Wei');
    // Across midnight and a month end, local time.
    expect(rig.c.assignments.list({ officer: '0417' })[0]).toMatchObject({ startsAt: '2026-11-30T14:00:00.000Z', endsAt: '2026-11-30T22:00:00.000Z' });
    expect(rig.c.assignments.importCsv(csv.replace('\uFEFF', ''), 'cli:test')).toMatchObject({ created: 0, unchanged: 2 });
    rig.catalog.close();
  });

  it('reports every bad line of a roster and imports nothing of it', async () => {
    const rig = complianceRig(await tempDir());
    const before = rig.ledgerTypes().length;
    const csv = [
      'officer,name,unit,recorder,start,end',
      '0417,Li Wei,U1,ZFY001,2026-11-20 08:00,2026-11-20 18:00', // fine
      '0418,,U1,ZFY002,2026-11-20 08:00,2026-11-20 18:00', // no name
      '0419,Zhao,U1,ZFY003,2026-11-20 25:00,', // bad hour
      '0420,Sun,U1,ZFY001,2026-11-20 17:00,2026-11-20 20:00', // overlaps line 2
      '0421,Qian,U1,ZFY004,2026-11-20 18:00,2026-11-20 08:00', // end before start
      '0422,Zhou,U1', // too few fields
      '0423,"Wu,U1,ZFY005,2026-11-20 08:00,', // unclosed quote
    ].join('\n');
    let err: unknown;
    try {
      rig.c.assignments.importCsv(csv, 'cli:test');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RosterError);
    expect((err as RosterError).problems.map((p) => p.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect((err as RosterError).message).toMatch(/line 5: recorder ZFY001 overlaps line 2/);
    expect(rig.c.assignments.list()).toEqual([]);
    expect(rig.c.assignments.officers()).toEqual([]);
    expect(rig.ledgerTypes().length).toBe(before);
    expect(() => rig.c.assignments.importCsv('officer,name,recorder\n', 'x')).toThrow(/line 1: missing column "start"/);
    rig.catalog.close();
  });
});

describe('compliance rules (issue 6)', () => {
  it('late-upload: exactly 24 h after the recorded end is on time, a millisecond more is late, across a month end in Asia/Shanghai', async () => {
    const rig = complianceRig(await tempDir());
    // Recorded until 23:30 local on 30 November (15:30 UTC).
    const onTime = rig.clip({ serial: 'R1', name: 'R1_20261130230000_0001.MP4', start: '2026-11-30T15:00:00.000Z', end: '2026-11-30T15:30:00.000Z', ingestedAt: '2026-12-01T15:30:00.000Z' });
    const late = rig.clip({ serial: 'R1', name: 'R1_20261130233000_0002.MP4', start: '2026-11-30T15:30:00.000Z', end: '2026-11-30T16:00:00.000Z', ingestedAt: '2026-12-01T16:00:00.001Z' });
    // At ingest only attribution is checked; lateness is judged for the session (issue 13).
    expect(rig.c.rules.checkEvidence(onTime)).toEqual([]);
    expect(rig.c.rules.checkEvidence(late)).toEqual([]);
    const flags = rig.c.rules.checkSession('s');
    expect(flags).toHaveLength(1);
    const flag = flags[0]!;
    expect(flag).toMatchObject({ rule: 'late-upload', evidenceId: late, recorderSerial: 'R1', state: 'open' });
    expect(flag.seen).toMatchObject({ fileCount: 1, files: [{ id: late, file: 'R1_20261130233000_0002.MP4' }] });
    expect(flag.summary).toMatch(/2026-12-01 00:00:00 \+08:00/);
    expect(rig.c.rules.checkSession('s')).toEqual([]);
    // The scan finds the same finding: nothing twice.
    expect(rig.c.rules.scan().raised).toEqual([]);
    rig.catalog.close();
  });

  it('an old clip arriving today is late; a recorder 8 hours off is judged by its corrected time and flagged for drift', async () => {
    const rig = complianceRig(await tempDir());
    const now = '2026-12-05T00:00:00.000Z';
    const old = rig.clip({ serial: 'R2', name: 'R2_20261125100000_0001.MP4', start: '2026-11-25T02:00:00.000Z', end: '2026-11-25T02:10:00.000Z', ingestedAt: now });
    // The recorder's clock was set to UTC instead of local time: it reads 8 h behind.
    const dockId = rig.dock('R3', '2026-12-04T23:00:00.000Z', -8 * H, '2026-12-04T23:30:00.000Z');
    const skewed = rig.clip({
      serial: 'R3',
      name: 'R3_20261204060000_0001.MP4',
      start: '2026-12-04T06:00:00.000Z',
      end: '2026-12-04T06:10:00.000Z',
      startCorrected: '2026-12-04T14:00:00.000Z',
      endCorrected: '2026-12-04T14:10:00.000Z',
      driftMs: -8 * H,
      ingestedAt: '2026-12-04T23:10:00.000Z',
    });
    const { raised } = rig.c.rules.scan();
    const byRule = (r: string): Flag[] => raised.filter((f) => f.rule === r);
    expect(byRule('late-upload').map((f) => f.evidenceId)).toEqual([old]);
    expect(byRule('late-upload')[0]!.seen).toMatchObject({ delayHours: 237.83, deadlineHours: 24 });
    expect(byRule('clock-drift')).toHaveLength(1);
    expect(byRule('clock-drift')[0]).toMatchObject({ dockId, recorderSerial: 'R3' });
    expect(byRule('clock-drift')[0]!.seen).toMatchObject({ driftMs: -8 * H, clipCount: 1, clips: [{ id: skewed, file: 'R3_20261204060000_0001.MP4' }] });
    // Flags are published for the event stream, with unit and serial.
    expect(rig.events.filter((e) => e.type === 'flag').map((e) => (e.type === 'flag' ? e.flag.serial : null))).toEqual(['R2', 'R3']);
    expect(rig.c.rules.scan().raised).toEqual([]);
    rig.catalog.close();
  });

  it('missing-upload: a shift with no footage and a recorder never docked, only once the deadline has passed', async () => {
    const rig = complianceRig(await tempDir());
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'NEVER', start: '2026-12-03 08:00', end: '2026-12-03 18:00' }, 'x');
    // Ended 2026-12-03T10:00Z; the deadline is 2026-12-04T10:00Z.
    rig.clock.t = Date.parse('2026-12-04T10:00:00.000Z');
    expect(rig.c.rules.missingUploads()).toEqual([]);
    rig.clock.advance(1);
    const flags = rig.c.rules.missingUploads();
    expect(flags.map((f) => f.seen.kind).sort()).toEqual(['no-footage', 'not-docked']);
    expect(flags.find((f) => f.seen.kind === 'not-docked')!.summary).toMatch(/never been docked/);
    expect(flags.every((f) => f.officer === '0417' && f.unit === 'U1')).toBe(true);
    expect(rig.c.rules.missingUploads()).toEqual([]);
    rig.catalog.close();
  });

  it('missing-upload: footage recorded in the shift and a dock in time raise nothing', async () => {
    const rig = complianceRig(await tempDir());
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'R1', start: '2026-12-03 08:00', end: '2026-12-03 18:00' }, 'x');
    rig.dock('R1', '2026-12-03T11:00:00.000Z');
    rig.clip({ serial: 'R1', name: 'R1_0001.MP4', start: '2026-12-03T01:00:00.000Z', end: '2026-12-03T01:10:00.000Z', ingestedAt: '2026-12-03T11:05:00.000Z' });
    expect(rig.c.rules.missingUploads()).toEqual([]);
    rig.catalog.close();
  });

  it('sequence-gap names the missing file numbers, across the wrap at 9999', async () => {
    const rig = complianceRig(await tempDir());
    const t = (m: number) => new Date(Date.parse('2026-12-04T00:00:00.000Z') + m * 60_000).toISOString();
    for (const [i, n] of ['9998', '9999', '0002', '0003', '0006'].entries()) {
      rig.clip({ serial: 'R1', name: `R1_20261204080000_${n}.MP4`, start: t(i * 10), end: t(i * 10 + 5), ingestedAt: t(100) });
    }
    const flags = rig.c.rules.sequenceGaps();
    expect(flags.map((f) => f.seen.missing)).toEqual([['0000', '0001'], ['0004', '0005']]);
    expect(flags[1]!.summary).toMatch(/skipped file numbers 0004, 0005 between R1_20261204080000_0003.MP4 and R1_20261204080000_0006.MP4/);
    expect(rig.c.rules.sequenceGaps()).toEqual([]);
    rig.catalog.close();
  });

  it('sequence-gap waits for a running session to end: a file still being committed is no gap, one that never came is (issue 17)', async () => {
    const rig = complianceRig(await tempDir());
    const t = (m: number) => new Date(Date.parse('2026-12-04T00:00:00.000Z') + m * 60_000).toISOString();
    const clip = (serial: string, n: string, i: number) => rig.clip({ serial, name: `${serial}_20261204080000_${n}.MP4`, start: t(i * 10), end: t(i * 10 + 5), ingestedAt: t(100) });
    // R1 and R2 are both docked, their sessions running; files commit several at once, not in number order.
    const docks = ['R1', 'R2'].map((serial) => {
      const id = rig.dock(serial, t(90));
      rig.catalog.db.prepare('UPDATE docks SET session_status = NULL WHERE id = ?').run(id);
      return id;
    });
    clip('R1', '0001', 0);
    clip('R1', '0003', 2);
    clip('R2', '0001', 0);
    clip('R2', '0003', 2);
    // A scan meanwhile (another recorder undocked) judges neither.
    expect(rig.c.rules.scan().raised.filter((f) => f.rule === 'sequence-gap')).toEqual([]);
    // R1's 0002 comes, then both sessions end; R2's 0002 never came.
    clip('R1', '0002', 1);
    for (const id of docks) rig.catalog.db.prepare("UPDATE docks SET session_status = 'complete', undocked_at = ? WHERE id = ?").run(t(95), id);
    const raised = rig.c.rules.scan().raised.filter((f) => f.rule === 'sequence-gap');
    expect(raised.map((f) => [f.recorderSerial, f.seen.missing])).toEqual([['R2', ['0002']]]);
    expect(rig.c.rules.scan().raised).toEqual([]);
    rig.catalog.close();
  });

  it('recording-gap within a shift, judged once the recorder was docked after it; attribution conflicts', async () => {
    const rig = complianceRig(await tempDir(), { maxGapMinutes: 30 });
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'R1', start: '2026-12-04 08:00', end: '2026-12-04 12:00' }, 'x');
    const c = (name: string, s: string, e: string, officer = '0417') =>
      rig.clip({ serial: 'R1', name, start: s, end: e, ingestedAt: '2026-12-04T05:00:00.000Z', officer, unit: 'U1' });
    c('a.MP4', '2026-12-04T00:10:00.000Z', '2026-12-04T00:20:00.000Z');
    c('b.MP4', '2026-12-04T00:50:00.000Z', '2026-12-04T01:00:00.000Z'); // exactly 30 min: fine
    const d = c('c.MP4', '2026-12-04T01:30:00.001Z', '2026-12-04T01:40:00.000Z', '0555'); // 30 min + 1 ms
    rig.clock.t = Date.parse('2026-12-04T04:30:00.000Z');
    expect(rig.c.rules.recordingGaps()).toEqual([]); // shift ended, recorder not docked since
    rig.dock('R1', '2026-12-04T04:40:00.000Z');
    const gaps = rig.c.rules.recordingGaps();
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ rule: 'recording-gap', officer: '0417', evidenceId: d });
    expect(gaps[0]!.seen).toMatchObject({ after: 'b.MP4', before: 'c.MP4', minutes: 30 });
    const conflicts = rig.c.rules.attributionConflicts();
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]!.seen).toMatchObject({ recorderReports: '0555', assignedTo: '0417' });
    rig.catalog.close();
  });

  it('attributes footage from a recorder that reported no officer to the officer who had it then, ledgered, never overwriting a reported one', async () => {
    const rig = complianceRig(await tempDir());
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'R9', start: '2026-12-04 08:00', end: '2026-12-04 12:00' }, 'x');
    const inShift = rig.clip({ serial: 'R9', name: 'a.MP4', start: '2026-12-04T01:00:00.000Z', end: '2026-12-04T01:10:00.000Z', ingestedAt: '2026-12-04T05:00:00.000Z' });
    const outside = rig.clip({ serial: 'R9', name: 'b.MP4', start: '2026-12-04T05:00:00.000Z', end: '2026-12-04T05:10:00.000Z', ingestedAt: '2026-12-04T06:00:00.000Z' });
    const reported = rig.clip({ serial: 'R9', name: 'c.MP4', start: '2026-12-04T02:00:00.000Z', end: '2026-12-04T02:10:00.000Z', ingestedAt: '2026-12-04T05:00:00.000Z', officer: '0555', unit: 'U2' });
    rig.c.rules.checkEvidence(inShift);
    const row = (id: string) => rig.catalog.db.prepare<[string], { officer: string | null; unit: string | null }>('SELECT officer, unit FROM evidence WHERE id = ?').get(id);
    expect(row(inShift)).toEqual({ officer: '0417', unit: 'U1' });
    expect(row(outside)).toEqual({ officer: null, unit: null });
    expect(row(reported)).toEqual({ officer: '0555', unit: 'U2' });
    const attributed = [...rig.catalog.ledger.entries()].filter((e) => e.type === 'evidence.attributed');
    expect(attributed).toEqual([expect.objectContaining({ subject: inShift, data: expect.objectContaining({ officer: '0417', unit: 'U1', source: 'assignment' }) })]);
    // A later scan attributes nothing twice.
    rig.c.rules.scan({ full: true });
    expect([...rig.catalog.ledger.entries()].filter((e) => e.type === 'evidence.attributed')).toHaveLength(1);
    rig.catalog.close();
  });

  it('repair-overdue: reported damaged and not handed in within 24 h', async () => {
    const rig = complianceRig(await tempDir());
    rig.dock('R9', '2026-12-01T00:00:00.000Z');
    rig.catalog.db.prepare("UPDATE recorders SET status = 'reported-damaged', status_changed_at = '2026-12-04T00:00:00.000Z' WHERE serial = 'R9'").run();
    rig.clock.t = Date.parse('2026-12-05T00:00:00.000Z');
    expect(rig.c.rules.repairOverdue()).toEqual([]);
    rig.clock.advance(1);
    expect(rig.c.rules.repairOverdue().map((f) => f.recorderSerial)).toEqual(['R9']);
    expect(rig.c.rules.repairOverdue()).toEqual([]);
    rig.catalog.close();
  });
});

describe('resolving flags (issue 6)', () => {
  it('needs a written reason and a supervisor or admin who is not the subject; ledgered; overdue flags escalate', async () => {
    const rig = complianceRig(await tempDir(), { resolveWithinHours: 48 });
    const officerUser = rig.user('Li Wei', 'supervisor', 'U1');
    const leader = rig.user('Chief', 'supervisor', 'U1');
    const other = rig.user('Other', 'supervisor', 'U2');
    const operator = rig.user('Op', 'operator', null);
    rig.c.assignments.add({ officer: '0417', name: 'Li Wei', unit: 'U1', recorder: 'R1', start: '2026-12-01 08:00', end: '2026-12-01 18:00' }, 'x');
    rig.c.assignments.upsertOfficer({ number: '0417', name: 'Li Wei', unit: 'U1', userId: officerUser }, 'x');
    const [flag] = rig.c.rules.missingUploads().filter((f) => f.seen.kind === 'no-footage');
    const approver = (id: string) => {
      const u = rig.catalog.db.prepare<[string], { id: string; role: string; unit: string | null }>('SELECT id, role, unit FROM users WHERE id = ?').get(id)!;
      return { ...u, revoked: false };
    };
    const resolve = (id: string, reason: string) => rig.c.flags.resolve(flag!.id, { reason, approver: approver(id), actor: `user:${id}` });
    expect(() => resolve(leader, '   ')).toThrow(/written reason/);
    expect(() => resolve(officerUser, 'I forgot')).toThrow(/may not approve/);
    expect(() => resolve(operator, 'x')).toThrow(/supervisor or admin/);
    expect(() => resolve(other, 'x')).toThrow(/not found/);

    rig.clock.advance(48 * H + 1);
    expect(rig.c.rules.scan().escalated.map((f) => f.id)).toContain(flag!.id);
    const done = resolve(leader, 'recorder battery failed at 08:10; work record 2026-117 filed');
    expect(done).toMatchObject({ state: 'resolved', approvedBy: leader, resolution: 'recorder battery failed at 08:10; work record 2026-117 filed' });
    expect(() => resolve(leader, 'again')).toThrow(/already resolved/);
    const types = rig.ledgerTypes();
    expect(types.filter((t) => t.startsWith('flag.'))).toEqual(['flag.raised', 'flag.raised', 'flag.escalated', 'flag.escalated', 'flag.resolved']);
    expect(rig.c.flags.list({ state: 'unresolved' })).toHaveLength(1);
    rig.catalog.close();
  });
});

describe('the daemon part (issue 6)', () => {
  it('checks each ingested item, scans after an undock, and stops listening when stopped', async () => {
    const rig = complianceRig(await tempDir());
    const scanner = new ComplianceScanner({ rules: rig.c.rules, activity: rig.activity, log: silentLogger, intervalMinutes: 0 });
    scanner.start();
    await scanner.idle();
    const late = rig.clip({ serial: 'R1', name: 'R1_0001.MP4', start: '2026-12-01T00:00:00.000Z', end: '2026-12-01T00:10:00.000Z', ingestedAt: '2026-12-04T00:00:00.000Z' });
    rig.activity.publish({ type: 'ingested', dockId: 'd', serial: 'R1', evidenceId: late, sha256: 'a'.repeat(64), size: 1, path: 'R1_0001.MP4' });
    await scanner.idle();
    // Checked at ingest (attribution); lateness is judged for the whole dock once its session ends (issue 13).
    expect(rig.c.flags.list()).toEqual([]);

    rig.clip({ serial: 'R1', name: 'R1_0004.MP4', start: '2026-12-04T00:00:00.000Z', end: '2026-12-04T00:10:00.000Z', ingestedAt: '2026-12-04T01:00:00.000Z' });
    rig.activity.publish({ type: 'undock', dockId: 'd', serial: 'R1', status: 'complete', ingested: 1, failed: 0, bytes: 1 });
    await scanner.idle();
    expect(rig.c.flags.list({ rule: 'late-upload' }).map((f) => [f.evidenceId, f.seen.fileCount])).toEqual([[late, 1]]);
    expect(rig.c.flags.list({ rule: 'sequence-gap' })[0]!.seen).toMatchObject({ missing: ['0002', '0003'] });

    await scanner.stop();
    rig.clip({ serial: 'R1', name: 'R1_0009.MP4', start: '2026-12-04T01:00:00.000Z', end: '2026-12-04T01:10:00.000Z', ingestedAt: '2026-12-04T02:00:00.000Z' });
    rig.activity.publish({ type: 'undock', dockId: 'd', serial: 'R1', status: 'complete', ingested: 1, failed: 0, bytes: 1 });
    await scanner.idle();
    expect(rig.c.flags.list({ rule: 'sequence-gap' })).toHaveLength(1);
    rig.catalog.close();
  });
});

describe('incremental scans (issue 6)', () => {
  it('look only at what changed, yet find a conflict or a missing upload that a roster entered afterwards reveals', async () => {
    const rig = complianceRig(await tempDir());
    const clip = rig.clip({ serial: 'R1', name: 'R1_0001.MP4', start: '2026-11-01T01:00:00.000Z', end: '2026-11-01T01:10:00.000Z', ingestedAt: '2026-11-01T02:00:00.000Z', officer: '0999' });
    rig.dock('R1', '2026-11-01T01:50:00.000Z');
    expect(rig.c.rules.scan().raised).toEqual([]);
    expect(rig.catalog.getMeta('compliance.scan.evidence-rowid')).toBe('1');
    // A month later the roster for 1 November is entered: 0417 had R1, and R2 was never handed in.
    rig.c.assignments.importCsv(
      'officer,name,unit,recorder,start,end\n0417,Li Wei,U1,R1,2026-11-01 08:00,2026-11-01 18:00\n0418,Wang,U1,R2,2026-11-01 08:00,2026-11-01 18:00\n',
      'x',
    );
    const raised = rig.c.rules.scan().raised;
    expect(raised.map((f) => `${f.rule}:${f.evidenceId ?? f.recorderSerial}`).sort()).toEqual([
      `attribution-conflict:${clip}`,
      'missing-upload:R2',
      'missing-upload:R2',
    ]);
    expect(rig.c.rules.scan().raised).toEqual([]);
    expect(rig.c.rules.scan({ full: true }).raised).toEqual([]);
    rig.catalog.close();
  });
});
