import { describe, expect, it } from 'vitest';
import { FailedAuthLimiter } from './auth.js';

describe('FailedAuthLimiter', () => {
  it('blocks an address past the limit until its window ends, and keeps others apart', () => {
    let now = 1_000_000;
    const l = new FailedAuthLimiter({ limit: 2, windowMs: 60_000, now: () => now });
    expect([l.fail('a'), l.fail('a')]).toEqual([false, false]);
    expect(l.blockedFor('a')).toBe(0);
    expect(l.fail('a')).toBe(true);
    expect(l.fail('a')).toBe(false); // already blocked: crossing is reported once
    expect(l.blockedFor('a')).toBe(60);
    expect(l.blockedFor('b')).toBe(0);
    now += 59_001;
    expect(l.blockedFor('a')).toBe(1);
    now += 999;
    expect(l.blockedFor('a')).toBe(0);
    // A new window starts from zero.
    expect([l.fail('a'), l.fail('a'), l.fail('a')]).toEqual([false, false, true]);
  });

  it('forgets old windows and bounds how many addresses it keeps', () => {
    let now = 0;
    const l = new FailedAuthLimiter({ limit: 1, windowMs: 1000, maxAddresses: 3, now: () => now });
    for (const ip of ['a', 'b', 'c', 'd']) {
      l.fail(ip);
      l.fail(ip);
    }
    // 'a' was dropped to make room: it is no longer blocked; the three newest are.
    expect(['a', 'b', 'c', 'd'].map((ip) => l.blockedFor(ip) > 0)).toEqual([false, true, true, true]);
    now = 5000;
    expect(['b', 'c', 'd'].map((ip) => l.blockedFor(ip))).toEqual([0, 0, 0]);
  });
});
