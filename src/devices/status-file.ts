import { z } from 'zod';
import { CustodyError } from '../core/index.js';

/**
 * The status file of a simulated recorder: what a real driver would read over the
 * vendor interface (GA/T 947.4 ZFY_INFO, battery, and the vendor storage and clock
 * calls), written as JSON at the root of the recorder's storage so the simulated
 * driver can serve the same snapshot a hardware one would.
 */
export const RECORDER_STATUS_FILE = 'RECORDER.JSON';
export const RECORDER_STATUS_FORMAT = 'custody-sim-recorder/1';

export const recorderStatusSchema = z
  .object({
    format: z.literal(RECORDER_STATUS_FORMAT),
    /** Recorder serial (ZFY_INFO cSerial). */
    serial: z.string().min(1).max(64),
    model: z.string().min(1).max(64),
    /** Officer number (ZFY_INFO userNo, 警号). */
    officer: z.string().min(1).max(64),
    /** Officer name (ZFY_INFO userName), optional on real devices too. */
    officerName: z.string().min(1).max(64).optional(),
    /** Unit number (ZFY_INFO unitNo). */
    unit: z.string().min(1).max(64),
    /** Battery charge, percent. */
    battery: z.number().int().min(0).max(100),
    /** Device clock minus true time, in seconds: positive means the recorder runs ahead. */
    clockOffsetSeconds: z.number(),
    storageTotalBytes: z.number().int().min(0),
    storageFreeBytes: z.number().int().min(0),
  })
  .refine((s) => s.storageFreeBytes <= s.storageTotalBytes, {
    message: 'storageFreeBytes exceeds storageTotalBytes',
    path: ['storageFreeBytes'],
  });

export type RecorderStatus = z.infer<typeof recorderStatusSchema>;

/** Parse the text of a RECORDER.JSON; throws RECORDER_STATUS_INVALID (not retryable). */
export function parseRecorderStatus(text: string, source = RECORDER_STATUS_FILE): RecorderStatus {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new CustodyError('RECORDER_STATUS_INVALID', `${source} is not JSON`, { cause: e });
  }
  const r = recorderStatusSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new CustodyError('RECORDER_STATUS_INVALID', `${source} is invalid: ${problems.join('; ')}`, { details: { problems } });
  }
  return r.data;
}
