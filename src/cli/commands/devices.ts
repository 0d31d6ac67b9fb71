import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { DeviceRegistry, loadProfiles, udevRules, type DockRecord, type DeviceDetail, type DeviceSummary } from '../../devices/index.js';
import { globals, loadCliConfig, output, withRuntime } from '../context.js';
import { cliActor } from './ingest.js';

function gb(n: number | null): string {
  return n === null ? '?' : `${(n / 1e9).toFixed(1)} GB`;
}

function drift(ms: number | null): string {
  if (ms === null) return '?';
  const s = Math.round(ms / 1000);
  return `${s >= 0 ? '+' : ''}${s} s`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function verdictText(d: DockRecord | null): string {
  if (!d) return 'never docked';
  if (!d.verdict) return '?';
  return d.verdict === 'ready' ? 'ready' : `NOT READY (${d.reasons.join('; ')})`;
}

function listText(list: DeviceSummary[]): string {
  if (list.length === 0) return 'no recorders registered yet';
  const rows = list.map((d) => [d.serial, d.model ?? '?', d.officer ?? '?', d.unit ?? '?', d.status, d.lastDock?.dockedAt ?? '-', verdictText(d.lastDock)]);
  const head = ['serial', 'model', 'officer', 'unit', 'status', 'last dock', 'last verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n');
}

function dockLine(d: DockRecord): string {
  const session = d.sessionStatus === null ? 'session running' : `${d.sessionStatus}: ${d.filesIngested} ingested, ${d.filesFailed} failed, ${(d.bytesIngested / 1e6).toFixed(1)} MB`;
  return [
    `  ${d.dockedAt}  ${verdictText(d)}`,
    `      battery ${d.batteryPercent ?? '?'} %, free ${gb(d.storageFreeBytes)} of ${gb(d.storageTotalBytes)}, clock ${drift(d.clockDriftMs)}${d.clockSyncedAt ? ` (set ${d.clockSyncedAt})` : ''}`,

    `      ${session}; at ${d.location}${d.undockedAt ? `, undocked ${d.undockedAt}` : ''}`,
  ].join('\n');
}

function showText(d: DeviceDetail): string {
  return [
    `recorder ${d.serial}`,
    `  model:   ${d.model ?? '?'}`,
    `  officer: ${d.officer ?? '?'}    unit: ${d.unit ?? '?'}`,
    `  status:  ${d.status}${d.statusChangedAt ? ` since ${d.statusChangedAt}` : ''}${d.statusNote ? ` (${d.statusNote})` : ''}`,
    `  seen:    ${d.firstSeen} .. ${d.lastSeen}`,
    `  evidence: ${d.evidence.items} items, ${(d.evidence.bytes / 1e6).toFixed(1)} MB`,
    d.docks.length ? `docks (newest first):\n${d.docks.map(dockLine).join('\n')}` : 'no docks recorded',
  ].join('\n');
}

export async function devicesListCommand(_opts: unknown, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const list = new DeviceRegistry(rt.catalog).list();
    output(g, list, listText(list));
  });
}

export async function devicesShowCommand(serial: string, opts: { docks: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const n = Number(opts.docks);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--docks must be a positive whole number, got "${opts.docks}"`);
  await withRuntime(g, async (rt) => {
    const d = new DeviceRegistry(rt.catalog).show(serial, { docks: n });
    output(g, d, showText(d));
  });
}

export async function devicesSetStatusCommand(serial: string, status: string, opts: { note?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const r = new DeviceRegistry(rt.catalog).setStatus(serial, status, { actor: cliActor(), note: opts.note ?? null });
    output(g, r, r.changed ? `recorder ${serial} is now ${r.device.status}` : `recorder ${serial} already is ${r.device.status}; nothing changed`);
  });
}

export function devicesUdevRulesCommand(opts: { user: string; group: string; mountDir: string; profiles?: string }, cmd: Command): void {
  const g = globals(cmd);
  let file = opts.profiles ? resolve(opts.profiles) : undefined;
  if (!file) {
    const config = loadCliConfig(g);
    if (config.devices.profilesFile) file = resolve(config.home, config.devices.profilesFile);
  }
  process.stdout.write(udevRules(loadProfiles(file), { user: opts.user, group: opts.group, mountDir: opts.mountDir }));
}
