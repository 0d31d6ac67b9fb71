/**
 * The console's API types cannot drift from the API (issue 15): the committed OpenAPI
 * document and the types generated from it are exactly what the current routes produce.
 * When this fails, run `npm run openapi` and commit the two files with the route change.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { currentOpenApi, OPENAPI_JSON, SCHEMA_TS } from '../../../scripts/openapi.js';

describe('generated API types', () => {
  it('web/src/api/openapi.json and schema.d.ts are what the current routes produce', async () => {
    const { json, types } = await currentOpenApi();
    const committed = { json: await readFile(OPENAPI_JSON, 'utf8'), types: await readFile(SCHEMA_TS, 'utf8') };
    // Compared as documents first, so a failure names the path that changed.
    expect(JSON.parse(committed.json), 'web/src/api/openapi.json is stale: run npm run openapi').toEqual(JSON.parse(json));
    expect(committed.json === json, 'web/src/api/openapi.json is formatted differently: run npm run openapi').toBe(true);
    expect(committed.types === types, 'web/src/api/schema.d.ts is stale: run npm run openapi').toBe(true);
  });

  it('the console uses routes the document has', async () => {
    const doc = JSON.parse(await readFile(OPENAPI_JSON, 'utf8')) as { paths: Record<string, unknown> };
    for (const p of ['/api/v1/evidence', '/api/v1/evidence/{id}', '/api/v1/access-requests', '/api/v1/docks', '/api/v1/devices/{id}', '/api/v1/events']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
