import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/index.js';
import { FollowUpHold } from './follow-up-hold.js';

const limits = { maxHoldMs: 10 * 60_000, sliceMs: 60_000 };

describe('FollowUpHold', () => {
  let calls: boolean[];
  let hold: FollowUpHold;

  beforeEach(() => {
    vi.useFakeTimers();
    calls = [];
    hold = new FollowUpHold(
      (on) => {
        calls.push(on);
        return Promise.resolve();
      },
      silentLogger,
      limits,
    );
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds while the docks copy and releases when they stop, telling the runner each change once', () => {
    hold.busy(true);
    hold.busy(true);
    expect(calls).toEqual([true]);
    vi.advanceTimersByTime(limits.maxHoldMs - 1);
    hold.busy(false);
    hold.busy(false);
    expect(calls).toEqual([true, false]);
    // Nothing is left armed: no later change of its own.
    vi.advanceTimersByTime(limits.maxHoldMs * 3);
    expect(calls).toEqual([true, false]);
  });

  it('lifts a hold that lasted maxHoldMs for sliceMs, then holds again while the docks are still busy', () => {
    hold.busy(true);
    vi.advanceTimersByTime(limits.maxHoldMs);
    expect(calls).toEqual([true, false]);
    vi.advanceTimersByTime(limits.sliceMs - 1);
    expect(calls).toEqual([true, false]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([true, false, true]);
    // And again after the next full hold: a minute in eleven, all day.
    vi.advanceTimersByTime(limits.maxHoldMs + limits.sliceMs);
    expect(calls).toEqual([true, false, true, false, true]);
  });

  it('a dock going idle during the slice leaves the jobs running; a new dock holds them at once, for a fresh maxHoldMs', () => {
    hold.busy(true);
    vi.advanceTimersByTime(limits.maxHoldMs);
    hold.busy(false);
    vi.advanceTimersByTime(limits.sliceMs * 2);
    expect(calls).toEqual([true, false]);
    hold.busy(true);
    expect(calls).toEqual([true, false, true]);
    vi.advanceTimersByTime(limits.maxHoldMs - 1);
    expect(calls).toEqual([true, false, true]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([true, false, true, false]);
  });

  it('the slice ending after the docks went idle and busy again does not double the hold', () => {
    hold.busy(true);
    vi.advanceTimersByTime(limits.maxHoldMs); // slice starts
    hold.busy(false);
    hold.busy(true); // held at once, with its own timer
    vi.advanceTimersByTime(limits.sliceMs); // the old slice's end must not fire
    expect(calls).toEqual([true, false, true]);
  });
});
