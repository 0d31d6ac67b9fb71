import type { Catalog } from '../catalog/index.js';
import { errorMessage, isCustodyError, type Logger, rfc3339 } from '../core/index.js';
import type { DockCandidate, UndockReason } from './detection.js';
import { notMountedReason } from './dock-steps.js';
import type { Fault, PriorReading } from './drivers.js';
import type { RecorderHealth, RecorderIdentity } from './driver.js';
import { gat947DriverFor, type Gat947Environment } from './drivers.js';
import { readMountInfo, PROC_MOUNTINFO } from './mountinfo.js';
import { usbDeviceForBlock } from './sysfs.js';
import type { Gat947Driver } from './gat947/driver.js';
import { GAT947_DRIVER, type ProfileSet, type RecorderProfile } from './profiles.js';
import type { UsbDeviceInfo } from './sysfs.js';
import type { UsbDeviceRef } from './usb-adapter.js';
import { ledgerOf } from '../ledger/index.js';

/** What was read from a GA/T 947.4 recorder over USB before its storage was mounted. */
export interface PreDockReading extends PriorReading {
  /** The USB port path (sysfs kernel name, e.g. "1-2.4"): the same after it re-enumerates as mass storage. */
  port: string;
  profileId: string;
  identity: RecorderIdentity | null;
  identifyError: Fault | null;
  health: RecorderHealth | null;
  healthError: Fault | null;
  /** When SyncDevTime set its clock (the drift in `health` is from before). */
  clockSetTo: Date | null;
  clockError: Fault | null;
  msdc: boolean;
  /** When SetMSDC went out and took. */
  msdcAt: Date | null;
  msdcError: Fault | null;
  readAt: Date;
}

/** Where a GA/T 947.4 USB recorder whose storage was never mounted is docked: its USB port. */
export function usbLocation(port: string): string {
  return `usb:${port}`;
}

export interface UsbPreDockDeps {
  profiles: ProfileSet;
  catalog: Catalog;
  log: Logger;
  gat947?: Gat947Environment;
  /** Set the recorder's clock before switching it to mass storage (config devices.syncClock). */
  syncClock: boolean;
  actor?: string;
  now?: () => Date;
  /**
   * The dock manager: a recorder whose storage will not be mounted (its reading or
   * switch failed, or no mount came in time) is docked at `usb:<port>` from its
   * reading, and undocked when its USB device goes.
   */
  docks?: { dock(c: DockCandidate): void; undock(location: string, reason: UndockReason): void };
  /** The mount table and sysfs (tests; default /proc/self/mountinfo and /sys): is its storage mounted now? */
  mountInfoFile?: string;
  sysRoot?: string;
}

function fault(e: unknown): Fault {
  return isCustodyError(e) ? { code: e.code, message: e.message } : { code: 'GAT947_CALL_FAILED', message: errorMessage(e) };
}

/**
 * GA/T 947.4 recorders over USB are asked before their storage is mounted: detaching
 * the kernel's usb-storage driver from a mounted disk would pull the filesystem. When
 * a recorder of a `gat947` USB profile attaches, this reads its identity and health
 * (the drift measured first), sets its clock (SyncDevTime, ledgered at once as
 * `device.clock-synced`, or `device.clock-sync-failed`), and switches it to mass
 * storage (SetMSDC). Its storage is then mounted by the system (udev rules) under a
 * watched root; the dock that follows takes the reading by USB port
 * (`take`), so the pre-duty verdict is the one read from the device.
 *
 * A recorder whose storage is mounted already (present when custody starts, or
 * mounted by something else) is never asked: the mount table is looked at first, and
 * its dock is checked from the mount (未检测, DEVICE_NOT_ASKED). A recorder whose
 * storage will not be mounted — the reading or the switch failed, or no mount came
 * within the profile's `mountWaitSeconds` — is docked by the dock manager at
 * `usb:<port>` from its reading (STORAGE_NOT_MOUNTED), and undocked when it is unplugged.
 *
 * Every fault ends in a typed error kept in the reading, a log line and a dock record;
 * nothing here throws into the USB event handler.
 */
export class UsbPreDock {
  private readonly readings = new Map<string, PreDockReading>();
  /** Readings whose mount did not come within mountWaitSeconds, for a mount that comes later while the device stays. */
  private readonly late = new Map<string, PreDockReading>();
  private readonly busy = new Set<string>();
  /** The address of the USB device that last went from each port (a device that comes later has another). */
  private readonly detachedPorts = new Map<string, number>();
  /** The address of the USB device at each port now, as attach and detach events said (any device). */
  private readonly present = new Map<string, number>();
  /** Ports with a dock at `usb:<port>` open (storage never mounted). */
  private readonly unmountedDocks = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly deps: UsbPreDockDeps) {
    this.log = deps.log.child({ module: 'gat947-predock' });
    this.now = deps.now ?? (() => new Date());
  }

  /** The gat947 USB profile of a device, if any. */
  profileOf(d: { vendorId: number; productId: number }): RecorderProfile | null {
    const p = this.deps.profiles.byUsb(d.vendorId, d.productId);
    return p && p.driver === GAT947_DRIVER && (p.gat947?.transport ?? 'usb') === 'usb' ? p : null;
  }

  /** A USB device attached (or present at start). Resolves with the reading, or null when it is not a GA/T 947.4 USB model or was not asked. */
  async attached(d: UsbDeviceRef): Promise<PreDockReading | null> {
    if (!d.portNumbers || d.portNumbers.length === 0) return null;
    const port = portOf(d);
    // Gone before it could be looked at: nothing to ask, nothing to record.
    if (this.detachedPorts.get(port) === d.deviceAddress) return null;
    this.detachedPorts.delete(port);
    this.present.set(port, d.deviceAddress);
    const profile = this.profileOf(d);
    if (!profile) return null;
    // Already read and switched: this attach is it coming back as mass storage, to be
    // mounted and docked, not asked again (that would detach usb-storage once more).
    if (this.busy.has(port) || this.readings.has(port)) return null;
    this.busy.add(port);
    try {
      // Plugged in again without its detach seen: the dock of the last time is over.
      this.endUnmountedDock(port, 'usb-detach');
      // Never detach usb-storage under a mounted file system: a recorder whose storage
      // is mounted now is not asked, and its dock is checked from the mount.
      const mounted = await this.mountedStorage(port);
      if (mounted === null || mounted.length > 0) {
        const log = this.log.child({ port, profile: profile.id });
        if (mounted === null) log.warn('the mount table could not be read: the recorder is not asked over USB (its storage may be mounted)');
        else log.info({ mountPoints: mounted }, 'recorder storage already mounted: not asked over USB (that would detach usb-storage under the mounted file system); it is checked from its mount, and asked before the mount when next plugged in');
        return null;
      }
      return await this.read(profile, port, d);
    } finally {
      this.busy.delete(port);
    }
  }

  /** A USB device went: a dock of its port whose storage was never mounted ends. */
  detached(d: UsbDeviceRef): void {
    if (!d.portNumbers || d.portNumbers.length === 0) return;
    const port = portOf(d);
    this.detachedPorts.set(port, d.deviceAddress);
    if (this.present.get(port) === d.deviceAddress) this.present.delete(port);
    if (!this.present.has(port)) this.late.delete(port);
    this.endUnmountedDock(port, 'usb-detach');
  }

  private endUnmountedDock(port: string, reason: UndockReason): void {
    if (!this.unmountedDocks.delete(port)) return;
    this.deps.docks?.undock(usbLocation(port), reason);
  }

  /** The mount points of file systems on this USB device's storage now; null when the mount table cannot be read. */
  private async mountedStorage(port: string): Promise<string[] | null> {
    const table = await readMountInfo(this.deps.mountInfoFile ?? PROC_MOUNTINFO);
    if (!table) return process.platform === 'linux' ? null : [];
    const out: string[] = [];
    for (const m of table) {
      // Virtual file systems (major 0) are on no disk.
      if (m.major === 0) continue;
      const usb = await usbDeviceForBlock(m.major, m.minor, this.deps.sysRoot);
      if (usb?.kernelName === port) out.push(m.mountPoint);
    }
    return out;
  }

  /**
   * Dock the recorder at `usb:<port>` from its reading: its storage will not be
   * mounted, and the dock record says why (the verdict's reasons, the ledger).
   */
  private dockUnmounted(r: PreDockReading, d: UsbDeviceRef, why: string): void {
    const docks = this.deps.docks;
    if (!docks) return;
    r.notMounted = why;
    const location = usbLocation(r.port);
    this.unmountedDocks.add(r.port);
    docks.dock({
      location,
      source: 'usb',
      device: null,
      usb: { vendorId: d.vendorId, productId: d.productId, serial: null, manufacturer: null, product: null, busNumber: d.busNumber, deviceAddress: d.deviceAddress, kernelName: r.port },
      reading: r,
    });
    // Nothing at its port any more (pulled while it was being asked, or after it
    // switched): the dock (made on the next turn) ends at once.
    if (!this.present.has(r.port)) setImmediate(() => this.endUnmountedDock(r.port, 'usb-detach'));
  }

  private async read(profile: RecorderProfile, port: string, d: UsbDeviceRef): Promise<PreDockReading> {
    const log = this.log.child({ port, profile: profile.id });
    this.late.delete(port);
    const usb: UsbDeviceInfo = {
      vendorId: d.vendorId,
      productId: d.productId,
      serial: null,
      manufacturer: null,
      product: null,
      busNumber: d.busNumber,
      deviceAddress: d.deviceAddress,
      kernelName: port,
    };
    // No mount yet: the driver's file side has nothing to read, and needs nothing.
    const driver: Gat947Driver = gat947DriverFor({ location: '/nonexistent/custody-predock', profile, usb }, { ...this.deps.gat947, log }, { talkOverUsb: true });
    const r: PreDockReading = {
      port,
      profileId: profile.id,
      identity: null,
      identifyError: null,
      health: null,
      healthError: null,
      clockSetTo: null,
      clockError: null,
      msdc: false,
      msdcAt: null,
      msdcError: null,
      readAt: this.now(),
    };
    try {
      r.identity = await driver.identify();
    } catch (e) {
      r.identifyError = fault(e);
      log.warn({ err: e }, 'GA/T 947.4 recorder could not be identified over USB');
    }
    try {
      r.health = await driver.health();
    } catch (e) {
      r.healthError = fault(e);
      log.warn({ err: e }, 'GA/T 947.4 recorder health could not be read over USB');
    }
    // The clock is set only once its drift is known and who it is: the ledger must say whose clock changed by how much.
    if (this.deps.syncClock && r.identity && r.health && driver.syncClock) {
      try {
        r.clockSetTo = await driver.syncClock();
        this.ledgerClock(r, null);
        log.info({ serial: r.identity.serial, clockDriftMsBefore: r.health.clockDriftMs }, 'recorder clock set to the station clock before mounting');
      } catch (e) {
        r.clockError = fault(e);
        this.ledgerClock(r, r.clockError);
        log.warn({ err: e, serial: r.identity.serial }, 'recorder clock could not be set');
      }
    }
    try {
      await driver.setMsdc();
      r.msdc = true;
      r.msdcAt = this.now();
      log.info({ serial: r.identity?.serial ?? null }, 'recorder switched to mass storage; waiting for its mount');
      // The profile's mountWaitSeconds: a reading no dock took by then is docked as not mounted, loudly.
      const waitSeconds = profile.gat947?.mountWaitSeconds ?? 60;
      setTimeout(() => {
        if (this.readings.get(port) !== r) return;
        this.readings.delete(port);
        this.late.set(port, r);
        log.error({ serial: r.identity?.serial ?? null, waitSeconds }, 'recorder switched to mass storage but no storage of it was mounted under a watched root (udev rules installed?)');
        this.dockUnmounted(r, d, notMountedReason(r, waitSeconds));
      }, waitSeconds * 1000).unref();
    } catch (e) {
      r.msdcError = fault(e);
      log.error({ err: e, serial: r.identity?.serial ?? null }, 'recorder could not be switched to mass storage: nothing will be mounted to ingest');
    }
    // Kept until its mount is docked (or mountWaitSeconds pass). A recorder that was not
    // switched will mount nothing: it is docked here, from its reading, and asked again
    // when it is plugged in again.
    if (r.msdc) this.readings.set(port, r);
    if (r.identifyError || r.healthError || r.msdcError) this.ledgerFailure(r, d);
    if (!r.msdc) this.dockUnmounted(r, d, notMountedReason(r, 0));
    return r;
  }

  private ledgerClock(r: PreDockReading, error: Fault | null): void {
    const { catalog } = this.deps;
    const subject = r.identity!.serial;
    const health = r.health!;
    catalog.tx(() =>
      ledgerOf(catalog).append(
        error === null
          ? {
              type: 'device.clock-synced',
              actor: this.deps.actor ?? 'custody:daemon',
              subject,
              data: {
                dockId: null,
                when: 'before-mount',
                profile: r.profileId,
                clockDriftMsBefore: health.clockDriftMs,
                clockDriftMethod: health.clockDriftMethod ?? null,
                deviceClockBefore: health.deviceClock ? rfc3339(health.deviceClock) : null,
                setTo: rfc3339(r.clockSetTo!),
              },
            }
          : {
              type: 'device.clock-sync-failed',
              actor: this.deps.actor ?? 'custody:daemon',
              subject,
              data: { dockId: null, when: 'before-mount', profile: r.profileId, clockDriftMsBefore: health.clockDriftMs, error },
            },
      ),
    );
  }

  /** What could not be read or done before the mount, with the stable codes (never a password). */
  private ledgerFailure(r: PreDockReading, d: UsbDeviceRef): void {
    const { catalog } = this.deps;
    try {
      catalog.tx(() =>
        ledgerOf(catalog).append({
          type: 'device.read-failed',
          actor: this.deps.actor ?? 'custody:daemon',
          subject: r.identity?.serial ?? null,
          data: {
            when: 'before-mount',
            profile: r.profileId,
            usb: { vendorId: d.vendorId, productId: d.productId, port: r.port },
            identifyError: r.identifyError,
            healthError: r.healthError,
            msdcError: r.msdcError,
            switchedToMassStorage: r.msdc,
          },
        }),
      );
    } catch (e) {
      this.log.error({ err: e, port: r.port }, 'the failed reading could not be recorded');
    }
  }

  /**
   * The reading for the USB device behind a new mount, taken once. A mount that comes
   * after mountWaitSeconds still gets it (the recorder was asked before it); its
   * `usb:<port>` dock, which says the mount did not come in time, stays until it is unplugged.
   */
  take(usb: UsbDeviceInfo | null): PreDockReading | null {
    if (!usb) return null;
    const port = usb.kernelName;
    const r = this.readings.get(port);
    if (r) {
      this.readings.delete(port);
      return r;
    }
    const late = this.late.get(port);
    if (!late) return null;
    this.late.delete(port);
    this.log.warn({ port, serial: late.identity?.serial ?? null }, 'recorder storage mounted after its mountWaitSeconds: docked from the reading taken before the mount');
    return { ...late, notMounted: null };
  }
}

function portOf(d: UsbDeviceRef): string {
  return `${d.busNumber}-${(d.portNumbers ?? []).join('.')}`;
}
