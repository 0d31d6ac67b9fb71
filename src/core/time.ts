/** RFC 3339 UTC with milliseconds, e.g. 2026-11-27T14:34:45.123Z. */
export function rfc3339(d: Date): string {
  return d.toISOString();
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Did `p` settle (resolve or reject) within `ms`? Never rejects; the timer is cleared
 * either way. For the waits that must not last for ever: a step or a stop that waits on
 * a recorder whose read may never return.
 */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((res) => {
    timer = setTimeout(() => res(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
