import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

/** A committer that records the groups it was given. */
function recording(): { groups: number[][]; commit: (items: number[]) => Promise<string[]> } {
  const groups: number[][] = [];
  return {
    groups,
    commit: async (items) => {
      groups.push([...items]);
      return items.map((i) => `ok ${i}`);
    },
  };
}

describe('GroupCommit', () => {
  it('commits an item after a quiet spell at once, alone; items right after a commit wait for one another up to the linger', async () => {
    const { groups, commit } = recording();
    const gc = new GroupCommit(commit, { files: 64, bytes: 1 << 30, lingerMs: 1000 });
    expect(await gc.add(1, 10)).toBe('ok 1');
    expect(groups).toEqual([[1]]);
    // Right after that commit: items handed in on the next turns of the event loop (well
    // within the linger) go together.
    const rest: Array<Promise<string>> = [];
    for (let i = 2; i <= 5; i++) {
      rest.push(gc.add(i, 10));
      await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(rest)).toEqual(['ok 2', 'ok 3', 'ok 4', 'ok 5']);
    expect(groups).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('commits a full window at once, without its linger', async () => {
    const { groups, commit } = recording();
    const gc = new GroupCommit(commit, { files: 3, bytes: 1 << 30, lingerMs: 60_000 });
    await gc.add(0, 1);
    // Right after a commit (so they would linger) a full window comes: it does not wait.
    const all = [1, 2, 3].map((i) => gc.add(i, 1));
    expect(await Promise.all(all)).toEqual(['ok 1', 'ok 2', 'ok 3']);
    expect(groups).toEqual([[0], [1, 2, 3]]);
  });

  it('commits what waits at once when idle() is asked (the end of a session)', async () => {
    const { groups, commit } = recording();
    const gc = new GroupCommit(commit, { files: 64, bytes: 1 << 30, lingerMs: 60_000 });
    await gc.add(0, 1);
    // Right after a commit, new items linger…
    const a = gc.add(1, 1);
    const b = gc.add(2, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(groups).toEqual([[0]]);
    // …until idle() is asked.
    await gc.idle();
    expect(groups).toEqual([[0], [1, 2]]);
    expect(await Promise.all([a, b])).toEqual(['ok 1', 'ok 2']);
  });

  it('without a linger an item that finds the committer idle is committed alone, at once', async () => {
    const { groups, commit } = recording();
    const gc = new GroupCommit(commit, { files: 64, bytes: 1 << 30, lingerMs: 0 });
    expect(await gc.add(1, 1)).toBe('ok 1');
    expect(await gc.add(2, 1)).toBe('ok 2');
    expect(groups).toEqual([[1], [2]]);
  });

  it('fails every item of a group whose commit throws, and goes on with the next group', async () => {
    let n = 0;
    const gc = new GroupCommit<number, string>(
      async (items) => {
        if (n++ === 1) throw new Error('disk gone');
        return items.map(String);
      },
      { files: 2, bytes: 1 << 30, lingerMs: 5 },
    );
    expect(await gc.add(0, 1)).toBe('0');
    const [a, b] = [gc.add(1, 1), gc.add(2, 1)];
    await expect(a).rejects.toThrow('disk gone');
    await expect(b).rejects.toThrow('disk gone');
    expect(await gc.add(3, 1)).toBe('3');
  });
});
