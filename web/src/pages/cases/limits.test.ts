/** Issue 19: the 预警, 案件 and 用户 forms check what the API's schema checks (web/src/api/limits.ts). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OPENAPI_JSON } from '../../../../scripts/openapi.js';
import { CASE, FLAG_RESOLUTION, HOLD_REASONS, USER } from '../../api/limits.js';

type Schema = { maxLength?: number; minLength?: number; maxItems?: number; enum?: string[]; anyOf?: Schema[]; items?: Schema; properties?: Record<string, Schema> };
const doc = JSON.parse(await readFile(OPENAPI_JSON, 'utf8')) as { paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: Schema } } } }>> };
const body = (path: string): Record<string, Schema> => doc.paths[path]!.post!.requestBody!.content['application/json'].schema.properties!;
/** A nullable field's string branch. */
const str = (s: Schema): Schema => s.anyOf?.find((x) => x.maxLength !== undefined) ?? s;

describe('form limits of flags, cases and users match the API schema (issue 19)', () => {
  it('resolving a flag', () => {
    expect(body('/api/v1/flags/{id}/resolve').reason).toMatchObject({ minLength: 1, maxLength: FLAG_RESOLUTION.reasonMax });
  });

  it('cases, links and holds', () => {
    const create = body('/api/v1/cases');
    expect(create.number).toMatchObject({ minLength: 1, maxLength: CASE.numberMax });
    expect(create.name).toMatchObject({ minLength: 1, maxLength: CASE.nameMax });
    expect(body('/api/v1/cases/{id}/evidence').evidenceIds!.maxItems).toBe(CASE.linkMax);
    const hold = body('/api/v1/cases/{id}/holds');
    expect(hold.reason!.enum).toEqual([...HOLD_REASONS]);
    expect(hold.text!.maxLength).toBe(CASE.holdTextMax);
    expect(body('/api/v1/cases/{id}/holds/{holdId}/release-request').reason!.maxLength).toBe(CASE.releaseReasonMax);
  });

  it('adding a user', () => {
    const add = body('/api/v1/users');
    expect(add.name!.maxLength).toBe(USER.nameMax);
    expect(str(add.unit!).maxLength).toBe(USER.unitMax);
  });
});
