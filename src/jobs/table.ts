import { z } from 'zod';

/**
 * The jobs a runner runs: each name with the schema of its payload. A runner given a
 * table refuses to register a handler for a name not in it, refuses to start while a
 * name in it has no handler, and checks each payload against its schema when the job
 * is taken from the queue: a payload of the wrong shape can never succeed, so the job
 * fails at once (JOBS_PAYLOAD_INVALID), without retries.
 */
export type JobTable = Readonly<Record<string, z.ZodType>>;

/** The station's jobs (docs/jobs.md). */
export const JOBS = {
  /** Probe a vault object with ffprobe, make its thumbnail, record `evidence.analysed`. */
  'evidence.analyse': z.object({ evidenceId: z.string().min(1) }),
  /** Make a browser-playable proxy of an item a browser cannot play, record `evidence.proxied` (docs/media.md). */
  'evidence.proxy': z.object({ evidenceId: z.string().min(1) }),
} as const satisfies JobTable;

export type JobName = keyof typeof JOBS;

/** The payload of a station job, as its handler receives it. */
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]>;
