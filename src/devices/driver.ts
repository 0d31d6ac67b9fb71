import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Who a recorder is. Unknown fields are null, never invented. */
export interface RecorderIdentity {
  serial: string;
  model: string | null;
  /** Officer number (警号) the recorder reports or was given. */
  officer: string | null;
  unit: string | null;
  /** Names the recorder itself reports (GA/T 947.4 ZFY_INFO), when it does. */
  officerName?: string | null;
  unitName?: string | null;
  /** The maker and model code the recorder reports (GA/T 947.4 GetIDCode). */
  idCode?: string | null;
  /**
   * Where another source names the recorder differently (its files, its USB serial):
   * the driver believes the device and keeps the disagreement here.
   */
  conflicts?: IdentityConflict[];
}

export interface IdentityConflict {
  field: 'serial';
  source: 'usb-serial' | 'file-name' | 'status-file';
  value: string;
  deviceValue: string;
}

/**
 * The drift estimated from the newest file when the device clock cannot be read
 * (see Gat947Driver.estimateDrift): how, from what, and the result when there is one.
 */
export interface ClockEstimate {
  method: 'newest-file';
  /** The estimate is a lower bound on how far the clock is ahead. */
  bound: 'at-least';
  driftMs: number | null;
  file: string;
  fileTime: string;
  embeddedCreation: string | null;
  dockTime: string;
  note: string;
}

/** The pre-duty health snapshot (the rules' Art. 4). Unknown fields are null. */
export interface RecorderHealth {
  batteryPercent: number | null;
  /** The recorder's clock when read, and how far it is ahead (+) or behind (-) the station's. */
  deviceClock: Date | null;
  clockDriftMs: number | null;
  storageTotalBytes: number | null;
  storageFreeBytes: number | null;
  /** How the drift was found; absent or null with a drift: read from the recorder. */
  clockDriftMethod?: 'device-clock' | 'status-file' | 'newest-file-estimate' | null;
  /** The estimate's workings, when the clock could not be read. */
  clockEstimate?: ClockEstimate | null;
}

export interface RecorderFile {
  /** Relative to the recorder's root, '/'-separated, as the recorder names it. */
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * The recorder-driver port. One driver instance serves one docked recorder.
 * Implementations: the mounted-folder driver (generic mass storage, drop folders and
 * the simulated recorder); vendor drivers (GA/T 947.4) plug in through the driver
 * registry (see docs/devices.md).
 *
 * Invariants: paths never leave the recorder (no symlinks followed, no "..");
 * `delete` is only called by the ingest pipeline after the file's vault copy is
 * verified and its ledger entry committed.
 */
export interface RecorderDriver {
  /** Where the recorder is, for messages (a mount point). */
  readonly location: string;
  identify(): Promise<RecorderIdentity>;
  health(): Promise<RecorderHealth>;
  /** Every regular file on the recorder (the pipeline decides which are media). */
  listFiles(): AsyncIterable<RecorderFile>;
  stat(path: string): Promise<RecorderFile>;
  open(path: string, opts?: { highWaterMark?: number; signal?: AbortSignal }): Promise<Readable>;
  /**
   * The file opened for reading, as `open` would (same checks, same errors), for the
   * vault to read with its own buffers (the ingest copy). Absent when the driver has
   * no file to hand out; ingest then reads `open`'s stream.
   */
  readonly openFile?: ((path: string) => Promise<FileHandle>) | undefined;
  /** A local filesystem path for tools that need one (ffprobe), when the driver has one. */
  localPath(path: string): string | null;
  delete(path: string): Promise<void>;
  /** Is the recorder still there? (false once unplugged or unmounted) */
  present(): Promise<boolean>;
  /**
   * Set the recorder's clock to the station's (GA/T 947.4 SyncDevTime) and resolve
   * with the time written. Absent when the driver or model cannot. Never called
   * before `health()` has measured the drift: a sync destroys the evidence of it.
   */
  readonly syncClock?: (() => Promise<Date>) | undefined;
  /**
   * Why the recorder itself was not asked for battery and clock, when the driver could
   * have asked it but must not now (a GA/T 947.4 USB recorder whose storage is mounted):
   * the verdict then says so (`DEVICE_NOT_ASKED`). Absent or null otherwise.
   */
  readonly notAsked?: string | null;
}
