import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('bounds holders and serves waiters in arrival order', async () => {
    const s = new Semaphore(2);
    const order: string[] = [];
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    expect(s.available).toBe(0);
    const a = s.acquire().then((r) => (order.push('a'), r));
    const b = s.acquire().then((r) => (order.push('b'), r));
    expect(s.queued).toBe(2);
    r2();
    r2(); // a second release of the same slot is ignored
    const ra = await a;
    expect(order).toEqual(['a']);
    r1();
    const rb = await b;
    expect(order).toEqual(['a', 'b']);
    ra();
    rb();
    expect(s.available).toBe(2);
  });

  it('drops a waiter whose signal aborts', async () => {
    const s = new Semaphore(1);
    const r = await s.acquire();
    const ac = new AbortController();
    const p = s.acquire(ac.signal);
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(s.queued).toBe(0);
    r();
    expect(s.available).toBe(1);
  });
});
