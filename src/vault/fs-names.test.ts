import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/tmp.js';
import { publishNames, publishNamesTraced } from './fs-names.js';

/** A temp file with some bytes, as a staged put leaves it. */
async function staged(dir: string, name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('the vault names thread', () => {
  it('a group linking into a folder another group made, before that group synced it, also syncs the folder chain', async () => {
    const root = await tempDir();
    const tmp = join(root, '.tmp');
    await mkdir(tmp);
    const objects = join(root, 'objects');
    await mkdir(objects);
    const folder = join(objects, 'ab', 'cd');
    const chain = [objects, join(objects, 'ab'), folder];

    // Two groups handed over back to back: the thread takes the second while the first
    // still waits for its folder syncs (both messages are delivered before any I/O completes).
    const [ta, tb] = [await staged(tmp, 'a.part', 'one'), await staged(tmp, 'b.part', 'two')];
    const first = publishNamesTraced({ fsync: true, items: [{ tmp: ta, final: join(folder, 'abcd1') }] });
    const second = publishNamesTraced({ fsync: true, items: [{ tmp: tb, final: join(folder, 'abcd2') }] });
    const [a, b] = await Promise.all([first, second]);
    expect(a.out).toEqual([{ kind: 'created', storedSize: 3 }]);
    expect(b.out).toEqual([{ kind: 'created', storedSize: 3 }]);
    // The first made the folders: it syncs each new name's parent.
    expect(new Set(a.synced)).toEqual(new Set(chain));
    // The second made nothing, yet its name is durable only with the folders': it syncs them too.
    expect(new Set(b.synced)).toEqual(new Set(chain));

    // Once a group synced the chain without error, later groups sync only their own folder.
    const third = await publishNamesTraced({ fsync: true, items: [{ tmp: await staged(tmp, 'c.part', 'three'), final: join(folder, 'abcd3') }] });
    expect(third.out).toEqual([{ kind: 'created', storedSize: 5 }]);
    expect(third.synced).toEqual([folder]);
    expect(await readFile(join(folder, 'abcd2'), 'utf8')).toBe('two');
    // The temp names are gone; the content stays under its name only.
    await expect(stat(join(tmp, 'b.part'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a name already there is reported with its size, and not linked again', async () => {
    const root = await tempDir();
    const folder = join(root, 'objects', 'ef', '01');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'ef01x'), 'stored');
    const out = await publishNames({ fsync: true, items: [{ tmp: await staged(root, 'x.part', 'other'), final: join(folder, 'ef01x') }] });
    expect(out).toEqual([{ kind: 'exists', storedSize: 6 }]);
    expect(await readFile(join(folder, 'ef01x'), 'utf8')).toBe('stored');
  });
});
