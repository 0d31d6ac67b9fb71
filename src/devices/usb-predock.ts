import type { Catalog } from '../catalog/index.js';
import { errorMessage, isCustodyError, type Logger, rfc3339 } from '../core/index.js';
import type { Fault } from './drivers.js';
import type { RecorderHealth, RecorderIdentity } from './driver.js';
import { gat947DriverFor, type Gat947Environment } from './drivers.js';
import type { Gat947Driver } from './gat947/driver.js';
import { GAT947_DRIVER, type ProfileSet, type RecorderProfile } from './profiles.js';
import type { UsbDeviceInfo } from './sysfs.js';
import type { UsbDeviceRef } from './usb-adapter.js';
import { ledgerOf } from '../ledger/index.js';

/** What was read from a GA/T 947.4 recorder over USB before its storage was mounted. */
export interface PreDockReading {
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
  msdcError: Fault | null;
  readAt: Date;
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
 * Every fault ends in a typed error kept in the reading and a log line; nothing here
 * throws into the USB event handler.
 */
export class UsbPreDock {
  private readonly readings = new Map<string, PreDockReading>();
  private readonly busy = new Set<string>();
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

  /** A USB device attached. Resolves with the reading, or null when it is not a GA/T 947.4 USB model. */
  async attached(d: UsbDeviceRef): Promise<PreDockReading | null> {
    const profile = this.profileOf(d);
    if (!profile || !d.portNumbers || d.portNumbers.length === 0) return null;
    const port = `${d.busNumber}-${d.portNumbers.join('.')}`;
    // Already read and switched: this attach is it coming back as mass storage, to be
    // mounted and docked, not asked again (that would detach usb-storage once more).
    if (this.busy.has(port) || this.readings.has(port)) return null;
    this.busy.add(port);
    try {
      return await this.read(profile, port, d);
    } finally {
      this.busy.delete(port);
    }
  }

  private async read(profile: RecorderProfile, port: string, d: UsbDeviceRef): Promise<PreDockReading> {
    const log = this.log.child({ port, profile: profile.id });
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
      log.info({ serial: r.identity?.serial ?? null }, 'recorder switched to mass storage; waiting for its mount');
      // The profile's mountWaitSeconds: a reading no dock took by then is dropped, loudly.
      const waitMs = (profile.gat947?.mountWaitSeconds ?? 60) * 1000;
      setTimeout(() => {
        if (this.readings.get(port) !== r) return;
        this.readings.delete(port);
        log.error({ serial: r.identity?.serial ?? null, waitSeconds: waitMs / 1000 }, 'recorder switched to mass storage but no storage of it was mounted under a watched root (udev rules installed?)');
      }, waitMs).unref();
    } catch (e) {
      r.msdcError = fault(e);
      log.error({ err: e, serial: r.identity?.serial ?? null }, 'recorder could not be switched to mass storage: nothing will be mounted to ingest');
    }
    // Kept until its mount is docked (or mountWaitSeconds pass). A recorder that was not
    // switched will mount nothing, so no dock will record it: the ledger does, here. It
    // is asked again when it is plugged in again.
    if (r.msdc) this.readings.set(port, r);
    if (r.identifyError || r.healthError || r.msdcError) this.ledgerFailure(r, d);
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

  /** The reading for the USB device behind a new mount, taken once. */
  take(usb: UsbDeviceInfo | null): PreDockReading | null {
    if (!usb) return null;
    const r = this.readings.get(usb.kernelName);
    if (!r) return null;
    this.readings.delete(usb.kernelName);
    return r;
  }
}
