import type { Readable } from 'node:stream';
import { CustodyError, type ErrorCode, type Logger } from '../../core/index.js';
import { estimateDriftFromNewestFile, withEstimate } from '../clock-estimate.js';
import type { ClockEstimate, IdentityConflict, RecorderDriver, RecorderFile, RecorderHealth, RecorderIdentity } from '../driver.js';
import { Gat947Error } from './errors.js';
import { instantOf, localTime, type Gat947Link } from './link.js';
import type { Gat947Params } from './params.js';

/** A reading taken earlier (drivers.ts PriorReading, repeated here to keep this module free of drivers.ts). */
interface PriorReading {
  identity: RecorderIdentity | null;
  identifyError: { code: ErrorCode; message: string } | null;
  health: RecorderHealth | null;
  healthError: { code: ErrorCode; message: string } | null;
}

export interface Gat947DriverOptions {
  /** Where the recorder's storage is (or will be) mounted, absolute. */
  location: string;
  params: Gat947Params;
  /** The model name the profile gives; else the recorder's ID code is recorded. */
  model: string | null;
  /**
   * Opens a conversation with the recorder (USB or TCP); each call of the driver opens
   * and closes its own. Null: no conversation is possible now (a USB recorder whose
   * storage is mounted): identity then comes from `fallbackIdentify`, and battery and
   * clock are unknown (the clock drift estimated).
   */
  openLink: (() => Promise<Gat947Link>) | null;
  /**
   * Why the recorder is not asked, when `openLink` is null and there is no `prior`
   * reading (its storage was already mounted): kept as the driver's `notAsked`.
   */
  notAsked?: string | null;
  /** Identity from what the files and the USB descriptor say, for when the recorder cannot be asked. */
  fallbackIdentify?: () => Promise<RecorderIdentity>;
  /** The profile lets the driver set the clock (`clockSync`); default true. */
  clockSync?: boolean;
  /**
   * What the recorder said before its storage was mounted (USB): identity and health
   * are served from it, storage and a drift estimate filled in from the mount.
   */
  prior?: PriorReading;
  /**
   * Files on the recorder's storage once it is mass storage (usually the folder
   * driver on the mount): listing, reading, removal and storage space.
   */
  files: RecorderDriver;
  /** The station zone the recorder's wall clock is read and set in (the reference: host local time). */
  zone: string;
  /** Serials read elsewhere (USB iSerial, file names), to keep a disagreement with the device's. */
  otherSerials?: () => Promise<Array<{ source: IdentityConflict['source']; serial: string }>>;
  /** The creation time embedded in a media file (MP4 header), for the drift estimate. */
  creationTimeOf?: (localPath: string) => Promise<Date | null>;
  now?: () => Date;
  log?: Logger;
}

/**
 * A GA/T 947.4 recorder: identity (GetIDCode, ZFY_INFO), battery, storage (the vendor
 * TF-card call, else the mounted filesystem), the device clock where the model can
 * read it (else an estimate from the newest file), SyncDevTime and SetMSDC over a
 * `Gat947Link`; its files through the mass-storage mount it switches to.
 *
 * What the device says about who it is wins over file names and the USB serial; a
 * disagreement is kept in the identity (`conflicts`), never resolved silently.
 */
export class Gat947Driver implements RecorderDriver {
  readonly location: string;
  /** SyncDevTime; absent while the recorder cannot be asked. */
  readonly syncClock: (() => Promise<Date>) | undefined;
  /** Why battery and clock were not asked of the recorder (see Gat947DriverOptions.notAsked); null when it was asked. */
  readonly notAsked: string | null;
  private readonly now: () => Date;

  constructor(private readonly o: Gat947DriverOptions) {
    this.location = o.location;
    this.notAsked = !o.openLink && !o.prior ? (o.notAsked ?? null) : null;
    this.now = o.now ?? (() => new Date());
    this.syncClock = o.openLink && o.clockSync !== false ? () => this.setClock() : undefined;
  }

  private async withLink<T>(fn: (link: Gat947Link) => Promise<T>): Promise<T> {
    if (!this.o.openLink) throw new Gat947Error('GAT947_NOT_SUPPORTED', 'the recorder cannot be asked now (its storage is mounted)');
    const link = await this.o.openLink();
    try {
      return await fn(link);
    } finally {
      await link.close();
    }
  }

  async identify(): Promise<RecorderIdentity> {
    const prior = this.o.prior;
    if (prior) {
      if (!prior.identity) throw new CustodyError(prior.identifyError?.code ?? 'GAT947_CALL_FAILED', prior.identifyError?.message ?? 'the recorder was not identified');
      const conflicts = await this.conflicts(prior.identity.serial);
      return { ...prior.identity, ...(conflicts.length > 0 ? { conflicts } : {}) };
    }
    if (!this.o.openLink) {
      if (!this.o.fallbackIdentify) throw new Gat947Error('GAT947_NOT_SUPPORTED', 'the recorder cannot be asked now and nothing else names it');
      return this.o.fallbackIdentify();
    }
    const { info, idCode } = await this.withLink(async (link) => {
      let code: string | null = null;
      if (this.o.params.commands.getIdCode !== null) code = await link.getIdCode();
      return { info: await link.getZfyInfo(), idCode: code };
    });
    const conflicts = await this.conflicts(info.serial);
    return {
      serial: info.serial,
      model: this.o.model ?? idCode,
      officer: info.officerNo,
      unit: info.unitNo,
      officerName: info.officerName,
      unitName: info.unitName,
      idCode,
      ...(conflicts.length > 0 ? { conflicts } : {}),
    };
  }

  /** Where the files or the USB serial name the recorder otherwise than it does itself. */
  private async conflicts(serial: string): Promise<IdentityConflict[]> {
    const conflicts: IdentityConflict[] = [];
    for (const other of (await this.o.otherSerials?.().catch(() => [])) ?? []) {
      if (other.serial !== serial) conflicts.push({ field: 'serial', source: other.source, value: other.serial, deviceValue: serial });
    }
    if (conflicts.length > 0) this.o.log?.warn({ serial, conflicts }, 'the recorder names itself differently from its files or USB serial; the device is believed');
    return conflicts;
  }

  async health(): Promise<RecorderHealth> {
    const prior = this.o.prior;
    if (prior) {
      if (!prior.health) throw new CustodyError(prior.healthError?.code ?? 'GAT947_CALL_FAILED', prior.healthError?.message ?? 'health was not read');
      const h = { ...prior.health };
      if (h.storageFreeBytes === null || h.storageTotalBytes === null) {
        const fs = await this.o.files.health().catch(() => null);
        h.storageTotalBytes = fs?.storageTotalBytes ?? null;
        h.storageFreeBytes = fs?.storageFreeBytes ?? null;
      }
      // Read before the mount, there were no files to estimate from; now there are.
      if (h.clockDriftMs === null && !h.clockEstimate) return withEstimate(h, await this.estimateDrift());
      return h;
    }
    const c = this.o.params.commands;
    const none = { battery: null, sd: null, deviceClock: null, readAt: null };
    const read = !this.o.openLink ? none : await this.withLink(async (link) => {
      const battery = c.readBattery !== null ? await link.readBattery() : null;
      const sd = c.getSdStatus !== null ? await link.getSdStatus() : null;
      let deviceClock: Date | null = null;
      let readAt: Date | null = null;
      if (c.getTime !== null) {
        const t = await link.getTime();
        readAt = this.now();
        deviceClock = instantOf(t, this.o.zone);
        if (!deviceClock) throw new Gat947Error('GAT947_BAD_REPLY', 'the recorder clock reads an impossible time');
      }
      return { battery, sd, deviceClock, readAt };
    });
    let total = read.sd?.totalBytes ?? null;
    let free = read.sd?.freeBytes ?? null;
    if (total === null || free === null) {
      // No storage call: the mounted filesystem says (when it is mounted yet).
      const fs = await this.o.files.health().catch(() => null);
      total = fs?.storageTotalBytes ?? null;
      free = fs?.storageFreeBytes ?? null;
    }
    if (read.deviceClock && read.readAt) {
      return {
        batteryPercent: read.battery,
        deviceClock: read.deviceClock,
        clockDriftMs: read.deviceClock.getTime() - read.readAt.getTime(),
        clockDriftMethod: 'device-clock',
        storageTotalBytes: total,
        storageFreeBytes: free,
      };
    }
    return withEstimate(
      { batteryPercent: read.battery, deviceClock: null, clockDriftMs: null, storageTotalBytes: total, storageFreeBytes: free },
      await this.estimateDrift(),
    );
  }

  /** The drift when the device clock cannot be read: see estimateDriftFromNewestFile. */
  estimateDrift(): Promise<ClockEstimate | null> {
    return estimateDriftFromNewestFile(this.o.files, this.now(), this.o.creationTimeOf);
  }

  private async setClock(): Promise<Date> {
    return this.withLink(async (link) => {
      const at = this.now();
      await link.syncDevTime(localTime(at, this.o.zone));
      return at;
    });
  }

  /** Switch the recorder to USB mass storage (SetMSDC); its storage is then mounted by the system. */
  async setMsdc(): Promise<void> {
    await this.withLink((link) => link.setMsdc());
  }

  listFiles(): AsyncIterable<RecorderFile> {
    return this.o.files.listFiles();
  }

  stat(path: string): Promise<RecorderFile> {
    return this.o.files.stat(path);
  }

  open(path: string, opts?: { highWaterMark?: number; signal?: AbortSignal }): Promise<Readable> {
    return this.o.files.open(path, opts);
  }

  get openFile(): RecorderDriver['openFile'] {
    return this.o.files.openFile;
  }

  localPath(path: string): string | null {
    return this.o.files.localPath(path);
  }

  delete(path: string): Promise<void> {
    return this.o.files.delete(path);
  }

  present(): Promise<boolean> {
    return this.o.files.present();
  }
}
