import { describe, expect, it } from 'vitest';
import { generatePassword, hashPassword, passwordProblems, verifyPassword, verifyNothing } from './passwords.js';

describe('console passwords (issue 15)', () => {
  it('hashes with scrypt and a random salt, and verifies only the same password', async () => {
    const a = await hashPassword('正确的马 battery 9');
    const b = await hashPassword('正确的马 battery 9');
    expect(a).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('battery');
    expect(await verifyPassword('正确的马 battery 9', a)).toBe(true);
    expect(await verifyPassword('正确的马 battery 8', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('never matches a stored value it did not write, or parameters outside sane bounds', async () => {
    expect(await verifyPassword('x', 'plain')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$40$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(44))).toBe(false);
    expect(await verifyNothing('anything')).toBe(false);
  });

  it('normalises Unicode, so the same Chinese password typed by another input method matches', async () => {
    const composed = 'caf\u00e9-密码-2026';
    const decomposed = 'cafe\u0301-密码-2026';
    expect(await verifyPassword(decomposed, await hashPassword(composed))).toBe(true);
  });

  it('names what is wrong with a new password', () => {
    expect(passwordProblems('short', 'alice')).toEqual(['the password must have at least 8 characters']);
    expect(passwordProblems('alice', 'alice')).toContain('the password must not be the user name');
    expect(passwordProblems('aaaaaaaaaa', 'bob')).toEqual(['the password must not repeat one or two characters']);
    expect(passwordProblems('tab\there-is-bad', 'bob')).toEqual(['the password must not contain control characters']);
    expect(passwordProblems('执法记录仪数据管理', 'bob')).toEqual([]);
  });

  it('generates 16-character passwords without look-alike characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[a-km-np-zA-HJ-NP-Z2-9]{16}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});
