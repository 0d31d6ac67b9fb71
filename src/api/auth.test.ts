import { describe, expect, it } from 'vitest';
import { FailedAuthLimiter, redactUrl, tokenInUrl } from './auth.js';

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

describe('tokens in URLs (issue 14)', () => {
  const token = `cst_${'A1b2_-'.repeat(7)}x`;
  it('finds a credential in the query string, by name or by form', () => {
    expect(tokenInUrl(`/api/v1/me?access_token=${token}`)).toBe(true);
    expect(tokenInUrl(`/api/v1/me?ACCESS_TOKEN=abc`)).toBe(true);
    expect(tokenInUrl(`/api/v1/evidence?officer=0417&q=${token}`)).toBe(true);
    expect(tokenInUrl(`/api/v1/evidence?officer=0417&q=${encodeURIComponent(token)}`)).toBe(true);
    expect(tokenInUrl('/api/v1/evidence?officer=0417&limit=5')).toBe(false);
    expect(tokenInUrl('/api/v1/evidence')).toBe(false);
  });

  it('never lets a token through into what is stored or logged', () => {
    const out = redactUrl(`/api/v1/x/${token}?officer=0417&access_token=${token}&q=${token}`);
    expect(out).not.toContain(token.slice(4));
    expect(out).toBe('/api/v1/x/cst_[redacted]?officer=0417&access_token=[redacted]&q=[redacted]');
    expect(redactUrl('/api/v1/evidence?officer=0417')).toBe('/api/v1/evidence?officer=0417');
  });
});
