import { describe, expect, it } from 'vitest';
import { CopyThreads } from './copy-threads.js';

describe('CopyThreads', () => {
  it('gives at most max places at once, and a place back once released (a second release does nothing)', () => {
    const threads = new CopyThreads(2);
    const a = threads.take();
    const b = threads.take();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(threads.take()).toBeNull();
    expect(threads.inUse).toBe(2);
    a!();
    a!();
    expect(threads.inUse).toBe(1);
    const c = threads.take();
    expect(c).not.toBeNull();
    expect(threads.take()).toBeNull();
    b!();
    c!();
    expect(threads.inUse).toBe(0);
  });

  it('refuses a budget that is not a positive integer', () => {
    expect(() => new CopyThreads(0)).toThrow(RangeError);
    expect(() => new CopyThreads(1.5)).toThrow(RangeError);
  });
});
