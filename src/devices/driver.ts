import type { Readable } from 'node:stream';

/** Who a recorder is. Unknown fields are null, never invented. */
export interface RecorderIdentity {
  serial: string;
  model: string | null;
  /** Officer number (警号) the recorder reports or was given. */
  officer: string | null;
  unit: string | null;
}

/** The pre-duty health snapshot (the rules' Art. 4). Unknown fields are null. */
export interface RecorderHealth {
  batteryPercent: number | null;
  /** The recorder's clock when read, and how far it is ahead (+) or behind (-) the station's. */
  deviceClock: Date | null;
  clockDriftMs: number | null;
  storageTotalBytes: number | null;
  storageFreeBytes: number | null;
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
}
