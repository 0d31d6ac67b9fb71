/**
 * Every visible string is in both locale files (issue 15): a key the console uses that
 * either file lacks fails here, as does a key one file has and the other does not, and
 * a key nothing uses.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('..', import.meta.url));

type Tree = { [k: string]: string | Tree };
function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (/\.(vue|ts)$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const zh = flatten(JSON.parse(await readFile(join(SRC, 'locales/zh-CN.json'), 'utf8')) as Tree);
const en = flatten(JSON.parse(await readFile(join(SRC, 'locales/en.json'), 'utf8')) as Tree);
const code = (await Promise.all((await sources(SRC)).map((f) => readFile(f, 'utf8')))).join('\n');

/** Keys named whole in the code: t('a.b'), te('a.b'), and route titles and link labels (title: 'a.b', label: 'a.b'). */
const literal = new Set([...code.matchAll(/(?:\bte?\(\s*|\b(?:title|label): )['"`]([a-zA-Z]+(?:\.[a-zA-Z0-9-]+)+)['"`]/g)].map((m) => m[1]!));
/** Keys built in the code: t(`docks.verdict.${v}`) names every key under docks.verdict. */
const prefixes = new Set([...code.matchAll(/`([a-zA-Z]+(?:\.[a-zA-Z0-9-]+)*\.)\$\{/g)].map((m) => m[1]!));

describe('locales', () => {
  it('no key has a dot in it (vue-i18n reads a dot as a level: such a key is never found)', async () => {
    for (const f of ['zh-CN.json', 'en.json']) {
      const text = await readFile(join(SRC, 'locales', f), 'utf8');
      expect([...text.matchAll(/"([^"]*\.[^"]*)"\s*:/g)].map((m) => m[1]), f).toEqual([]);
    }
  });

  it('zh-CN and en have the same keys', () => {
    expect([...en.keys()].filter((k) => !zh.has(k)), 'in en.json, missing from zh-CN.json').toEqual([]);
    expect([...zh.keys()].filter((k) => !en.has(k)), 'in zh-CN.json, missing from en.json').toEqual([]);
  });

  it('every key the code names is in both', () => {
    const used = [...literal];
    expect(used.length).toBeGreaterThan(100);
    expect(used.filter((k) => !zh.has(k)), 'named in the code, missing from zh-CN.json').toEqual([]);
    expect(used.filter((k) => !en.has(k)), 'named in the code, missing from en.json').toEqual([]);
  });

  it('every key is used', () => {
    const unused = [...zh.keys()].filter((k) => !literal.has(k) && ![...prefixes].some((p) => k.startsWith(p)));
    expect(unused, 'in the locale files, used nowhere').toEqual([]);
  });

  it('no value is empty, and zh-CN has no English sentence left in it', () => {
    for (const [k, v] of [...zh, ...en]) expect(v.trim(), k).not.toBe('');
    // Latin words allowed in zh-CN: units and names (GB, SHA-256, ID).
    const english = [...zh].filter(([, v]) => /[a-zA-Z]{3,}/.test(v.replace(/\{[a-z]+\}|SHA-256|GB|ID/g, '')));
    expect(english).toEqual([]);
  });

  it('every ledger entry type has a name in both', async () => {
    const table = await readFile(fileURLToPath(new URL('../../../src/ledger/entry-types.ts', import.meta.url)), 'utf8');
    const types = [...table.matchAll(/^\s+'?([a-z]+(?:\.[a-z-]+)+)'?: /gm)].map((m) => m[1]!);
    expect(types).toContain('access.viewed');
    expect(types.filter((t) => !zh.has(`ledgerType.${t}`) || !en.has(`ledgerType.${t}`))).toEqual([]);
  });

  it('every API error code the console maps is one the API has', async () => {
    const table = await readFile(fileURLToPath(new URL('../../../src/core/error-codes.ts', import.meta.url)), 'utf8');
    const apiCodes = new Set([...table.matchAll(/^\s+([A-Z0-9_]+): \{ http:/gm)].map((m) => m[1]!));
    // Codes made by the console itself or by the HTTP framework.
    const own = new Set(['NETWORK', 'URI_TOO_LONG', 'RATE_LIMITED']);
    const mapped = [...zh.keys()].filter((k) => /^errors\.[A-Z]/.test(k)).map((k) => k.slice('errors.'.length));
    expect(mapped.filter((c) => !apiCodes.has(c) && !own.has(c))).toEqual([]);
  });
});
