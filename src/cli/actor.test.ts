import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cliActor, osAccount } from './actor.js';

describe('CLI actors in the ledger: one format, cli:<os-user> (issue 13)', () => {
  it('names the operating-system account that ran the command', () => {
    expect(osAccount()).toBe(userInfo().username);
    expect(cliActor()).toBe(`cli:${userInfo().username}`);
  });

  it('is the account alone: no name typed at the keyboard is added (issue 13)', () => {
    expect(cliActor(() => 'ops')).toBe('cli:ops');
  });

  it('an account without a name is its uid, still one part', () => {
    expect(cliActor(() => 'uid1000')).toBe('cli:uid1000');
  });
});
