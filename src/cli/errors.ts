import { CommanderError } from 'commander';
import { ConfigError, CustodyError, UsageError, errorMessage } from '../core/index.js';
import { EXIT_PROBLEM, EXIT_USAGE } from './exit-codes.js';

/** Exit code for an error: 2 for usage and configuration, 1 for everything else. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError || e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
  return EXIT_PROBLEM;
}

/** One clear line on stderr: no stack traces for errors custody understands. */
export function describeError(e: unknown): string {
  if (e instanceof ConfigError && e.problems.length > 1) {
    return `${e.message.split(':')[0]}:\n  - ${e.problems.join('\n  - ')}`;
  }
  if (e instanceof CustodyError) return e.message;
  return `unexpected error: ${errorMessage(e)}`;
}
