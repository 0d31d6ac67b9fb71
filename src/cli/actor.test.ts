import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cliActor, osAccount } from './actor.js';

describe('CLI actors in the ledger: one format, cli:<os-user> (issue 13)', () => {
  it('names the operating-system account that ran the command', () => {
    expect(osAccount()).toBe(userInfo().username);
    expect(cliActor()).toBe(`cli:${userInfo().username}`);
  });

  it('adds the name given with --by as a last part, after the account', () => {
    expect(cliActor('li', () => 'ops')).toBe('cli:ops:li');
    expect(cliActor(undefined, () => 'ops')).toBe('cli:ops');
    expect(cliActor('', () => 'ops')).toBe('cli:ops');
  });

  it('an account without a name is its uid, still one part', () => {
    expect(cliActor(undefined, () => 'uid1000')).toBe('cli:uid1000');
  });
});
