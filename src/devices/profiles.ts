import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/index.js';
import { gat947ParamsSchema } from './gat947/params.js';

/** The profiles shipped with custody (config/recorders.yaml beside dist/ and src/). */
export const BUNDLED_PROFILES_FILE = fileURLToPath(new URL('../../config/recorders.yaml', import.meta.url));

const usbId = z
  .string()
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/, 'must be "vvvv:pppp" in hex, e.g. "1d6b:0002"')
  .transform((s) => s.toLowerCase());

const pattern = z.string().refine((s) => {
  try {
    new RegExp(s, 'u');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** The driver name of the GA/T 947.4 driver. */
export const GAT947_DRIVER = 'gat947';

export const identitySources = ['status-file', 'usb-serial', 'file-name'] as const;
export type IdentitySource = (typeof identitySources)[number];

const profileSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lower-case letters, digits and "-"'),
    name: z.string().min(1),
    model: z.string().min(1).optional(),
    usb: z.array(usbId).default([]),
    detectByStatusFile: z.boolean().default(false),
    driver: z.string().min(1).default('folder'),
    layout: z.object({ mediaDirs: z.array(z.string().min(1).regex(/^[^/\\]+$/, 'a top-level folder name')).default([]) }).strict().prefault({}),
    namePattern: pattern.optional(),
    status: z
      .discriminatedUnion('source', [
        z.object({ source: z.literal('status-file'), file: z.string().min(1).regex(/^[^/\\]+$/, 'a file name at the root') }).strict(),
        z.object({ source: z.literal('none') }).strict(),
      ])
      .default({ source: 'none' }),
    identity: z.array(z.enum(identitySources)).min(1).default(['status-file']),
    clockSync: z.boolean().default(false),
    /**
     * Does an unchecked recorder (battery or clock could not be read) count as not
     * ready? Absent: config health.unknownIsNotReady decides.
     */
    unknownIsNotReady: z.boolean().optional(),
    /** GA/T 947.4 parameters (driver "gat947"); absent with that driver: the defaults. */
    gat947: gat947ParamsSchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.gat947 && p.driver !== GAT947_DRIVER) {
      ctx.addIssue({ code: 'custom', path: ['gat947'], message: `GA/T 947.4 parameters need driver "${GAT947_DRIVER}"` });
    }
    if (p.detectByStatusFile && p.status.source !== 'status-file') {
      ctx.addIssue({ code: 'custom', path: ['detectByStatusFile'], message: 'needs status.source "status-file"' });
    }
    if (p.identity.includes('file-name') && (!p.namePattern || !/\(\?<serial>/.test(p.namePattern))) {
      ctx.addIssue({ code: 'custom', path: ['identity'], message: 'identity "file-name" needs a namePattern with a named group "serial"' });
    }
  });

const fileSchema = z
  .object({ profiles: z.array(profileSchema).min(1) })
  .strict()
  .superRefine((f, ctx) => {
    const ids = new Set<string>();
    const usb = new Map<string, string>();
    f.profiles.forEach((p, i) => {
      if (ids.has(p.id)) ctx.addIssue({ code: 'custom', path: ['profiles', i, 'id'], message: `duplicate profile id ${p.id}` });
      ids.add(p.id);
      for (const u of p.usb) {
        const other = usb.get(u);
        if (other) ctx.addIssue({ code: 'custom', path: ['profiles', i, 'usb'], message: `${u} is already claimed by profile ${other}` });
        usb.set(u, p.id);
      }
    });
  });

export type RecorderProfile = z.output<typeof profileSchema>;

/** The profile schema, for writing a profile a station learned (`custody devices learn`). */
export const recorderProfileSchema = profileSchema;
export const recorderProfilesFileSchema = fileSchema;

/** A USB id as "vvvv:pppp", lower-case hex. */
export function usbKey(vendorId: number, productId: number): string {
  const h = (n: number): string => n.toString(16).padStart(4, '0');
  return `${h(vendorId)}:${h(productId)}`;
}

/**
 * The known recorder models. Read once at start; unknown devices match nothing and
 * are ignored.
 */
export class ProfileSet {
  private readonly byId = new Map<string, RecorderProfile>();
  private readonly byUsbId = new Map<string, RecorderProfile>();

  constructor(
    readonly profiles: readonly RecorderProfile[],
    /** Where they were read from, for messages. */
    readonly source: string,
  ) {
    for (const p of profiles) {
      this.byId.set(p.id, p);
      for (const u of p.usb) this.byUsbId.set(u, p);
    }
  }

  get(id: string): RecorderProfile | null {
    return this.byId.get(id) ?? null;
  }

  byUsb(vendorId: number, productId: number): RecorderProfile | null {
    return this.byUsbId.get(usbKey(vendorId, productId)) ?? null;
  }

  /** Status-file names that mark a folder as a recorder (profiles with detectByStatusFile). */
  get statusFiles(): string[] {
    return [...new Set(this.profiles.flatMap((p) => (p.detectByStatusFile && p.status.source === 'status-file' ? [p.status.file] : [])))];
  }

  /** The first profile whose status file is at the root of `dir`, or null. */
  async byStatusFile(dir: string): Promise<RecorderProfile | null> {
    for (const p of this.profiles) {
      if (!p.detectByStatusFile || p.status.source !== 'status-file') continue;
      if (await exists(join(dir, p.status.file))) return p;
    }
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Parse profiles from YAML text; every problem is reported at once (ConfigError). */
export function parseProfiles(text: string, source: string): ProfileSet {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`recorder profiles ${source} are not valid YAML: ${errorMessage(e)}`);
  }
  const r = fileSchema.safeParse(doc);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid recorder profiles ${source}: ${problems.join('; ')}`, problems);
  }
  return new ProfileSet(r.data.profiles, source);
}

/** Load the profiles file (default: the bundled config/recorders.yaml). */
export function loadProfiles(file: string = BUNDLED_PROFILES_FILE): ProfileSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read recorder profiles ${file}: ${errorMessage(e)}`, [], { cause: e });
  }
  return parseProfiles(text, file);
}
