import type { Logger } from '../core/index.js';

/** How long follow-ups may wait for the docks, and how long they then run before waiting again. */
export interface HoldLimits {
  /** The longest one hold lasts while recorders keep being copied (ms). */
  maxHoldMs: number;
  /** How long follow-ups run once a hold has lasted maxHoldMs, before the next hold (ms). */
  sliceMs: number;
}

/**
 * Ten minutes held, then one minute of follow-ups: when the docks copy all day, probes,
 * thumbnails and proxies still get about a tenth of the time (at nice 19), so an item
 * ingested in the morning has its thumbnail before the evening, and eight recorders
 * copying are slowed by them for at most that minute in eleven.
 */
export const DEFAULT_HOLD_LIMITS: HoldLimits = { maxHoldMs: 10 * 60_000, sliceMs: 60_000 };

/**
 * Holds the follow-up jobs while any recorder is being copied (`busy(true)` … `busy(false)`),
 * with a bound: a hold that has lasted `maxHoldMs` is lifted for `sliceMs`, then taken
 * again while the docks are still busy. `hold` is the job runner's (it never rejects,
 * also after the runner stopped); the timers are unref'd, so they keep no process alive.
 */
export class FollowUpHold {
  private busyNow = false;
  private held = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hold: (on: boolean) => Promise<void>,
    private readonly log: Logger,
    private readonly limits: HoldLimits = DEFAULT_HOLD_LIMITS,
  ) {}

  /** Whether any recorder is being copied; called on every change. */
  busy(on: boolean): void {
    if (on === this.busyNow) return;
    this.busyNow = on;
    this.clearTimer();
    if (on) this.take();
    else this.set(false);
  }

  private take(): void {
    this.set(true);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.busyNow) return;
      this.log.info({ heldMinutes: this.limits.maxHoldMs / 60_000, runMinutes: this.limits.sliceMs / 60_000 }, 'follow-ups waited for the docks long enough; they run for a while');
      this.set(false);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.busyNow) this.take();
      }, this.limits.sliceMs);
      this.timer.unref();
    }, this.limits.maxHoldMs);
    this.timer.unref();
  }

  private set(on: boolean): void {
    if (on === this.held) return;
    this.held = on;
    void this.hold(on);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
