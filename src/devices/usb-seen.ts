import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog, Db } from '../catalog/index.js';
import { type Logger, rfc3339 } from '../core/index.js';
import type { ProfileSet } from './profiles.js';
import { usbKey } from './profiles.js';
import type { UsbDeviceRef } from './usb-adapter.js';

/** A USB device the daemon saw attached: what a station needs to learn its model. */
export interface SeenUsbDevice {
  vendorId: number;
  productId: number;
  /** "vvvv:pppp", lower-case hex. */
  usbId: string;
  manufacturer: string | null;
  product: string | null;
  serial: string | null;
  /** bInterfaceClass of each interface (8: mass storage, 6: still image, 0xff: vendor). */
  interfaceClasses: number[];
  firstSeen: string;
  lastSeen: string;
  timesSeen: number;
}

interface Row {
  vendor_id: number;
  product_id: number;
  serial: string;
  manufacturer: string | null;
  product: string | null;
  interface_classes: string;
  first_seen: string;
  last_seen: string;
  times_seen: number;
}

function fromRow(r: Row): SeenUsbDevice {
  let classes: number[] = [];
  try {
    const v = JSON.parse(r.interface_classes) as unknown;
    if (Array.isArray(v)) classes = v.filter((x): x is number => typeof x === 'number');
  } catch {
    classes = [];
  }
  return {
    vendorId: r.vendor_id,
    productId: r.product_id,
    usbId: usbKey(r.vendor_id, r.product_id),
    manufacturer: r.manufacturer,
    product: r.product,
    serial: r.serial === '' ? null : r.serial,
    interfaceClasses: classes,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    timesSeen: r.times_seen,
  };
}

async function attr(dir: string, name: string): Promise<string | null> {
  try {
    const v = (await readFile(join(dir, name), 'utf8')).trim();
    return v === '' ? null : v;
  } catch {
    return null;
  }
}

/**
 * A device's strings from sysfs (`/sys/bus/usb/devices/<bus>-<ports>`): readable
 * without opening the device, so without the permission a udev rule would give.
 */
export async function usbStrings(d: UsbDeviceRef, sysRoot = '/sys'): Promise<{ manufacturer: string | null; product: string | null; serial: string | null }> {
  if (!d.portNumbers || d.portNumbers.length === 0) return { manufacturer: null, product: null, serial: null };
  const dir = join(sysRoot, 'bus', 'usb', 'devices', `${d.busNumber}-${d.portNumbers.join('.')}`);
  // The folder must be this device (a replug may have given the port to another one).
  const devnum = await attr(dir, 'devnum');
  if (devnum !== null && Number(devnum) !== d.deviceAddress) return { manufacturer: null, product: null, serial: null };
  return { manufacturer: await attr(dir, 'manufacturer'), product: await attr(dir, 'product'), serial: await attr(dir, 'serial') };
}

/**
 * The USB devices seen attached while the daemon ran (table `usb_devices`), one row
 * per vendor:product and serial: `custody devices unknown` lists those no profile
 * claims, so a station can learn a recorder model from what it saw.
 */
export class UsbSeenRepo {
  constructor(private readonly db: Db) {}

  record(d: { vendorId: number; productId: number; manufacturer: string | null; product: string | null; serial: string | null; interfaceClasses: number[] }, at: string): void {
    this.db
      .prepare(
        `INSERT INTO usb_devices (vendor_id, product_id, serial, manufacturer, product, interface_classes, first_seen, last_seen, times_seen)
         VALUES (@vendorId, @productId, @serial, @manufacturer, @product, @classes, @at, @at, 1)
         ON CONFLICT (vendor_id, product_id, serial) DO UPDATE SET
           manufacturer = coalesce(excluded.manufacturer, manufacturer),
           product = coalesce(excluded.product, product),
           interface_classes = excluded.interface_classes,
           last_seen = excluded.last_seen,
           times_seen = times_seen + 1`,
      )
      .run({
        vendorId: d.vendorId,
        productId: d.productId,
        serial: d.serial ?? '',
        manufacturer: d.manufacturer,
        product: d.product,
        classes: JSON.stringify([...new Set(d.interfaceClasses)].sort((a, b) => a - b)),
        at,
      });
  }

  list(): SeenUsbDevice[] {
    return this.db.prepare<[], Row>('SELECT * FROM usb_devices ORDER BY last_seen DESC, vendor_id, product_id, serial').all().map(fromRow);
  }

  /** Devices whose vendor:product no profile claims, newest first. */
  unknown(profiles: ProfileSet): SeenUsbDevice[] {
    return this.list().filter((d) => !profiles.byUsb(d.vendorId, d.productId));
  }
}

/** Hubs (class 9) are the bus itself, never a recorder: not worth recording. */
export function worthRecording(d: { interfaceClasses: number[] }): boolean {
  return !(d.interfaceClasses.length > 0 && d.interfaceClasses.every((c) => c === 9));
}

/**
 * What a USB attach does in the daemon: the device is recorded (a model to learn; hubs
 * left out), and a GA/T 947.4 USB model is handed to the pre-dock, which reads it and
 * switches it to mass storage — those present at start too, unless their storage is
 * mounted (UsbPreDock looks at the mount table first: asking over USB would pull a
 * mounted file system). Never throws: a failure is logged.
 */
export function usbAttachHandler(deps: {
  catalog: Catalog;
  preDock: { attached(d: UsbDeviceRef): Promise<unknown> } | null;
  log: Logger;
  sysRoot?: string;
}): (d: UsbDeviceRef, atStart: boolean) => Promise<void> {
  const repo = new UsbSeenRepo(deps.catalog.db);
  return async (d) => {
    try {
      const interfaceClasses = d.interfaceClasses ?? [];
      if (worthRecording({ interfaceClasses })) {
        const strings = await usbStrings(d, deps.sysRoot);
        deps.catalog.tx(() => repo.record({ vendorId: d.vendorId, productId: d.productId, interfaceClasses, ...strings }, rfc3339(deps.catalog.clock.now())));
      }
    } catch (e) {
      deps.log.warn({ err: e, vendorId: d.vendorId, productId: d.productId }, 'USB device could not be recorded');
    }
    if (!deps.preDock) return;
    try {
      await deps.preDock.attached(d);
    } catch (e) {
      deps.log.error({ err: e, vendorId: d.vendorId, productId: d.productId }, 'GA/T 947.4 recorder could not be handled on attach');
    }
  };
}
