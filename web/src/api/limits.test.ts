/** The console's form checks use the API's own limits (issue 15: forms validated as the API schema does). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OPENAPI_JSON } from '../../../scripts/openapi.js';
import { ACCESS_REQUEST, FLAG_RULES, LABEL, MEDIA_TYPES, SERIAL, SIGN_IN, UUID } from './limits.js';

type Schema = { type?: string; pattern?: string; minLength?: number; maxLength?: number; maxItems?: number; enum?: string[]; items?: Schema; properties?: Record<string, Schema> };
interface Doc {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: Schema }>; requestBody?: { content: { 'application/json': { schema: Schema } } } }>>;
}

const doc = JSON.parse(await readFile(OPENAPI_JSON, 'utf8')) as Doc;
const query = (path: string, name: string): Schema => doc.paths[path]!.get!.parameters!.find((p) => p.name === name)!.schema;
const body = (path: string, method = 'post'): Record<string, Schema> => doc.paths[path]![method]!.requestBody!.content['application/json'].schema.properties!;

describe('form limits match the API schema', () => {
  it('evidence search filters', () => {
    for (const name of ['officer', 'unit']) {
      expect(query('/api/v1/evidence', name)).toMatchObject({ maxLength: LABEL.max, pattern: LABEL.pattern.source });
    }
    expect(query('/api/v1/evidence', 'device')).toMatchObject({ maxLength: SERIAL.max, pattern: SERIAL.pattern.source });
    expect(query('/api/v1/evidence', 'type').enum).toEqual([...MEDIA_TYPES]);
    expect(query('/api/v1/evidence', 'flag').enum).toEqual([...FLAG_RULES]);
    expect(query('/api/v1/evidence', 'case').pattern).toBe(UUID.source);
  });

  it('access requests and decisions', () => {
    const create = body('/api/v1/access-requests');
    expect(create.reason).toMatchObject({ minLength: 1, maxLength: ACCESS_REQUEST.reasonMax });
    expect(create.evidenceIds).toMatchObject({ maxItems: ACCESS_REQUEST.itemsMax, items: { pattern: UUID.source } });
    expect(body('/api/v1/access-requests/{id}/approve').note!.maxLength).toBe(ACCESS_REQUEST.noteMax);
    expect(body('/api/v1/access-requests/{id}/deny').note!.maxLength).toBe(ACCESS_REQUEST.noteMax);
  });

  it('sign-in', () => {
    const paths = doc.paths['/api/v1/session'];
    expect(paths, 'POST /api/v1/session is in the OpenAPI document').toBeDefined();
    const signIn = body('/api/v1/session');
    expect(signIn.username!.maxLength).toBe(SIGN_IN.usernameMax);
    expect(signIn.password!.maxLength).toBe(SIGN_IN.passwordMax);
  });
});
