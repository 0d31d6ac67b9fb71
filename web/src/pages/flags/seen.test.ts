/**
 * Issue 19: each rule's flag is said in Chinese from its figures. Every finding shape
 * the rules write (src/compliance/rules) gets a sentence with words in both locale
 * files and every parameter filled; figures that are not what a rule writes fall back
 * to the daemon's summary.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FLAG_RULES } from '../../../../src/compliance/flags.js';
import { type FlagLike, seenOf } from './seen.js';

const zh = JSON.parse(await readFile(new URL('../../locales/zh-CN.json', import.meta.url), 'utf8')) as { flags: { seen: Record<string, string> } };
const en = JSON.parse(await readFile(new URL('../../locales/en.json', import.meta.url), 'utf8')) as { flags: { seen: Record<string, string> } };

const base = { officer: '100001', recorderSerial: 'ZFY001', summary: 'as sent' };
const flag = (rule: string, seen: Record<string, unknown>): FlagLike => ({ ...base, rule, seen });

/** The seen figures each rule writes, one per kind (as in src/compliance/rules/*.ts). */
const SHAPES: Array<[string, FlagLike, RegExp]> = [
  ['late-upload, one file', flag('late-upload', { session: 's', delayHours: 30.25, recordedEnd: '2026-11-20T08:10:00.000Z', ingestedAt: 'x', deadlineHours: 24, file: 'a.MP4', fileCount: 1, files: [{ id: 'e', file: 'a.MP4', recordedEnd: 'x', delayHours: 30.25 }] }), /a\.MP4 在录制结束 30\.3 小时后才上传，超过 24 小时/],
  ['late-upload, several', flag('late-upload', { session: 's', delayHours: 48, recordedEnd: 'x', ingestedAt: 'x', deadlineHours: 24, file: 'a.MP4', fileCount: 3, files: [{ file: 'a.MP4' }, { file: 'b.MP4' }, { file: 'c.MP4' }] }), /3 个文件逾期上传，最长在录制结束 48 小时后（a\.MP4、b\.MP4、c\.MP4）/],
  ['late-upload, more than listed', flag('late-upload', { delayHours: 48, deadlineHours: 24, file: 'a.MP4', fileCount: 5, files: [{ file: 'a.MP4' }, { file: 'b.MP4' }, { file: 'c.MP4' }, { file: 'd.MP4' }] }), /（a\.MP4、b\.MP4、c\.MP4…）/],
  ['missing-upload, no footage', flag('missing-upload', { kind: 'no-footage', startsAt: '2026-11-20T00:00:00.000Z', endsAt: '2026-11-20T10:00:00.000Z', deadline: 'x', deadlineHours: 24 }), /2026-11-20 08:00 至 2026-11-20 18:00/],
  ['missing-upload, not docked', flag('missing-upload', { kind: 'not-docked', startsAt: '2026-11-20T00:00:00.000Z', endsAt: '2026-11-20T10:00:00.000Z', deadline: 'x', deadlineHours: 24, everDocked: true }), /未接入采集站。$/],
  ['missing-upload, never docked', flag('missing-upload', { kind: 'not-docked', startsAt: '2026-11-20T00:00:00.000Z', endsAt: '2026-11-20T10:00:00.000Z', deadline: 'x', deadlineHours: 24, everDocked: false }), /且从未接入过/],
  ['sequence-gap', flag('sequence-gap', { kind: 'gap', after: 'F0001.MP4', before: 'F0004.MP4', missing: ['0002', '0003'], missingCount: 2 }), /缺少 2 个编号：0002、0003/],
  ['sequence-gap, many', flag('sequence-gap', { kind: 'gap', after: 'F0001.MP4', before: 'F0100.MP4', missing: ['0002', '0003'], missingCount: 98 }), /缺少 98 个编号：0002、0003…/],
  ['sequence-gap, renamed', flag('sequence-gap', { kind: 'numbering-reset', reason: 'prefix', after: 'A0009.MP4', before: 'B0001.MP4', prefixBefore: 'A', prefixAfter: 'B' }), /文件命名在 A0009\.MP4 与 B0001\.MP4 之间发生变化/],
  ['sequence-gap, jump', flag('sequence-gap', { kind: 'numbering-reset', reason: 'jump', after: 'F0009.MP4', before: 'F5000.MP4', from: '0009', to: '5000', maxJump: 1000 }), /从 0009 跳到 5000/],
  ['recording-gap', flag('recording-gap', { from: '2026-11-20T00:20:00.000Z', to: '2026-11-20T01:00:00.000Z', minutes: 40, maxGapMinutes: 30, after: 'a', before: 'b' }), /共 40 分钟没有录像（上限 30 分钟）/],
  ['clock-drift, slow', flag('clock-drift', { driftMs: -95_400, toleranceSeconds: 60, dockedAt: '2026-11-20T10:00:00.000Z', clips: [], clipCount: 1 }), /设备时间慢 95 秒，超出 ±60 秒，涉及 1 个文件/],
  ['clock-drift, fast', flag('clock-drift', { driftMs: 120_000, toleranceSeconds: 60, dockedAt: '2026-11-20T10:00:00.000Z', clips: [], clipCount: 0 }), /设备时间快 120 秒/],
  ['clock-drift, not set', flag('clock-drift', { dockedAt: '2026-11-20T10:00:00.000Z', driftMs: 5000, error: 'GAT_NAK: refused' }), /未能校准设备时间：GAT_NAK: refused/],
  ['repair-overdue', flag('repair-overdue', { reportedAt: '2026-11-20T02:00:00.000Z', deadline: 'x', deadlineHours: 24, note: null }), /于 2026-11-20 10:00 报修，24 小时内未送信息中心维修/],
  ['repair-overdue, note', flag('repair-overdue', { reportedAt: '2026-11-20T02:00:00.000Z', deadline: 'x', deadlineHours: 24, note: '屏幕碎裂' }), /（屏幕碎裂）/],
  ['attribution-conflict, file', flag('attribution-conflict', { recorderReports: '0417', assignedTo: '0418', recordedAt: '2026-11-20T00:00:00.000Z', file: 'a.MP4' }), /登记的执法人员为 0417，但 2026-11-20 08:00 该记录仪的领用人为 0418/],
  ['attribution-conflict, dock', flag('attribution-conflict', { dockedAt: '2026-11-20T10:00:00.000Z', recorderReports: 'ZFY001', conflicts: [{ source: 'usb-serial', value: 'ZFY009' }] }), /自报编号 ZFY001，但设备序列号为 ZFY009/],
];

const zhSource = (c: string): string => ({ 'usb-serial': '设备序列号为', 'file-name': '文件名显示为', 'status-file': '状态文件显示为' })[c] ?? c;
/** As the console writes times (format.ts): the bureau's zone, 24-hour clock. */
const time = (iso: string): string => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
const fmt = { time, source: zhSource };

function say(table: Record<string, string>, f: FlagLike): string | null {
  const s = seenOf(f, fmt);
  if (!s) return null;
  const text = table[s.key];
  if (text === undefined) throw new Error(`no words for flags.seen.${s.key}`);
  return text.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in s.params)) throw new Error(`flags.seen.${s.key} needs {${k}}`);
    return String(s.params[k]);
  });
}

describe('what a flag saw, in words (issue 19)', () => {
  it.each(SHAPES)('%s', (_name, f, zhText) => {
    expect(say(zh.flags.seen, f)).toMatch(zhText);
    // English has the same sentence, with every parameter it names.
    expect(say(en.flags.seen, f)).toEqual(expect.any(String));
  });

  it('covers every rule the compliance engine has', () => {
    expect(new Set(SHAPES.map(([, f]) => f.rule))).toEqual(new Set(FLAG_RULES));
  });

  it('falls back to the summary when the figures are not what the rule writes', () => {
    expect(seenOf(flag('late-upload', { delayHours: 'a lot' }), fmt)).toBeNull();
    expect(seenOf(flag('sequence-gap', { kind: 'something-new', after: 'a', before: 'b' }), fmt)).toBeNull();
    expect(seenOf(flag('a-rule-from-later', {}), fmt)).toBeNull();
    expect(seenOf({ ...flag('clock-drift', {}), seen: null as unknown as Record<string, unknown> }, fmt)).toBeNull();
  });
});
