import { Command, CommanderError, Option } from 'commander';
import { ConfigError, CustodyError, UsageError, errorMessage } from '../core/errors.js';
import { commands } from './commands/index.js';
import { EXIT_PROBLEM, EXIT_USAGE } from './context.js';

export function buildProgram(): Command {
  const program = new Command('custody')
    .description('Body-camera ingestion and evidence vault')
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--home <dir>', 'custody home: catalog, default vault and keys (env CUSTODY_HOME)')
    .option('--config <file>', 'configuration file (default <home>/custody.yaml)')
    .option('--json', 'machine-readable output on stdout')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError(false)
    .exitOverride();
  for (const register of commands) register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

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

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return exitCodeFor(e); // commander has printed its message
    process.stderr.write(`custody: ${describeError(e)}\n`);
    return exitCodeFor(e);
  }
}
