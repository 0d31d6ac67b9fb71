import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../core/index.js';
import {
  BUNDLED_PROFILES_FILE,
  HEALTH_STATE_ZH,
  learnModel,
  loadProfiles,
  udevRules,
  type DockRecord,
  type DeviceDetail,
  type DeviceSummary,
  type SeenUsbDevice,
} from '../../devices/index.js';
import { globals, loadCliConfig, output, withRuntime } from '../context.js';

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
  // Docks of before migration 011 have the two-state verdict only.
  const state = d.healthState ?? d.verdict;
  if (!state) return '?';
  if (state === 'ready') return `ready (${HEALTH_STATE_ZH.ready})`;
  if (state === 'unchecked') {
    return `UNCHECKED (${HEALTH_STATE_ZH.unchecked}), counted as ${d.verdict === 'ready' ? 'ready' : 'not ready'} (${d.reasons.join('; ')})`;
  }
  return `NOT READY (${HEALTH_STATE_ZH['not-ready']}: ${d.reasons.join('; ')})`;
}

function listText(list: DeviceSummary[]): string {
  if (list.length === 0) return 'no recorders registered yet';
  const rows = list.map((d) => [d.serial, d.model ?? '?', d.officer ?? '?', d.unit ?? '?', d.status, d.lastDock?.dockedAt ?? '-', verdictText(d.lastDock)]);
  const head = ['serial', 'model', 'officer', 'unit', 'status', 'last dock', 'last verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n');
}

/** How the dock ended: when, and whether the recorder was pulled before its work was done. */
function undockText(d: DockRecord): string {
  if (!d.undockedAt) return '';
  const why = d.undockReason === 'custody-stopped' ? ' (custody stopped)' : d.pulled ? ` (PULLED before its ${d.sessionStatus === 'not-run' ? 'check was over' : 'session was done'}; the rest is taken at its next dock)` : '';
  return `, undocked ${d.undockedAt}${why}`;
}

function dockLine(d: DockRecord): string {
  const session = d.sessionStatus === null ? 'session running' : `${d.sessionStatus}: ${d.filesIngested} ingested, ${d.filesFailed} failed, ${(d.bytesIngested / 1e6).toFixed(1)} MB`;
  return [
    `  ${d.dockedAt}  ${verdictText(d)}`,
    `      battery ${d.batteryPercent ?? '?'} %, free ${gb(d.storageFreeBytes)} of ${gb(d.storageTotalBytes)}, clock ${drift(d.clockDriftMs)}${d.clockSyncedAt ? ` (set ${d.clockSyncedAt})` : ''}`,
    `      ${session}; at ${d.location}${undockText(d)}`,
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
    const list = (await rt.station.recorders()).registry.list();
    output(g, list, listText(list));
  });
}

export async function devicesShowCommand(serial: string, opts: { docks: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const n = Number(opts.docks);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--docks must be a positive whole number, got "${opts.docks}"`);
  await withRuntime(g, async (rt) => {
    const d = (await rt.station.recorders()).registry.show(serial, { docks: n });
    output(g, d, showText(d));
  });
}

export async function devicesSetStatusCommand(serial: string, status: string, opts: { note?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  await withRuntime(g, async (rt) => {
    const r = (await rt.station.recorders()).registry.setStatus(serial, status, { actor: rt.station.actor, note: opts.note ?? null });
    output(g, r, r.changed ? `recorder ${serial} is now ${r.device.status}` : `recorder ${serial} already is ${r.device.status}; nothing changed`);
  });
}

/** The station's profiles file: --profiles, else devices.profilesFile; undefined: the bundled one. */
function stationProfilesFile(g: ReturnType<typeof globals>, given: string | undefined): string | undefined {
  if (given) return resolve(given);
  const config = loadCliConfig(g);
  return config.devices.profilesFile ? resolve(config.home, config.devices.profilesFile) : undefined;
}

const CLASS_NAMES: Record<number, string> = { 1: 'audio', 2: 'comm', 3: 'HID', 6: 'image', 7: 'printer', 8: 'mass storage', 9: 'hub', 0x0a: 'data', 0x0e: 'video', 0xe0: 'wireless', 0xef: 'misc', 0xff: 'vendor' };

function unknownText(list: SeenUsbDevice[], source: string): string {
  if (list.length === 0) return `every USB device seen has a profile in ${source}`;
  const rows = list.map((d) => [
    d.usbId,
    d.manufacturer ?? '?',
    d.product ?? '?',
    d.serial ?? '-',
    d.interfaceClasses.map((c) => CLASS_NAMES[c] ?? `0x${c.toString(16).padStart(2, '0')}`).join(', ') || '?',
    d.lastSeen,
    String(d.timesSeen),
  ]);
  const head = ['VID:PID', 'manufacturer', 'product', 'serial', 'interfaces', 'last seen', 'times'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [
    [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n'),
    '',
    'A recorder is usually "mass storage" or "vendor". Learn it with:',
    '  custody devices learn VID:PID --model NAME --driver gat947|mass-storage [--param k=v ...]',
  ].join('\n');
}

export async function devicesUnknownCommand(opts: { profiles?: string }, cmd: Command): Promise<void> {
  const g = globals(cmd);
  const file = stationProfilesFile(g, opts.profiles);
  // A station file not written yet (no model learned): the bundled profiles are those in force.
  const profiles = loadProfiles(file && existsSync(file) ? file : undefined);
  await withRuntime(g, async (rt) => {
    const list = (await rt.station.recorders()).usbSeen.unknown(profiles);
    output(g, list, unknownText(list, profiles.source));
  });
}

export async function devicesLearnCommand(
  usbId: string,
  opts: { model: string; driver: string; param: string[]; id?: string; name?: string; profiles?: string },
  cmd: Command,
): Promise<void> {
  const g = globals(cmd);
  if (opts.driver !== 'gat947' && opts.driver !== 'mass-storage') throw new UsageError(`--driver must be gat947 or mass-storage, got "${opts.driver}"`);
  const file = stationProfilesFile(g, opts.profiles);
  if (!file) {
    throw new UsageError(
      `no station profiles file: set devices.profilesFile (scripts/install.sh uses /etc/custody/recorders.yaml) or give --profiles; ${BUNDLED_PROFILES_FILE} ships with custody and is never written`,
    );
  }
  const r = await learnModel(file, {
    usbId,
    model: opts.model,
    driver: opts.driver,
    params: opts.param,
    ...(opts.id ? { id: opts.id } : {}),
    ...(opts.name ? { name: opts.name } : {}),
  });
  output(
    g,
    { file: r.file, created: r.created, profile: r.profile },
    [
      `profile ${r.profile.id} (${r.profile.usb.join(', ')}, driver ${r.profile.driver}) added to ${r.file}${r.created ? ' (created from the bundled profiles)' : ''}`,
      'Next: custody devices udev-rules > /etc/udev/rules.d/70-custody-recorders.rules && udevadm control --reload,',
      'then restart the daemon so it reads the profile.',
    ].join('\n'),
  );
}

export function devicesUdevRulesCommand(opts: { user: string; group: string; mountDir: string; profiles?: string }, cmd: Command): void {
  const g = globals(cmd);
  const file = stationProfilesFile(g, opts.profiles);
  process.stdout.write(udevRules(loadProfiles(file), { user: opts.user, group: opts.group, mountDir: opts.mountDir }));
}
