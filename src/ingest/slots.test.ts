import { describe, expect, it } from 'vitest';
import { IngestSlots } from './slots.js';

/** Issue 18: a newly docked recorder copies at once; the bound applies beyond one copy per recorder. */
describe('IngestSlots', () => {
  it('lets every session hold one slot at once, bounds the rest by concurrency, and gives a freed slot to the session holding fewest', async () => {
    const slots = new IngestSlots(2);
    const a = slots.forSession();
    const b = slots.forSession();
    const c = slots.forSession();
    const a1 = await a.acquire();
    const a2 = await a.acquire();
    // The bound is reached, yet a new session's first file starts at once.
    const b1 = await b.acquire();
    let a3: (() => void) | null = null;
    let b2: (() => void) | null = null;
    void a.acquire().then((r) => (a3 = r));
    void b.acquire().then((r) => (b2 = r));
    const c1 = await c.acquire();
    await Promise.resolve();
    expect(a3).toBeNull();
    expect(b2).toBeNull();
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    // Four held against a bound of 2: freeing one or two grants nothing to second files.
    a1();
    c1();
    await tick();
    expect(a3).toBeNull();
    expect(b2).toBeNull();
    // b now holds none: its file goes first (fewest held), though a asked before it.
    b1();
    await tick();
    expect(b2).not.toBeNull();
    expect(a3).toBeNull();
    a2();
    await tick();
    expect(a3).not.toBeNull();
  });

  it('takes an aborted waiter out of the queue', async () => {
    const slots = new IngestSlots(1);
    const a = slots.forSession();
    const r1 = await a.acquire();
    const ac = new AbortController();
    const waiting = a.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    r1();
    // The slot is free again for the next asker.
    const r2 = await a.acquire();
    r2();
  });
});
