import type { Command } from 'commander';
import { registerSimulate } from './simulate.js';

/** Each command module registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerSimulate,
];
