import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * Issue 13: the module map of docs/architecture.md is enforced by `npm run lint`
 * (eslint.config.js). These lint snippets as if they were files of the project,
 * with the project's own configuration.
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function problems(filePath: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

describe('npm run lint enforces the module map (issue 13)', { timeout: 60_000 }, () => {
  it('refuses a deep import into another folder and accepts the same import through its index', async () => {
    const deep = await problems('src/ingest/lint-probe.ts', "import { Catalog } from '../catalog/catalog.js';\nexport const c = Catalog;\n");
    expect(deep).toEqual([expect.objectContaining({ rule: 'boundaries/dependencies', message: expect.stringContaining('only through its index.ts') })]);
    const viaIndex = await problems('src/ingest/lint-probe.ts', "import { Catalog } from '../catalog/index.js';\nexport const c = Catalog;\n");
    expect(viaIndex).toEqual([]);
  });

  it('refuses an import against the layer order, even through the index', async () => {
    const up = await problems('src/catalog/lint-probe.ts', "import { Ledger } from '../ledger/index.js';\nexport const l = Ledger;\n");
    expect(up.map((p) => p.rule)).toEqual(['boundaries/dependencies']);
    const intoApi = await problems('src/retention/lint-probe.ts', "import { createApiServer } from '../api/index.js';\nexport const s = createApiServer;\n");
    expect(intoApi.map((p) => p.rule)).toEqual(['boundaries/dependencies']);
  });

  it('lets a folder reach its own files directly', async () => {
    const own = await problems('src/ledger/lint-probe.ts', "import { LedgerSealer } from './segments.js';\nexport const s = LedgerSealer;\n");
    expect(own).toEqual([]);
  });

  it('lets only the adapters import the libraries they wrap', async () => {
    const service = await problems('src/ingest/lint-probe.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\nexport const u = () => import('usb');\n");
    expect(service.map((p) => p.rule)).toEqual(['no-restricted-imports', 'no-restricted-syntax']);
    const adapter = await problems('src/catalog/db.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\n");
    expect(adapter).toEqual([]);
  });
});
