import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { errorMessage } from '../../core/index.js';
import { Gat947Error } from './errors.js';

const byte = z.number().int().min(0).max(255);
/** A command number, or null when the model has no such call. */
const command = byte.nullable();

/**
 * The GA/T 947.4 parameters of a model profile (`gat947:` in recorders.yaml). The
 * public record of the interface is vendor code, not the standard's text, so every
 * opcode, command number and size is a parameter with the observed value as default.
 */
export const gat947ParamsSchema = z
  .object({
    /** usb: vendor SCSI commands over Bulk-Only Transport; tcp: the same calls over a socket (Android recorders). */
    transport: z.enum(['usb', 'tcp']).default('usb'),
    usb: z
      .object({
        /** Interface number to claim; absent: the first mass-storage interface with bulk endpoints. */
        interface: z.number().int().min(0).max(255).optional(),
        lun: z.number().int().min(0).max(15).default(0),
        /** Each transfer's limit; a command never waits longer than a few of these. */
        timeoutMs: z.number().int().min(50).max(60_000).default(3000),
        /** Detach the kernel's usb-storage driver while talking, and re-attach it after. */
        detachKernelDriver: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    tcp: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
        timeoutMs: z.number().int().min(50).max(60_000).default(3000),
        /** Byte order of the 4-byte frame length. */
        lengthOrder: z.enum(['be', 'le']).default('be'),
      })
      .strict()
      .optional(),
    /** The 16-byte CDB of the vendor commands: cdb[0] opcode, cdb[1] direction code, cdb[5] command, cdb[7] length. */
    scsi: z
      .object({
        writeOpcode: byte.default(0xfb),
        writeCode: byte.default(0x82),
        readOpcode: byte.default(0xfd),
        readCode: byte.default(0x81),
      })
      .strict()
      .prefault({}),
    commands: z
      .object({
        getIdCode: command.default(2),
        getDevInfo: command.default(3),
        syncDevTime: command.default(5),
        setMsdc: command.default(6),
        readBattery: command.default(8),
        /** Vendor addition (TF-card volume); null: storage comes from the mounted filesystem. */
        getSdStatus: command.default(0x0c),
        /** Vendor addition; null (the default): the device clock cannot be read, drift is estimated. */
        getTime: command.default(null),
        getReturnStatus: command.default(0x0e),
      })
      .strict()
      .prefault({}),
    /** ZFY_INFO as the model sends it: 94 bytes (1-byte packed, terminated), 89 (no terminators), or either. */
    zfyInfoLayout: z.enum(['auto', '94', '89']).default('auto'),
    /** Bytes of the ID code answer, and of the password field in a call's payload (GBK, NUL padded). */
    idCodeBytes: byte.min(1).default(32),
    passwordBytes: byte.default(16),
    /**
     * The device password: from a file (first line) or an environment variable. A secret:
     * never in the profile itself, the ledger or the logs. Absent: the model has none.
     */
    password: z.union([z.object({ file: z.string().min(1) }).strict(), z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }).strict()]).optional(),
    /** After SetMSDC, how long to wait for the recorder's storage to be mounted. */
    mountWaitSeconds: z.number().int().min(1).max(600).default(60),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.transport === 'tcp' && !p.tcp) ctx.addIssue({ code: 'custom', path: ['tcp'], message: 'transport "tcp" needs tcp.host and tcp.port' });
    if (p.commands.getDevInfo === null) ctx.addIssue({ code: 'custom', path: ['commands', 'getDevInfo'], message: 'the driver needs GetZFYInfo to identify a recorder' });
  });

export type Gat947Params = z.output<typeof gat947ParamsSchema>;
export type Gat947Call = keyof Gat947Params['commands'];

/**
 * Read the device password the profile names. Resolved when a driver is made (never
 * at import); the value is handed to the link and never logged.
 */
export async function readPassword(p: Gat947Params, env: Readonly<Record<string, string | undefined>>): Promise<string | null> {
  const src = p.password;
  if (!src) return null;
  if ('env' in src) {
    const v = env[src.env];
    if (v === undefined || v === '') throw new Gat947Error('GAT947_PASSWORD_UNAVAILABLE', `the device password variable ${src.env} is not set`);
    return v;
  }
  try {
    const text = await readFile(src.file, 'utf8');
    const first = text.split(/\r?\n/, 1)[0] ?? '';
    if (first === '') throw new Error('the file is empty');
    return first;
  } catch (e) {
    throw new Gat947Error('GAT947_PASSWORD_UNAVAILABLE', `the device password file ${src.file} cannot be read: ${errorMessage(e)}`);
  }
}
