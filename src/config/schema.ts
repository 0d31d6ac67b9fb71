import { isIP } from 'node:net';
import { z } from 'zod';

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The canonical IANA zone names this Node.js knows, read once (about 1 ms). */
let zoneNames: ReadonlySet<string> | undefined;

/**
 * Is the string an IANA time zone this Node.js knows? A canonical name is looked up in
 * ICU's list; any other (an alias such as Asia/Calcutta, another spelling) is tried as
 * before, by formatting with it. The same names pass either way, but the common case
 * no longer loads ICU's zone rules, about 12 ms of every command's start (issue 13).
 */
function isTimeZone(tz: string): boolean {
  zoneNames ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zoneNames.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const s3Schema = z
  .object({
    /** e.g. http://127.0.0.1:9000; omit for AWS itself. */
    endpoint: z.string().url().optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().min(3),
    /** Key prefix inside the bucket, e.g. "custody/"; empty for the bucket root. */
    prefix: z
      .string()
      .default('')
      .refine((p) => p === '' || (p.endsWith('/') && !p.startsWith('/')), 'must be empty or end with "/" and not start with "/"'),
    forcePathStyle: z.boolean().default(true),
    /** Compatibility profile: which S3 features the store really has. */
    profile: z.enum(['aws', 'swift', 'minio', 's3rver']).default('aws'),
    accessKeyId: z.string().min(1).optional(),
    /** Prefer CUSTODY_VAULT_S3_SECRET_ACCESS_KEY or secretAccessKeyFile; never printed. */
    secretAccessKey: z.string().min(1).optional(),
    secretAccessKeyFile: z.string().min(1).optional(),
    /** Multipart part size in MiB (5..5120). */
    partSizeMb: z.number().int().min(5).max(5120).default(16),
    /** Parts uploaded at once per object. */
    queueSize: z.number().int().min(1).max(16).default(2),
    /** Attempts for a transient error before giving up. */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /**
     * S3 Object Lock (issue 7): each object gets a retain-until date equal to its
     * retention date, held items a legal hold. Only on a profile that supports it.
     */
    objectLock: z.enum(['off', 'governance', 'compliance']).default('off'),
  })
  .strict();

export const configSchema = z
  .object({
    /** IANA zone in which "24 hours" and "6 months" are computed. */
    timezone: z.string().default('Asia/Shanghai').refine(isTimeZone, 'not a known IANA time zone'),
    log: z.object({ level: logLevel.default('info') }).strict().prefault({}),
    vault: z
      .object({
        kind: z.enum(['fs', 's3']).default('fs'),
        /**
         * How a stored object is checked after writing: "size" compares the stored size
         * and the hash computed while writing (and the store's own checksum where it has
         * one); "full" also reads the object back and re-hashes it.
         */
        readBack: z.enum(['size', 'full']).default('size'),
        fs: z
          .object({
            /** Defaults to <home>/vault. */
            path: z.string().min(1).optional(),
            /** fsync files and folders before an object is published. */
            fsync: z.boolean().default(true),
            /** Write footage with O_DIRECT, around the page cache (where the file system allows it). */
            directWrites: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        s3: s3Schema.optional(),
      })
      .strict()
      .superRefine((v, ctx) => {
        if (v.kind === 's3' && v.s3 === undefined) {
          ctx.addIssue({ code: 'custom', path: ['s3'], message: 'required when vault.kind is "s3"' });
        }
      })
      .prefault({}),
    ledger: z
      .object({
        /** Entries per sealed ledger segment object. */
        segmentEntries: z.number().int().min(10).max(1_000_000).default(1000),
        /**
         * The daemon seals a partial segment this often (seconds); 0 disables the timer.
         * What is not yet sealed is lost with the workstation: this is the recovery point
         * (docs/operations.md).
         */
        sealIntervalSeconds: z.number().int().min(0).default(60),
      })
      .strict()
      .prefault({}),
    backup: z
      .object({
        /** The daemon snapshots the catalog into the vault this often (hours; 0: only by hand and after migrations). */
        intervalHours: z.number().int().min(0).max(24 * 7).default(24),
        /** Snapshots kept: the newest of each of the last keepDaily days that have one … */
        keepDaily: z.number().int().min(1).max(365).default(7),
        /** … and the newest of each of the last keepWeekly ISO weeks that have one. */
        keepWeekly: z.number().int().min(0).max(520).default(4),
      })
      .strict()
      .prefault({}),
    checkpoints: z
      .object({
        /** Origin line (and signing key name) of the signed checkpoints; empty: custody/<key fingerprint, 16 hex>. */
        origin: z.string().default('').refine((o) => o === '' || /^[^\s+]+$/u.test(o), 'must have no spaces and no "+"'),
        /** The daemon signs a checkpoint this often when the ledger grew (seconds); 0 disables the timer. */
        intervalSeconds: z.number().int().min(0).default(3600),
        /** Witness folders (relative paths from the home) that receive every checkpoint. */
        witnesses: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        /** Delete a file from the recorder after its vault copy is verified and ledgered. */
        wipeAfterIngest: z.boolean().default(false),
        /** Before a wipe, read the source again and require the same hash. */
        wipeRereadSource: z.boolean().default(true),
        /** Files copied at once across all recorders (bounded total I/O); also the most copy threads for small files at once. */
        concurrency: z.number().int().min(1).max(64).default(4),
        /** A file whose mtime is younger than this is treated as still being written. */
        settleSeconds: z.number().min(0).max(3600).default(2),
        /** Read buffer per open file, KiB (memory per copy is about twice this). */
        readBufferKb: z.number().int().min(16).max(16384).default(1024),
      })
      .strict()
      .prefault({}),
    jobs: z
      .object({
        /** BullMQ on Redis when set (e.g. redis://127.0.0.1:6379); in-process otherwise. */
        redisUrl: z.string().url().optional(),
        /** BullMQ key prefix, so several stations can share one Redis. */
        prefix: z.string().min(1).default('custody'),
        concurrency: z.number().int().min(1).max(32).default(2),
        maxAttempts: z.number().int().min(1).max(50).default(5),
      })
      .strict()
      .prefault({}),
    media: z
      .object({
        /** Explicit binaries; otherwise the system's, otherwise the bundled ones. */
        ffmpegPath: z.string().min(1).optional(),
        ffprobePath: z.string().min(1).optional(),
        timeoutSeconds: z.number().int().min(1).max(3600).default(60),
        thumbnailWidth: z.number().int().min(32).max(1920).default(320),
      })
      .strict()
      .prefault({}),
    devices: z
      .object({
        /** Folders whose new entries are mounts (or users' folders of mounts); watched one level deep. */
        mountRoots: z.array(z.string().min(1)).default(['/media', '/run/media']),
        /** Folders into which recorders are copied by hand: each entry is docked once at rest. */
        dropFolders: z.array(z.string().min(1)).default([]),
        /** Seconds a drop-folder entry must be unchanged before it is docked. */
        dropSettleSeconds: z.number().min(0).max(3600).default(10),
        /** Profile for drop-folder entries that no status file identifies. */
        dropProfile: z.string().min(1).default('generic-mass-storage'),
        /** Recorder model profiles; default: the bundled config/recorders.yaml. */
        profilesFile: z.string().min(1).optional(),
        /** Listen to USB attach/detach (libusb). Without a USB bus: one warning, mounts only. */
        usb: z.boolean().default(true),
        /** Seconds a new folder under a mount root is looked at again in case it becomes a mount. */
        mountWaitSeconds: z.number().min(0).max(600).default(10),
        /** Everything is looked at again this often, in case an event was missed (0: never). */
        rescanSeconds: z.number().min(0).max(3600).default(30),
        /** Set a recorder's clock to the station's after a complete session, where the driver can. */
        syncClock: z.boolean().default(true),
        /** At shutdown, copies in flight get this long to finish before they are rolled back. */
        stopGraceSeconds: z.number().min(0).max(3600).default(60),
      })
      .strict()
      .prefault({}),
    health: z
      .object({
        /** A recorder with less charge (percent) is not ready for duty. */
        minBatteryPercent: z.number().min(0).max(100).default(30),
        /** A device clock further off than this (seconds, either way) is not ready. */
        maxClockDriftSeconds: z.number().min(0).default(30),
        /** A shift's worth of free space is shiftHours x recordingGbPerHour. */
        shiftHours: z.number().min(0).max(48).default(8),
        recordingGbPerHour: z.number().min(0).max(100).default(2),
        /** An unknown battery, clock or free space makes a recorder not ready. */
        unknownIsNotReady: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /** Items are kept this many calendar months after recording (Art. 11), in `timezone`. */
        months: z.number().int().min(1).max(1200).default(6),
        /** …and never less than this many days after ingest (a late clip is not purged on arrival). */
        minDaysAfterIngest: z.number().int().min(0).max(3650).default(30),
        /** Items are announced (pending-purge) this many days before they go; 0: purged by the run that finds them. */
        noticeDays: z.number().int().min(0).max(365).default(7),
        /** A run refuses to purge more than this fraction of the live vault without --force. */
        maxPurgeFraction: z.number().min(0).max(1).default(0.1),
        /** A run refuses when the clock moved further than this since the last run or ledger entry (or backwards). */
        maxClockJumpDays: z.number().min(1).max(3650).default(7),
        /** The daemon's daily purge run, local time HH:MM in `timezone`; empty: no scheduled run. */
        dailyAt: z
          .string()
          .default('03:30')
          .refine((t) => t === '' || /^([01]\d|2[0-3]):[0-5]\d$/.test(t), 'must be HH:MM (24-hour) or empty'),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8470),
        /**
         * Reverse proxies (addresses or CIDRs, e.g. 127.0.0.1, 10.0.0.0/8) whose
         * X-Forwarded-For is believed; from any other peer it is ignored. Empty: none.
         */
        trustedProxies: z
          .array(z.string().refine((v) => isIP(v.split('/')[0]!) !== 0 && /^[^/]+(\/\d{1,3})?$/.test(v), 'must be an IP address or CIDR'))
          .default([]),
        /**
         * Thumbnails without an access grant: 'none' (default: a thumbnail is content,
         * it needs the same grant as the footage) or 'video-frames' (a video's small
         * frame is served without a grant, and still registered). Photos always need one.
         */
        previews: z.enum(['none', 'video-frames']).default('none'),
        /** Lifetime of a token issued by `custody users add`, in days; 0 = never expires. */
        tokenTtlDays: z.number().int().min(0).max(3650).default(365),
        /** Length of an access grant when the approver gives no expiresAt. */
        grantDefaultHours: z.number().min(0.1).max(8760).default(24),
        /** The longest grant an approver may give. */
        grantMaxHours: z.number().min(0.1).max(8760).default(168),
        /** Failed sign-ins from one address within the window before it is refused (429). */
        authFailureLimit: z.number().int().min(1).max(10000).default(20),
        authFailureWindowSeconds: z.number().int().min(1).max(86400).default(60),
        /** How long refused sign-ins are kept in the catalog. */
        authFailureRetentionDays: z.number().int().min(1).max(3650).default(180),
        /** A console session ends after this many minutes without a request. */
        sessionIdleMinutes: z.number().int().min(1).max(1440).default(30),
        /** A console session ends this many hours after sign-in, however busy. */
        sessionMaxHours: z.number().int().min(1).max(168).default(12),
      })
      .strict()
      .refine((a) => a.grantDefaultHours <= a.grantMaxHours, { message: 'must not exceed grantMaxHours', path: ['grantDefaultHours'] })
      .prefault({}),
    compliance: z
      .object({
        /** Art. 9: footage handed in later than this after the clip's recorded end is late. */
        uploadDeadlineHours: z.number().min(1).max(720).default(24),
        /** Art. 16: a longer stop between consecutive clips of one shift is flagged. */
        maxGapMinutes: z.number().min(1).max(1440).default(30),
        /** Clock drift measured at dock beyond this many seconds (either way) is flagged. */
        maxClockDriftSeconds: z.number().min(0).default(30),
        /** Art. 14: a recorder reported damaged must be handed in for repair within this. */
        repairDeadlineHours: z.number().min(1).max(720).default(24),
        /**
         * A recorder's file number moving on by more than this (going back to a lower
         * number counts as a jump through the wrap) is a numbering reset (formatted or
         * replaced card, new firmware), not that many missing files.
         */
        maxFileNumberJump: z.number().int().min(1).max(999_999).default(1000),
        /** A flag unresolved this long after it was raised is escalated. */
        resolveWithinHours: z.number().min(1).max(8760).default(72),
        /** The daemon scans this often (minutes; 0: only after each dock). */
        scanIntervalMinutes: z.number().int().min(0).max(1440).default(15),
      })
      .strict()
      .prefault({}),
    archive: z
      .object({
        /** Art. 12: an archival export makes this many independent copies (one destination each). */
        copies: z.number().int().min(1).max(10).default(2),
        /** Source-Organization (the making unit) when the case has no unit. */
        sourceOrganization: z.string().default('custody'),
        /**
         * Folders the API may write exports into (burner staging folders, removable disks);
         * a destination must be inside one. Empty: the API refuses exports (the CLI is not limited).
         */
        destinationRoots: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    verification: z
      .object({
        /** The daemon's rolling deep verification re-hashes every object once per this many days (0: off). */
        rollingPeriodDays: z.number().min(0).max(3650).default(30),
        /** …never reading faster than this (MiB/s), whatever the period asks. */
        rollingMaxMbPerSecond: z.number().min(0.1).max(10_000).default(20),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        /** An S3 vault's capacity (its bucket quota) in GiB, for /metrics and the bucket-nearly-full alert; 0: not known. */
        vaultQuotaGb: z.number().min(0).default(0),
        /** `custody doctor` reports a disk with less free than this percentage. */
        minFreePercent: z.number().min(0).max(100).default(10),
        /** `custody doctor` reports a newest catalog snapshot older than this many hours. */
        snapshotMaxAgeHours: z.number().min(1).max(8760).default(26),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** The configuration the rest of custody sees: parsed once, with the home folder resolved, frozen. */
export type Config = ParsedConfig & {
  readonly home: string;
  readonly vault: ParsedConfig['vault'] & { fs: ParsedConfig['vault']['fs'] & { path: string } };
};
