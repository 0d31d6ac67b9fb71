import { CustodyError, type ErrorCode, isCustodyError, type Logger } from '../core/index.js';
import type { IdentityConflict, RecorderDriver, RecorderHealth, RecorderIdentity } from './driver.js';
import { estimateDriftFromNewestFile, withEstimate } from './clock-estimate.js';
import { FolderDriver } from './folder-driver.js';
import { Gat947Driver } from './gat947/driver.js';
import { Gat947Error } from './gat947/errors.js';
import type { Gat947Link } from './gat947/link.js';
import { gat947ParamsSchema, readPassword } from './gat947/params.js';
import { TcpLink } from './gat947/tcp-link.js';
import { UsbLink } from './gat947/usb-link.js';
import type { UsbDeviceFinder } from './gat947/usb-port.js';
import { GAT947_DRIVER, type RecorderProfile } from './profiles.js';
import type { UsbDeviceInfo } from './sysfs.js';
import { findUsbDevice } from './usb-adapter.js';

/** What a driver is told about the recorder it is to serve. */
export interface DriverContext {
  /** The mount point or drop-folder entry (absolute). */
  location: string;
  profile: RecorderProfile;
  /** The USB device behind the mount, when it could be found. */
  usb: UsbDeviceInfo | null;
  /**
   * What a GA/T 947.4 recorder said over USB before this mount (UsbPreDock), taken by
   * the dock manager; undefined: the registry takes it from its own `readings`.
   */
  prior?: PriorReading | null;
}

export type DriverFactory = (ctx: DriverContext) => RecorderDriver;

/**
 * The folder driver as a model profile configures it: status file, media folders,
 * where the serial may come from, and whether the clock can be set.
 */
export function folderDriverFor(ctx: DriverContext, opts: { creationTimeOf?: (localPath: string) => Promise<Date | null> } = {}): FolderDriver {
  const p = ctx.profile;
  const usbSerial = p.identity.includes('usb-serial') ? (ctx.usb?.serial ?? undefined) : undefined;
  // No status file: nothing reads the clock, so the drift is estimated from the newest file.
  const Driver = p.status.source === 'none' ? clocklessFolderDriver(opts.creationTimeOf) : FolderDriver;
  return new Driver({
    root: ctx.location,
    statusFile: p.status.source === 'status-file' && p.identity.includes('status-file') ? p.status.file : null,
    fallbackIdentity: {
      ...(usbSerial ? { serial: usbSerial } : {}),
      ...(p.model ? { model: p.model } : {}),
    },
    ...(p.identity.includes('file-name') && p.namePattern ? { serialFromNames: new RegExp(p.namePattern, 'u') } : {}),
    mediaDirs: p.layout.mediaDirs,
    clockSync: p.clockSync,
  });
}

/** A failure kept to be reported later (a reading taken before the dock). */
export interface Fault {
  code: ErrorCode;
  message: string;
}

/**
 * What a GA/T 947.4 recorder said over USB before its storage was mounted (see
 * UsbPreDock), handed to the dock of that mount by its USB port.
 */
export interface PriorReading {
  identity: RecorderIdentity | null;
  identifyError: Fault | null;
  health: RecorderHealth | null;
  healthError: Fault | null;
  /** The USB port path (sysfs kernel name, e.g. "1-2.4"). */
  port?: string;
  /** When SyncDevTime set the clock before the mount (the drift in `health` is from before), or why it could not. */
  clockSetTo?: Date | null;
  clockError?: Fault | null;
  /** Whether SetMSDC switched it to mass storage, and when; or why not. */
  msdc?: boolean;
  msdcAt?: Date | null;
  msdcError?: Fault | null;
  readAt?: Date;
  /** Set when no storage of it was mounted (a `usb` dock candidate): why (dock-steps.ts notMountedReason). */
  notMounted?: string | null;
}

export interface PriorReadings {
  take(usb: UsbDeviceInfo | null): PriorReading | null;
}

/**
 * The folder driver for a recorder whose clock nothing reads (plain mass storage, a
 * drop folder without a status file): health as the folder driver reads it, the drift
 * estimated from the newest file (a lower bound, with its workings).
 */
function clocklessFolderDriver(creationTimeOf?: (localPath: string) => Promise<Date | null>): typeof FolderDriver {
  return class ClocklessFolderDriver extends FolderDriver {
    override async health(): Promise<RecorderHealth> {
      const h = await super.health();
      if (h.clockDriftMs !== null) return h;
      return withEstimate(h, await estimateDriftFromNewestFile(this, new Date(), creationTimeOf));
    }
  };
}

/** What the GA/T 947.4 driver needs from the station (the composition root gives it). */
export interface Gat947Environment {
  /** The zone of the recorder's wall clock (SyncDevTime sends host local time); default: the host's zone. */
  zone?: string;
  /** Where a profile's `password: { env }` is looked up; default: the process environment, read when a driver is made. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Finds the recorder's USB device; default: libusb through usb-adapter.ts. */
  findUsbDevice?: UsbDeviceFinder;
  /** The creation time in a media file's header, for the drift estimate. */
  creationTimeOf?: (localPath: string) => Promise<Date | null>;
  log?: Logger;
  now?: () => Date;
}

/** Why a GA/T 947.4 USB recorder met with its storage mounted was not asked (the dock's DEVICE_NOT_ASKED reason). */
export const NOT_ASKED_MOUNTED =
  'not asked over USB: its storage was already mounted when custody met it, and asking would detach usb-storage under the mounted file system; it is asked before the mount when it is next plugged in while custody runs';

/**
 * The GA/T 947.4 driver for a profile with `driver: gat947`: the calls over USB (the
 * recorder's USB device, found by bus and address) or TCP (the profile's address),
 * files through the folder driver on the mount.
 *
 * Over USB the calls need the mass-storage interface without the kernel's driver;
 * `talkOverUsb` false (a recorder whose storage is mounted now) keeps them off it,
 * since detaching usb-storage would pull the filesystem from under the mount: the
 * driver then reads no battery or clock, and the verdict says "unchecked".
 */
export function gat947DriverFor(ctx: DriverContext, envx: Gat947Environment = {}, opts: { talkOverUsb?: boolean; prior?: PriorReading | null } = {}): Gat947Driver {
  const p = ctx.profile;
  const params = p.gat947 ?? gat947ParamsSchema.parse({});
  const log = envx.log?.child({ module: 'gat947', profile: p.id });
  const zone = envx.zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const files = new FolderDriver({ root: ctx.location, statusFile: null, mediaDirs: p.layout.mediaDirs });
  const byNames = p.namePattern ? new FolderDriver({ root: ctx.location, statusFile: null, mediaDirs: p.layout.mediaDirs, serialFromNames: new RegExp(p.namePattern, 'u') }) : null;
  const usb = ctx.usb;
  const canTalk = params.transport === 'tcp' || (opts.talkOverUsb ?? true);
  const openLink = async (): Promise<Gat947Link> => {
    const password = await readPassword(params, envx.env ?? process.env);
    if (params.transport === 'tcp') return TcpLink.open(params, password);
    if (!usb || usb.busNumber === null || usb.deviceAddress === null) throw new Gat947Error('GAT947_CONNECT_FAILED', 'no USB device is known for this recorder');
    let dev;
    try {
      dev = await (envx.findUsbDevice ?? findUsbDevice)(usb.busNumber, usb.deviceAddress);
    } catch (e) {
      throw new Gat947Error('GAT947_CONNECT_FAILED', `USB is not available: ${isCustodyError(e) ? e.code : String(e)}`, { cause: e });
    }
    if (!dev) throw new Gat947Error('GAT947_DEVICE_GONE', `no USB device at bus ${usb.busNumber} address ${usb.deviceAddress}`);
    return UsbLink.open(dev, params, password, log ?? null);
  };
  return new Gat947Driver({
    location: ctx.location,
    params,
    model: p.model ?? null,
    openLink: canTalk && !opts.prior ? openLink : null,
    notAsked: NOT_ASKED_MOUNTED,
    clockSync: p.clockSync,
    fallbackIdentify: () => folderDriverFor(ctx).identify(),
    ...(opts.prior ? { prior: opts.prior } : {}),
    files,
    zone,
    otherSerials: async () => {
      const out: Array<{ source: IdentityConflict['source']; serial: string }> = [];
      if (usb?.serial) out.push({ source: 'usb-serial', serial: usb.serial });
      const named = byNames ? await byNames.identify().catch(() => null) : null;
      if (named) out.push({ source: 'file-name', serial: named.serial });
      return out;
    },
    ...(envx.creationTimeOf ? { creationTimeOf: envx.creationTimeOf } : {}),
    ...(envx.now ? { now: envx.now } : {}),
    ...(log ? { log } : {}),
  });
}

/**
 * Drivers by the name a profile gives in `driver`. "folder" (mass storage, drop
 * folders, the simulated recorder) and "gat947" (GA/T 947.4) are built in; another
 * vendor driver registers its own name and is then chosen by the profiles of the
 * models it serves.
 */
export class DriverRegistry {
  private readonly factories: Map<string, DriverFactory>;

  /**
   * `readings`: what GA/T 947.4 recorders said over USB before their storage was
   * mounted (UsbPreDock); the dock of that mount is served from it. Used only when
   * the caller gives no `prior` in the context (the dock manager takes the reading
   * itself, to keep the clock sync before the mount on the dock row).
   */
  constructor(opts: { gat947?: Gat947Environment; readings?: PriorReadings; creationTimeOf?: (localPath: string) => Promise<Date | null> } = {}) {
    const creationTimeOf = opts.creationTimeOf;
    const gat947: Gat947Environment = { ...(creationTimeOf ? { creationTimeOf } : {}), ...opts.gat947 };
    this.factories = new Map<string, DriverFactory>([
      ['folder', (ctx) => folderDriverFor(ctx, creationTimeOf ? { creationTimeOf } : {})],
      // A dock is a mounted recorder: over USB its calls would unmount it (see gat947DriverFor).
      [GAT947_DRIVER, (ctx) => gat947DriverFor(ctx, gat947, { talkOverUsb: false, prior: ctx.prior !== undefined ? ctx.prior : (opts.readings?.take(ctx.usb) ?? null) })],
    ]);
  }

  register(name: string, factory: DriverFactory): void {
    if (this.factories.has(name)) throw new CustodyError('DRIVER_DUPLICATE', `a driver named ${name} is already registered`);
    this.factories.set(name, factory);
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  create(ctx: DriverContext): RecorderDriver {
    const f = this.factories.get(ctx.profile.driver);
    if (!f) throw new CustodyError('DRIVER_UNKNOWN', `profile ${ctx.profile.id} names driver ${ctx.profile.driver}, which is not available`);
    return f(ctx);
  }
}
