import { describe, expect, it } from 'vitest';
import { settledWithin } from './time.js';

describe('settledWithin', () => {
  it('is true for a promise that resolves or rejects in time, false for one that does not, and never rejects', async () => {
    expect(await settledWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('read failed')), 1000)).toBe(true);
    expect(await settledWithin(new Promise((r) => setTimeout(r, 10)), 1000)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 30)).toBe(false);
  });
});
