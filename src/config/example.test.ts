import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configLeaves } from './validate.js';
import { configSchema } from './schema.js';

const example = readFileSync(new URL('../../config/custody.example.yaml', import.meta.url), 'utf8');

describe('config/custody.example.yaml', () => {
  it('is valid and equal to the defaults', () => {
    const parsed = configSchema.parse(parse(example));
    expect(parsed).toEqual(configSchema.parse({}));
  });

  it('documents every key', () => {
    for (const leaf of configLeaves()) {
      const key = leaf.path[leaf.path.length - 1]!;
      expect(example, `config key ${leaf.path.join('.')}`).toMatch(new RegExp(`\\b${key}:`));
    }
  });
});
