import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ROLES } from '../../access/index.js';
import { FLAG_RULES, FLAG_STATES, ROSTER_COLUMNS } from '../../compliance/index.js';
import { RECORDER_STATUSES, UDEV_DEFAULTS } from '../../devices/index.js';
import { HOLD_REASONS } from '../../retention/index.js';
import { buildProgram } from '../program.js';
import { COMMANDS, HELP_LISTS, type CommandSpec } from './index.js';

/** Every command of the table with its path, e.g. `ledger proof`. */
function walk(specs: readonly CommandSpec[], path: string[] = []): Array<{ path: string; spec: CommandSpec }> {
  return specs.flatMap((s) => {
    const here = [...path, s.name.split(' ')[0]!];
    return [{ path: here.join(' '), spec: s }, ...walk(s.subcommands ?? [], here)];
  });
}

describe('the command table (issue 13)', () => {
  it('shows in help the lists the capabilities enforce', () => {
    expect(HELP_LISTS.roles).toEqual(ROLES);
    expect(HELP_LISTS.flagRules).toEqual(FLAG_RULES);
    expect(HELP_LISTS.flagStates).toEqual(FLAG_STATES);
    expect(HELP_LISTS.rosterColumns).toEqual(ROSTER_COLUMNS);
    expect(HELP_LISTS.recorderStatuses).toEqual(RECORDER_STATUSES);
    expect(HELP_LISTS.udevDefaults).toEqual(UDEV_DEFAULTS);
    expect(HELP_LISTS.holdReasons).toEqual(HOLD_REASONS);
  });

  it('gives every command either subcommands or a module that loads to a function', async () => {
    const all = walk(COMMANDS);
    expect(all.length).toBeGreaterThan(40);
    for (const { path, spec } of all) {
      const hasSubs = (spec.subcommands?.length ?? 0) > 0;
      expect(hasSubs !== (spec.load !== undefined), `${path}: exactly one of subcommands and load`).toBe(true);
      if (spec.load) expect(typeof (await spec.load()), path).toBe('function');
    }
  });

  it('builds the program with every command of the table, each action loaded only when it runs', async () => {
    const program = buildProgram();
    const names = (c: Command, prefix: string[] = []): string[] => c.commands.flatMap((s) => [[...prefix, s.name()].join(' '), ...names(s, [...prefix, s.name()])]);
    expect(names(program).sort()).toEqual(walk(COMMANDS).map((c) => c.path).sort());

    // An action runs what its module exports, with what commander parsed.
    let seen: unknown[] = [];
    const p = new Command('t').exitOverride();
    const { registerCommand } = await import('./index.js');
    registerCommand(p, {
      name: 'probe',
      description: 'd',
      arguments: [['<x>', 'x']],
      options: [{ flags: '--n <n>', default: '3' }],
      load: async () => (x: string, opts: { n: string }) => void (seen = [x, opts.n]),
    });
    await p.parseAsync(['probe', 'a', '--n', '5'], { from: 'user' });
    expect(seen).toEqual(['a', '5']);
  });
});
