import { CustodyError } from '../core/errors.js';
import type { RecorderDriver } from './driver.js';
import { FolderDriver } from './folder-driver.js';
import type { RecorderProfile } from './profiles.js';
import type { UsbDeviceInfo } from './sysfs.js';

/** What a driver is told about the recorder it is to serve. */
export interface DriverContext {
  /** The mount point or drop-folder entry (absolute). */
  location: string;
  profile: RecorderProfile;
  /** The USB device behind the mount, when it could be found. */
  usb: UsbDeviceInfo | null;
}

export type DriverFactory = (ctx: DriverContext) => RecorderDriver;

/**
 * The folder driver as a model profile configures it: status file, media folders,
 * where the serial may come from, and whether the clock can be set.
 */
export function folderDriverFor(ctx: DriverContext): FolderDriver {
  const p = ctx.profile;
  const usbSerial = p.identity.includes('usb-serial') ? (ctx.usb?.serial ?? undefined) : undefined;
  return new FolderDriver({
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

/**
 * Drivers by the name a profile gives in `driver`. "folder" is built in; a vendor
 * driver (say GA/T 947.4 over SCSI pass-through) registers its own name and is then
 * chosen by the profiles of the models it serves.
 */
export class DriverRegistry {
  private readonly factories = new Map<string, DriverFactory>([['folder', folderDriverFor]]);

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
