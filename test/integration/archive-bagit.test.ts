/**
 * Issue 8: `custody verify-export`'s BagIt validation against the Library of Congress
 * BagIt conformance suite (../shared/testdata/bagit-conformance): every bag under
 * valid/ passes, every bag under invalid/ fails, for versions 0.97 and 1.0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateBag } from '../../src/archive/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SUITE = fileURLToPath(new URL('../../../shared/testdata/bagit-conformance', import.meta.url));

function bags(version: string, kind: string): string[] {
  const dir = join(SUITE, version, kind);
  return readdirSync(dir).sort().map((name) => join(dir, name));
}

describe('BagIt conformance suite (issue 8)', () => {
  it('is present', () => {
    // Fail loudly rather than pass on nothing.
    expect(existsSync(SUITE), `the BagIt conformance suite is missing at ${SUITE}`).toBe(true);
    expect(bags('v0.97', 'valid').length).toBeGreaterThan(5);
    expect(bags('v1.0', 'invalid').length).toBeGreaterThan(2);
  });

  for (const version of ['v0.97', 'v1.0']) {
    for (const kind of ['valid', 'invalid'] as const) {
      const list = existsSync(join(SUITE, version, kind)) ? bags(version, kind) : [];
      for (const bag of list) {
        it(`${version}/${kind}/${bag.split('/').pop()} is ${kind}`, async () => {
          const r = await validateBag(bag);
          if (kind === 'valid') expect(r.problems).toEqual([]);
          else expect(r.problems.length, 'an invalid bag passed').toBeGreaterThan(0);
          expect(r.ok).toBe(kind === 'valid');
        });
      }
    }
  }

  // Not required by the issue, but a verifier must never read outside the bag.
  const linuxOnly = existsSync(join(SUITE, 'v0.97', 'linux-only')) ? bags('v0.97', 'linux-only') : [];
  for (const bag of linuxOnly) {
    it(`v0.97/linux-only/${bag.split('/').pop()} is invalid`, async () => {
      const r = await validateBag(bag);
      expect(r.ok).toBe(false);
    });
  }
});

describe('custody verify-export on plain bags (issue 8)', { timeout: 60_000 }, () => {
  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    // No custody home at all: verification needs the copy alone.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUSTODY_')));
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--home', '/nonexistent/custody-home', ...args], { encoding: 'utf8', env });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('exits 0 on a valid bag and 1 naming each problem on an invalid one', () => {
    const ok = cli('verify-export', join(SUITE, 'v1.0', 'valid', 'basicBag'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Export valid/);

    const bad = cli('--json', 'verify-export', join(SUITE, 'v0.97', 'invalid', 'corrupt-data-file'));
    expect(bad.status).toBe(1);
    const r = JSON.parse(bad.stdout) as { ok: boolean; custody: unknown; problems: Array<{ code: string; path?: string }> };
    expect(r.ok).toBe(false);
    expect(r.custody).toBeNull();
    expect(r.problems.map((p) => p.code)).toContain('PAYLOAD_CHECKSUM_MISMATCH');
    expect(bad.stderr).toMatch(/export does not verify/);
  });
});
