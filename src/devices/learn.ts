import { readFile, realpath, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { isMap, isSeq, parse as parseYaml, parseDocument, type Document } from 'yaml';
import { ConfigError, errorMessage, UsageError } from '../core/index.js';
import { BUNDLED_PROFILES_FILE, GAT947_DRIVER, parseProfiles, type RecorderProfile } from './profiles.js';

/** What a station operator says about a model it saw (`custody devices learn`). */
export interface LearnRequest {
  /** "vvvv:pppp" as `custody devices unknown` shows it. */
  usbId: string;
  model: string;
  /** gat947, or mass-storage (the folder driver on its mount). */
  driver: 'gat947' | 'mass-storage';
  /** k=v: dotted keys; a profile key (layout.mediaDirs, namePattern, identity, …) or, for gat947, a GA/T 947.4 parameter (commands.getTime, password.file, tcp.host, …). Values are YAML scalars or flow lists. */
  params: string[];
  /** Profile id; default from the model name. */
  id?: string;
  name?: string;
}

const PROFILE_KEYS = new Set(['name', 'model', 'layout', 'namePattern', 'status', 'identity', 'clockSync', 'unknownIsNotReady']);
const GENERIC_NAME_PATTERN = '^(?<serial>[A-Za-z0-9-]+)_(?<stamp>\\d{14})_(?<number>\\d{4})\\.';

function slug(model: string): string {
  return model
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    if (next === undefined) o[k] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new UsageError(`--param ${path.join('.')}: ${k} is not a group of settings`);
    o = o[k] as Record<string, unknown>;
  }
  o[path.at(-1)!] = value;
}

/** The profile a request describes (validated with the file it joins). */
export function profileFromRequest(req: LearnRequest, taken: ReadonlySet<string>): Record<string, unknown> {
  const usb = req.usbId.trim().toLowerCase();
  if (!/^[0-9a-f]{4}:[0-9a-f]{4}$/.test(usb)) throw new UsageError(`VID:PID must be "vvvv:pppp" in hex (as \`custody devices unknown\` shows it), got "${req.usbId}"`);
  if (!req.model.trim()) throw new UsageError('--model must name the model');
  let id = req.id ?? slug(req.model);
  if (!id || !/^[a-z0-9]/.test(id)) id = `usb-${usb.replace(':', '-')}`;
  if (taken.has(id)) {
    if (req.id) throw new UsageError(`a profile named ${id} already exists; choose another --id`);
    id = `${id}-${usb.replace(':', '-')}`;
  }
  const p: Record<string, unknown> = {
    id,
    name: req.name ?? `${req.model} (learned from USB ${usb})`,
    model: req.model.trim(),
    usb: [usb],
  };
  if (req.driver === 'gat947') {
    // The driver measures the drift before it sets the clock (SyncDevTime).
    Object.assign(p, { driver: GAT947_DRIVER, clockSync: true });
  } else {
    // Plain mass storage: the serial from the USB iSerial or the file names.
    Object.assign(p, { driver: 'folder', namePattern: GENERIC_NAME_PATTERN, status: { source: 'none' }, identity: ['usb-serial', 'file-name'], clockSync: false });
  }
  for (const kv of req.params) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param must be key=value, got "${kv}"`);
    const path = kv.slice(0, eq).trim().split('.');
    if (path.some((k) => !/^[A-Za-z][A-Za-z0-9]*$/.test(k))) throw new UsageError(`--param ${kv.slice(0, eq)}: not a setting name`);
    if (path[0] === 'id' || path[0] === 'usb' || path[0] === 'driver' || path[0] === 'gat947') throw new UsageError(`--param ${path.join('.')}: give it with the command's own arguments`);
    let value: unknown;
    try {
      value = parseYaml(kv.slice(eq + 1));
    } catch (e) {
      throw new UsageError(`--param ${kv}: ${errorMessage(e)}`);
    }
    if (path[0] === 'password' && typeof value === 'string' && path.length === 1) {
      throw new UsageError('--param password: give password.file=PATH or password.env=VARIABLE; the password itself never goes into the profiles file');
    }
    if (PROFILE_KEYS.has(path[0]!)) setPath(p, path, value);
    else if (req.driver === 'gat947') setPath(((p.gat947 ??= {}) as Record<string, unknown>), path, value);
    else throw new UsageError(`--param ${path.join('.')}: not a profile setting of a mass-storage model`);
  }
  return p;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const ra = await realpath(a).catch(() => a);
  const rb = await realpath(b).catch(() => b);
  return ra === rb;
}

/**
 * Add a learned model to the station's profiles file, keeping its comments; the
 * package's bundled file is never written. A file that does not exist yet starts as a
 * copy of the bundled one. The whole file is validated before it replaces the old
 * one (written beside it, then renamed): a bad parameter changes nothing.
 */
export async function learnModel(file: string, req: LearnRequest): Promise<{ profile: RecorderProfile; file: string; created: boolean }> {
  if (await sameFile(file, BUNDLED_PROFILES_FILE)) {
    throw new UsageError(`${file} is the profiles file shipped with custody; learn into the station's own (devices.profilesFile, e.g. /etc/custody/recorders.yaml)`);
  }
  let text: string;
  let created = false;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read recorder profiles ${file}: ${errorMessage(e)}`, [], { cause: e });
    text = await readFile(BUNDLED_PROFILES_FILE, 'utf8');
    created = true;
  }
  const before = parseProfiles(text, file);
  const usb = req.usbId.trim().toLowerCase();
  const owner = before.profiles.find((p) => p.usb.includes(usb));
  if (owner) throw new UsageError(`${usb} is already the model of profile ${owner.id} in ${file}`);
  const profile = profileFromRequest(req, new Set(before.profiles.map((p) => p.id)));

  const doc: Document = parseDocument(text);
  const list = doc.get('profiles');
  if (!isSeq(list)) throw new ConfigError(`${file} has no profiles list`);
  const node = doc.createNode(profile);
  if (isMap(node)) node.commentBefore = ` learned by custody devices learn, ${new Date().toISOString().slice(0, 10)}`;
  list.add(node);
  const out = doc.toString();
  const after = parseProfiles(out, file);
  const learned = after.get(profile.id as string)!;

  const tmp = join(dirname(file), `.${basename(file)}.learn.tmp`);
  await writeFile(tmp, out, { mode: 0o644 });
  await rename(tmp, file);
  return { profile: learned, file, created };
}
